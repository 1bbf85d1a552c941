"""Training and evaluation data: synthetic camera-shake pairs, GoPro, RealBlur and plain pair folders.

Importing this package and its numpy/OpenCV modules (``blur_synthesis``, ``kernels``, ``degrade``,
``images``, ``augment``) does not import torch; the torch data sets load on first use of their names.
"""

import importlib

from .augment import paper_augment
from .blur_synthesis import BlurSettings, synthesize_blur, synthesize_blur_crop, synthesize_pair_crop
from .degrade import linear_to_srgb, srgb_to_linear
from .images import DataError, list_images, read_image_rgb
from .kernels import blur_with_kernel, uniform_motion_kernel

_TORCH_EXPORTS = {
    "build_dataset": ".build",
    "KINDS": ".build",
    "PairedImages": ".paired",
    "SyntheticPairs": ".synthetic",
}

__all__ = [
    "BlurSettings", "DataError", "blur_with_kernel", "linear_to_srgb", "list_images", "paper_augment",
    "read_image_rgb", "srgb_to_linear", "synthesize_blur", "synthesize_blur_crop", "synthesize_pair_crop",
    "uniform_motion_kernel",
    *_TORCH_EXPORTS,
]


def __getattr__(name: str):
    if name in _TORCH_EXPORTS:
        return getattr(importlib.import_module(_TORCH_EXPORTS[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
