"""``build_dataset``: one entry point for every kind of training / evaluation data."""

import logging
from pathlib import Path

from torch.utils.data import Dataset

from .augment import NOISE_VARIANCE
from .base import SPLITS
from .blur_synthesis import BlurSettings
from .images import DataError, list_images
from .pair_lists import folder_pairs, gopro_pairs, realblur_pairs
from .paired import PairedImages
from .photos import DEFAULT_MAX_SIDE, DEFAULT_MEMORY_LIMIT, PhotoStore, split_photos
from .synthetic import SyntheticPairs

log = logging.getLogger(__name__)

KINDS = ("gopro", "realblur", "synthetic", "pairs")


def build_dataset(kind: str, root: Path | str, split: str, crop: int | None = 256, seed: int = 0,
                  augment: bool = False, length: int | None = None, blur: BlurSettings | None = None, *,
                  min_texture: float = 0.0, noise_variance: float = NOISE_VARIANCE, realblur_subset: str = "J",
                  photo_scale: tuple[float, float] | None = None, photo_max_side: int | None = DEFAULT_MAX_SIDE,
                  photo_memory_limit: int = DEFAULT_MEMORY_LIMIT, alternate_blur: BlurSettings | None = None,
                  alternate_share: float = 0.0) -> Dataset:
    """Data set of ``(blurred, sharp)`` float32 (3, H, W) RGB tensors in [0, 1].

    kind "synthetic": ``root`` holds sharp photos, split by file-name hash into train / val (~10 %);
        pairs are generated on the fly with ``blur`` settings; photos are downscaled to ``photo_max_side``;
        crops prefer at least ``min_texture`` (mean gradient magnitude, see ``augment.texture``); training
        photos are first shrunk by a random factor in ``photo_scale`` (low, high) when given; a share
        ``alternate_share`` of the pairs is blurred with ``alternate_blur`` instead.
    kind "gopro" / "realblur": the public data sets; they have no val split, so "val" reads "test".
    kind "pairs": ``root/blur`` and ``root/sharp`` with identical names (the split only picks random vs
        centred crops).
    ``crop`` is the square crop side (random for train, centred or seeded otherwise) or None for whole
    images. ``augment`` (train only) adds the paper's flips, rotations and input noise of ``noise_variance``
    (0: none; synthetic blur models sensor noise itself). Call
    ``dataset.set_epoch(epoch)`` before each training epoch.
    """
    if kind not in KINDS:
        raise DataError(f"unknown data kind {kind!r}; expected one of {KINDS}")
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; expected one of {SPLITS}")
    if blur is not None and kind != "synthetic":
        log.warning("blur settings apply to synthetic data only; ignored for %s", kind)
    for name, value in (("photo_scale", photo_scale), ("alternate_blur", alternate_blur)):
        if value is not None and kind != "synthetic":
            log.warning("%s applies to synthetic data only; ignored for %s", name, kind)
    if kind == "synthetic":
        train, val = split_photos(list_images(root))
        store = PhotoStore(train if split == "train" else val, photo_max_side, crop or 1, photo_memory_limit)
        return SyntheticPairs(store, split, crop, seed, augment, length, blur, min_texture, noise_variance,
                              photo_scale, alternate_blur, alternate_share)
    file_split = "test" if split == "val" and kind != "pairs" else split
    if file_split != split:
        log.info("%s has no val split: using its test split", kind)
    if kind == "gopro":
        pairs = gopro_pairs(root, file_split)
    elif kind == "realblur":
        pairs = realblur_pairs(root, file_split, realblur_subset)
    else:
        pairs = folder_pairs(root)
    return PairedImages(pairs, split, crop, seed, augment, length, noise_variance)
