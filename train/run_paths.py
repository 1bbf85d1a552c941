"""The layout of a training run directory::

    config.json                      the resolved TrainConfig
    metrics.jsonl, metrics.png       the log (see run_log.py) and its plot
    checkpoints/last.safetensors     latest weights (deblur checkpoint, loadable by deblur-eval/export)
    checkpoints/best.safetensors     weights with the best synthetic validation PSNR so far
    checkpoints/train_state.pt       everything needed to resume: weights, optimizer, scheduler,
                                     grad scaler, weight average, step / epoch / batch position, RNG states
"""

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class RunPaths:
    """Where each file of the run in ``root`` lives."""

    root: Path

    @property
    def config(self) -> Path:
        return self.root / "config.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def plot(self) -> Path:
        return self.root / "metrics.png"

    @property
    def last(self) -> Path:
        return self.root / "checkpoints" / "last.safetensors"

    @property
    def best(self) -> Path:
        return self.root / "checkpoints" / "best.safetensors"

    @property
    def state(self) -> Path:
        return self.root / "checkpoints" / "train_state.pt"
