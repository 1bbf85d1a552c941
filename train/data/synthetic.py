"""Data set of synthetic (blurred, sharp) pairs generated on the fly from a folder of sharp photos."""

import cv2
import numpy as np
import torch

from .augment import NOISE_VARIANCE, paper_augment, textured_box
from .base import SeededPairs, to_tensor
from .blur_synthesis import BlurSettings, synthesize_pair_crop
from .images import DataError
from .photos import PhotoStore

TRAIN_PAIRS_PER_PHOTO = 8
EVAL_LENGTH = 32


class SyntheticPairs(SeededPairs):
    """Item ``index`` blurs a crop of photo ``index mod N`` with its own generator (see ``SeededPairs``).

    Crop position, camera path, noise and augmentation all come from that generator, so evaluation items
    are bit-identical run to run and for any worker count, and training items are fixed by (seed, epoch,
    index). ``crop=None`` blurs whole photos. ``min_texture`` > 0 prefers crops with at least that much
    texture (``augment.texture``), skipping flat sky and defocused background. ``photo_scale = (low, high)``
    (training only) first shrinks the photo by a factor drawn uniformly from that range (area averaging), so
    the same photos also show their content smaller and denser. ``alternate_blur`` with ``alternate_share``
    blurs that share of the items with a second set of settings instead (e.g. clean small shake beside
    real-footage blur, so a fine-tune keeps what it could do); the choice is one more draw of the item's
    generator, made only when the share is above 0. Default length: 8 pairs per photo for training, 32
    otherwise.
    """

    def __init__(self, photos: PhotoStore, split: str, crop: int | None = 256, seed: int = 0,
                 augment: bool = False, length: int | None = None, blur: BlurSettings | None = None,
                 min_texture: float = 0.0, noise_variance: float = NOISE_VARIANCE,
                 photo_scale: tuple[float, float] | None = None, alternate_blur: BlurSettings | None = None,
                 alternate_share: float = 0.0):
        super().__init__(split, seed)
        check_alternate_share(alternate_share, alternate_blur)
        if crop is not None and crop < 1:
            raise DataError(f"crop must be a positive size or None, got {crop}")
        check_photo_scale(photo_scale)
        if length is not None and length < 1:
            raise DataError(f"length must be positive, got {length}")
        self.photos = photos
        self.crop = crop
        self.augment = augment and split == "train"
        self.blur = blur or BlurSettings()
        self.min_texture = min_texture
        self.noise_variance = noise_variance
        self.photo_scale = photo_scale if split == "train" else None
        self.alternate_blur = alternate_blur
        self.alternate_share = alternate_share
        default_length = len(photos) * TRAIN_PAIRS_PER_PHOTO if split == "train" else EVAL_LENGTH
        self.length = length or default_length

    def __len__(self) -> int:
        return self.length

    def photo_position(self, index: int) -> int:
        """Which photo of the store item ``index`` is cut from: items cycle through the photos."""
        return index % len(self.photos)

    def numpy_item(self, index: int):
        """Item ``index`` as HxWx3 float32 numpy arrays (blurred, sharp)."""
        index = self.check_index(index)
        rng = self.item_rng(index)
        photo = self.photos[self.photo_position(index)]
        if self.photo_scale is not None:
            photo = shrink(photo, float(rng.uniform(*self.photo_scale)), self.crop or 1)
        height, width = photo.shape[:2]
        box = (0, 0, height, width) if self.crop is None else textured_box(rng, photo, self.crop, self.min_texture)
        blurred, sharp = synthesize_pair_crop(photo, box, rng, self.item_blur(rng))
        if self.augment:
            blurred, sharp = paper_augment(blurred, sharp, rng, self.noise_variance)
        return blurred, sharp

    def item_blur(self, rng: np.random.Generator) -> BlurSettings:
        """The settings one item is blurred with: ``alternate_blur`` for a share ``alternate_share``."""
        if self.alternate_share > 0 and rng.random() < self.alternate_share:
            return self.alternate_blur
        return self.blur

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        blurred, sharp = self.numpy_item(index)
        return to_tensor(blurred), to_tensor(sharp)


def check_photo_scale(photo_scale: tuple[float, float] | None) -> None:
    """Raise DataError unless ``photo_scale`` is None or ``(low, high)`` with 0 < low <= high <= 1."""
    if photo_scale is None:
        return
    if len(photo_scale) != 2 or not 0 < photo_scale[0] <= photo_scale[1] <= 1:
        raise DataError(f"photo_scale must be (low, high) with 0 < low <= high <= 1, got {photo_scale}")


def check_alternate_share(share: float, alternate_blur) -> None:
    """Raise DataError unless 0 <= ``share`` <= 1 and a share above 0 has ``alternate_blur`` settings."""
    if not 0 <= share <= 1 or (share > 0 and alternate_blur is None):
        raise DataError(f"alternate_share must lie in [0, 1], and above 0 needs alternate blur settings, got {share}")


def shrink(photo: np.ndarray, factor: float, min_side: int) -> np.ndarray:
    """``photo`` scaled by ``factor`` (area averaging), but never below ``min_side`` on its shorter side."""
    factor = max(factor, min_side / min(photo.shape[:2]))
    if factor >= 1:
        return photo
    size = (max(round(photo.shape[1] * factor), min_side), max(round(photo.shape[0] * factor), min_side))
    return cv2.resize(photo, size, interpolation=cv2.INTER_AREA)
