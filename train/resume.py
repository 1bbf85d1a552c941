"""Resume policy: which settings may change when a run continues, and the run's saved config.

Bit-exact resume: the batch order depends only on ``(seed, epoch)`` (ShardedBatchSampler) and the
dataset's randomness on ``(seed, epoch, index)``, so a run restarted from ``train_state.pt`` at
step k sees the same batches from step k on and ends with the same weights as an uninterrupted run.
"""

import json
from pathlib import Path

from deblur.model.config import ConfigError

from .recipes import TrainConfig
from .run_paths import RunPaths

# Settings that may change when resuming: they do not change which batches are seen or the weights.
RESUMABLE_CHANGES = {
    "max_steps", "max_minutes", "epochs", "workers", "data", "val_every", "checkpoint_every", "log_every",
    "output_init_scale",  # only shapes the step-0 weights; a resumed run keeps the one it started with
}


def check_resumable(saved: TrainConfig, requested: TrainConfig) -> None:
    """Refuse to resume with settings that would change the optimisation."""
    saved_d, requested_d = saved.to_dict(), requested.to_dict()
    changed = [k for k in saved_d if saved_d[k] != requested_d[k] and k not in RESUMABLE_CHANGES]
    if changed:
        details = ", ".join(f"{k} ({saved_d[k]!r} -> {requested_d[k]!r})" for k in changed)
        allowed = ", ".join(sorted(RESUMABLE_CHANGES))
        raise ConfigError(f"cannot resume with changed settings: {details}; only {allowed} may change")


def read_run_config(run_dir: Path) -> TrainConfig:
    """The TrainConfig a run directory was started with (its ``config.json``)."""
    path = RunPaths(Path(run_dir)).config
    if not path.is_file():
        raise ConfigError(f"{path}: not found; is {run_dir} a training run directory?")
    try:
        return TrainConfig.from_dict(json.loads(path.read_text()))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from exc
