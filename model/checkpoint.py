"""Checkpoints: weights in safetensors with the model config as JSON in the file's metadata.

A model checkpoint is one ``.safetensors`` file whose header metadata holds
``{"format": "deblur-checkpoint", "config": <ModelConfig JSON>}``. Loading it never unpickles
anything. The training state for resuming (optimizer, scheduler, RNG, step) is a separate
``torch.save`` file, read back with ``weights_only=True``.
"""

import pickle
import re
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, safe_open, save_file

from deblur.atomic import atomic_write

from .config import ConfigError, ModelConfig
from .scale_space import build_model

CHECKPOINT_FORMAT = "deblur-checkpoint"


class CheckpointError(ValueError):
    """A file that is not a usable deblur checkpoint (wrong kind, truncated, mismatched config)."""


def save_checkpoint(model: torch.nn.Module, path: Path, extra: dict[str, str] | None = None) -> None:
    """Write the model's weights and config to ``path`` atomically."""
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    metadata = {"format": CHECKPOINT_FORMAT, "config": model.config.to_json(), **(extra or {})}
    atomic_write(Path(path), lambda tmp: save_file(state, str(tmp), metadata=metadata))


def read_checkpoint_metadata(path: Path) -> dict[str, str]:
    """Header metadata of a deblur checkpoint; raises CheckpointError for any other file."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint file")
    try:
        with safe_open(str(path), framework="pt") as handle:
            metadata = handle.metadata() or {}
    except (SafetensorError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a safetensors checkpoint ({exc})") from exc
    if metadata.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: safetensors file is not a deblur checkpoint (no format={CHECKPOINT_FORMAT!r})")
    return metadata


def read_checkpoint_config(path: Path) -> ModelConfig:
    """The model config stored in a checkpoint."""
    try:
        return ModelConfig.from_json(read_checkpoint_metadata(path)["config"])
    except (KeyError, ConfigError) as exc:
        raise CheckpointError(f"{path}: bad model config in checkpoint: {exc}") from exc


def load_checkpoint(path: Path, expected: ModelConfig | None = None) -> torch.nn.Module:
    """Rebuild the model from a checkpoint; if ``expected`` is given the stored config must equal it."""
    config = read_checkpoint_config(path)
    if expected is not None and expected != config:
        raise CheckpointError(f"{path}: checkpoint config {config} does not match the expected {expected}")
    model = build_model(config)
    try:
        state = load_file(str(path))
    except (SafetensorError, OSError) as exc:
        raise CheckpointError(f"{path}: cannot read weights ({exc})") from exc
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as exc:
        raise CheckpointError(f"{path}: weights do not fit the config: {exc}") from exc
    return model


def save_training_state(state: dict, path: Path) -> None:
    """Write a resume file (tensors, numbers, strings only) atomically with torch.save."""
    atomic_write(Path(path), lambda tmp: torch.save(state, tmp))


def load_training_state(path: Path) -> dict:
    """Read a resume file without unpickling arbitrary objects (``weights_only=True``)."""
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError as exc:
        raise CheckpointError(f"{path}: no such training-state file") from exc
    except pickle.UnpicklingError as exc:  # torch's message advises weights_only=False: never pass that on
        refused = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(exc))
        what = f" ({refused.group(1)})" if refused else ""
        raise CheckpointError(f"{path}: refused: it holds Python objects{what} besides tensors, numbers and strings, "
                              "which deblur-train never writes and which could run code when loaded; resume only from "
                              "a train_state.pt written by deblur-train") from None
    except (RuntimeError, EOFError, OSError, ValueError) as exc:
        raise CheckpointError(f"{path}: not a readable training-state file ({exc})") from exc

