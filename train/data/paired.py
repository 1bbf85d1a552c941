"""Data set of recorded (blurred, sharp) image file pairs: GoPro, RealBlur, or any blur/ + sharp/ folders."""

import torch

from .augment import NOISE_VARIANCE, center_box, cut, paper_augment, random_box
from .base import SeededPairs, to_tensor
from .images import DataError, image_size, read_image_rgb
from .pair_lists import ImagePair


class PairedImages(SeededPairs):
    """(blurred, sharp) tensors read from file pairs.

    Training: a random crop per (seed, epoch, index) and, with ``augment``, the paper's flips, rotations and
    input noise. Evaluation splits: the centred crop, or the full image with ``crop=None``. ``length``
    sets the items per epoch (training cycles through the pairs; evaluation takes evenly spaced pairs).
    Every pair's sizes are checked from the file headers when the set is built.
    """

    def __init__(self, pairs: list[ImagePair], split: str, crop: int | None = 256, seed: int = 0,
                 augment: bool = False, length: int | None = None, noise_variance: float = NOISE_VARIANCE):
        super().__init__(split, seed)
        if not pairs:
            raise DataError("no image pairs")
        if crop is not None and crop < 1:
            raise DataError(f"crop must be a positive size or None, got {crop}")
        if length is not None and length < 1:
            raise DataError(f"length must be positive, got {length}")
        self.pairs = list(pairs)
        self.crop = crop
        self.augment = augment and split == "train"
        self.noise_variance = noise_variance
        self.length = length or len(self.pairs)
        for pair in self.pairs:
            _check_pair_sizes(pair, crop)

    def __len__(self) -> int:
        return self.length

    def pair_for(self, index: int) -> ImagePair:
        if self.split == "train" or self.length >= len(self.pairs):
            return self.pairs[index % len(self.pairs)]
        return self.pairs[index * len(self.pairs) // self.length]

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        index = self.check_index(index)
        pair = self.pair_for(index)
        blurred, sharp = read_image_rgb(pair.blurred), read_image_rgb(pair.sharp)
        if blurred.shape != sharp.shape:
            raise DataError(f"{pair.blurred} ({blurred.shape[1]}x{blurred.shape[0]}) and {pair.sharp} "
                            f"({sharp.shape[1]}x{sharp.shape[0]}) differ in size")
        rng = self.item_rng(index)
        if self.crop is not None:
            height, width = sharp.shape[:2]
            box = (random_box(rng, height, width, self.crop) if self.split == "train"
                   else center_box(height, width, self.crop))
            blurred, sharp = cut(blurred, box), cut(sharp, box)
        if self.augment:
            blurred, sharp = paper_augment(blurred, sharp, rng, self.noise_variance)
        return to_tensor(blurred), to_tensor(sharp)


def _check_pair_sizes(pair: ImagePair, crop: int | None) -> None:
    blurred_size, sharp_size = image_size(pair.blurred), image_size(pair.sharp)
    if blurred_size != sharp_size:
        raise DataError(f"{pair.blurred} ({blurred_size[1]}x{blurred_size[0]}) and {pair.sharp} "
                        f"({sharp_size[1]}x{sharp_size[0]}) differ in size")
    if crop is not None and min(sharp_size) < crop:
        raise DataError(f"{pair.sharp}: {sharp_size[1]}x{sharp_size[0]} is smaller than the {crop}x{crop} crop")
