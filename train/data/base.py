"""What every deblur data set shares: per-item random generators keyed by (seed, split, epoch, index)."""

import numpy as np
import torch
from torch.utils.data import Dataset

from .images import DataError

SPLITS = ("train", "val", "test")
_SPLIT_TAG = {"train": 1, "val": 2, "test": 3}


def to_tensor(image: np.ndarray) -> torch.Tensor:
    """HxWx3 float array to a contiguous (3, H, W) float32 tensor."""
    return torch.from_numpy(np.ascontiguousarray(image.transpose(2, 0, 1), dtype=np.float32))


class SeededPairs(Dataset):
    """Base of the pair data sets: item ``index`` draws all its randomness from its own generator.

    Training items depend on (seed, epoch, index), evaluation items on (seed, split, index) only, so the
    result never depends on worker count or order, and resuming at an epoch reproduces it exactly.
    The epoch lives in shared memory, so ``set_epoch`` also reaches persistent DataLoader workers.
    """

    def __init__(self, split: str, seed: int):
        if split not in SPLITS:
            raise DataError(f"unknown split {split!r}; expected one of {SPLITS}")
        if seed < 0:
            raise DataError(f"seed must be >= 0, got {seed}")
        self.split = split
        self.seed = int(seed)
        self._epoch = torch.zeros((), dtype=torch.int64).share_memory_()

    @property
    def epoch(self) -> int:
        return int(self._epoch)

    def set_epoch(self, epoch: int) -> None:
        """Select the epoch whose random crops and augmentations training items use (call before each epoch)."""
        if epoch < 0:
            raise DataError(f"epoch must be >= 0, got {epoch}")
        self._epoch.fill_(int(epoch))

    def item_rng(self, index: int) -> np.random.Generator:
        """The generator of item ``index``: (seed, split, epoch, index) for training, no epoch otherwise."""
        if self.split == "train":
            return np.random.default_rng([self.seed, _SPLIT_TAG["train"], self.epoch, index])
        return np.random.default_rng([self.seed, _SPLIT_TAG[self.split], index])

    def check_index(self, index: int) -> int:
        if not -len(self) <= index < len(self):
            raise IndexError(f"index {index} out of range for {len(self)} items")
        return index % len(self)
