"""Models by name: the models this package can bundle, and ``resolve_model`` for a name or a path.

``lite`` (the default: the lite network at full, half and quarter size, docs/scale-space.md) and ``lite-1x`` (the
same network at full size only: best on mild camera shake, 1.4x faster) ship in ``runtime/models/``. ``paper`` (the paper's C = 32 network) has a name
but no weights yet: asking for it says so unless its file has been placed beside the lite model.
A name wins over a file of the same name in the current folder; write ``./lite`` for such a file.
"""

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from . import model_file
from .errors import ModelFileError

DEFAULT_MODEL = "lite"


@dataclass(frozen=True)
class BundledModel:
    """A model known by name and the file it ships as."""

    name: str
    file_name: str
    about: str

    def path(self) -> Path:
        """The file in this install; ModelFileError when it does not ship here."""
        if self.name == DEFAULT_MODEL:
            return model_file.bundled_model_path()
        path = Path(str(resources.files("deblur.runtime") / "models" / self.file_name))
        if not path.is_file():
            raise ModelFileError(
                f"model {self.name!r} is not bundled yet (no {self.file_name} in this install); "
                f"use --model {DEFAULT_MODEL} or --model PATH (an ONNX file from deblur-export or a TensorRT engine)"
            )
        return path


BUNDLED_MODELS = {
    model.name: model
    for model in (
        BundledModel(DEFAULT_MODEL, model_file.BUNDLED_MODEL,
                     "the lite network at full, half and quarter size (scale-space): long real-footage blur"),
        BundledModel("lite-1x", "deblur-lite-1x.onnx",
                     "the lite network at full size only: mild camera shake (4-16 px), 1.4x faster"),
        BundledModel("paper", "deblur-paper.onnx", "the paper's C = 32 network"),
    )
}


def resolve_model(model: str | Path | None) -> Path:
    """The model file for a bundled name (``lite``, ``lite-1x``, ``paper``), a path, or None (the default model)."""
    if model is None:
        return BUNDLED_MODELS[DEFAULT_MODEL].path()
    if isinstance(model, str) and model in BUNDLED_MODELS:
        return BUNDLED_MODELS[model].path()
    return model_file.resolve_model_path(Path(model))
