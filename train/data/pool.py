"""A pre-synthesised pool of training pairs (torch-free): synthesis spread over every CPU core once, so that a
fast GPU then trains at model speed from a ``pairs`` folder instead of waiting on the generator.

``write_pool`` makes the pairs of a synthetic training split (its crops, blur, photo scale and texture
threshold; no flips, rotations or input noise: the ``pairs`` training set adds those) and stores them as
lossless 8-bit PNGs, ``POOL/blur/NNNNNNN.png`` and ``POOL/sharp/NNNNNNN.png``. Pair ``i`` is item ``i`` of
epoch 0 of the split, so a pool is fixed by (seed, count) whatever the worker count, and a pool that was
cut short is completed by running the same command again. ``shrink`` F stores both images area-averaged over
F x F blocks: pairs for a network that runs at 1/F of the frame size (a coarse pass, docs/data.md), whose blur
was still made, degraded and compressed at full size, as a real frame's is before it is shrunk.
"""

import multiprocessing
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from deblur.atomic import atomic_write

from .images import DataError
from .photo_pack import to_uint8

POOL_SIDES = ("blur", "sharp")


@dataclass(frozen=True)
class PoolResult:
    pairs: int
    written: int
    seconds: float


def pair_name(index: int) -> str:
    return f"{index:07d}.png"


def write_pool(pairs, out: Path, count: int, workers: int, progress=None, shrink: int = 1) -> PoolResult:
    """Write items 0..count-1 of ``pairs`` (a synthetic split) to ``out``, shrunk by ``shrink``; finished pairs
    are kept.

    ``workers`` forked processes share the decoded photos. ``progress(done)`` is called as pairs finish.
    """
    if count < 1 or workers < 1 or shrink < 1:
        raise DataError(f"a pool needs count >= 1, workers >= 1 and shrink >= 1, got {count}, {workers} and {shrink}")
    out = Path(out)
    for side in POOL_SIDES:
        (out / side).mkdir(parents=True, exist_ok=True)
    todo = [index for index in range(count)
            if not all((out / side / pair_name(index)).is_file() for side in POOL_SIDES)]
    start = time.monotonic()
    if workers == 1:
        finished = (_PairWriter(pairs, out, shrink)(index) for index in todo)
        _report(finished, progress)
    else:
        # fork: the workers inherit the decoded photos instead of receiving a pickled copy
        context = multiprocessing.get_context("fork")
        with context.Pool(workers, initializer=_start_worker, initargs=(pairs, out, shrink)) as pool:
            _report(pool.imap_unordered(_write_in_worker, todo, chunksize=4), progress)
    return PoolResult(count, len(todo), time.monotonic() - start)


def _report(finished, progress) -> None:
    for done, _ in enumerate(finished, 1):
        if progress is not None:
            progress(done)


class _PairWriter:
    """Synthesises pair ``index``, shrinks it by ``shrink`` and writes both images atomically."""

    def __init__(self, pairs, out: Path, shrink: int = 1):
        self.pairs, self.out, self.shrink = pairs, out, shrink

    def __call__(self, index: int) -> int:
        for side, image in zip(POOL_SIDES, self.pairs.numpy_item(index)):
            if self.shrink > 1:
                height, width = image.shape[:2]
                image = cv2.resize(image, (width // self.shrink, height // self.shrink), interpolation=cv2.INTER_AREA)
            ok, encoded = cv2.imencode(".png", to_uint8(np.clip(image, 0, 1))[..., ::-1])
            if not ok:
                raise DataError(f"OpenCV could not encode pair {index} as PNG")
            atomic_write(self.out / side / pair_name(index), lambda tmp, data=encoded: tmp.write_bytes(data.tobytes()))
        return index


_worker_writer: _PairWriter | None = None  # one per pool worker process, set by its initializer


def _start_worker(pairs, out: Path, shrink: int) -> None:
    global _worker_writer
    _worker_writer = _PairWriter(pairs, out, shrink)


def _write_in_worker(index: int) -> int:
    return _worker_writer(index)
