"""Checkpoint / model -> single-file fp32 ONNX with dynamic batch, height and width and deblur metadata."""

from pathlib import Path

import onnx
import torch

from deblur import __version__
from deblur.atomic import atomic_write
from deblur.model_metadata import FORMAT, INPUT_NAME, OUTPUT_NAME
from deblur.train.config import SIZE_MULTIPLE
from deblur.train.model import DeblurUNet

DEFAULT_OPSET = 17
DYNAMIC_AXES = {name: {0: "batch", 2: "height", 3: "width"} for name in (INPUT_NAME, OUTPUT_NAME)}


def model_metadata(model: DeblurUNet, training_data: str, precision: str = "fp32") -> dict[str, str]:
    """The ``metadata_props`` every exported deblur ONNX carries (see deblur.model_metadata.KEYS)."""
    config = model.config
    return {
        "deblur.format": FORMAT,
        "deblur.version": __version__,
        "deblur.config": config.to_json(),
        "deblur.variant": config.variant,
        "deblur.ablation": config.ablation,
        "deblur.size_multiple": str(SIZE_MULTIPLE),
        "deblur.value_range": "0,1",
        "deblur.color_order": "RGB",
        "deblur.layout": "NCHW",
        "deblur.precision": precision,
        "deblur.io_dtype": "float32",
        "deblur.training_data": training_data,
    }


def set_metadata(proto: onnx.ModelProto, metadata: dict[str, str]) -> None:
    """Replace the model's ``metadata_props`` with ``metadata``."""
    del proto.metadata_props[:]
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)


def export_onnx(
    model: DeblurUNet,
    path: Path,
    opset: int = DEFAULT_OPSET,
    training_data: str = "unspecified",
    sample_size: tuple[int, int] = (64, 64),
) -> onnx.ModelProto:
    """Trace ``model`` to ONNX at ``path`` (atomic write) and return the checked ModelProto."""
    model = model.eval().float()
    sample = torch.rand(1, 3, *sample_size)
    tmp_dir = Path(path).parent
    tmp_dir.mkdir(parents=True, exist_ok=True)

    def write(tmp: Path) -> None:
        torch.onnx.export(
            model,
            (sample,),
            str(tmp),
            dynamo=False,
            opset_version=opset,
            input_names=[INPUT_NAME],
            output_names=[OUTPUT_NAME],
            dynamic_axes=DYNAMIC_AXES,
        )
        proto = onnx.load(str(tmp))
        set_metadata(proto, model_metadata(model, training_data))
        onnx.checker.check_model(proto, full_check=True)
        onnx.save(proto, str(tmp))

    atomic_write(Path(path), write)
    return onnx.load(str(path))
