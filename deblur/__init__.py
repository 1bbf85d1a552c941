"""deblur: the improved U-Net of Lian & Wang (2023) and an edge inference toolkit around it.

This folder owns the torch-free contract between export and runtime (``deblur.contract``) and small shared
helpers (atomic writes, metrics, output guards, the coarse pass, console scripts); it imports no other part of
deblur (the runtime only when ``Deblurrer`` is first used). Subpackages: ``deblur.model`` (the network, its config and
checkpoints; torch), ``deblur.train`` (data, losses, loop; torch), ``deblur.export`` (ONNX / TensorRT),
``deblur.calibration`` (INT8 calibration data), ``deblur.runtime`` (torch-free inference CLI),
``deblur.demo`` (deblur-demo). ``from deblur import Deblurrer``: the Python API.
"""

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from deblur.runtime.api import Deblurrer

__version__ = "0.1.0"
DISTRIBUTION = "deblur-edge"  # the name on the package index; "deblur" there is another project
__all__ = ["DISTRIBUTION", "Deblurrer", "__version__"]


def __getattr__(name: str):
    """``deblur.Deblurrer`` imports the runtime on first use, so ``import deblur`` stays cheap."""
    if name == "Deblurrer":
        from deblur.runtime.api import Deblurrer

        return Deblurrer
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
