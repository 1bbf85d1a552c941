"""Self-ensemble: average the model's outputs over mirrored copies of its input (geometric test-time
augmentation, as in EDSR+), trading N times the inference time for a little accuracy.

Only flips are used: they keep the tile's shape, so a TensorRT engine built for fixed sizes runs them too
(90-degree rotations would swap height and width).
"""

from collections.abc import Callable

import numpy as np

Infer = Callable[[np.ndarray], np.ndarray]

# Passes -> flipped NCHW axes of each pass: identity, left-right, up-down, both.
FLIPS: dict[int, tuple[tuple[int, ...], ...]] = {
    1: ((),),
    2: ((), (3,)),
    4: ((), (3,), (2,), (2, 3)),
}


def flip_ensemble(infer: Infer, passes: int) -> Infer:
    """``infer`` averaged over ``passes`` (one of FLIPS) flips of its NCHW input; ``infer`` itself for one pass."""
    if passes == 1:
        return infer

    def ensembled(batch: np.ndarray) -> np.ndarray:
        total = np.zeros(batch.shape, dtype=np.float32)
        for axes in FLIPS[passes]:
            flipped = np.ascontiguousarray(np.flip(batch, axes)) if axes else batch
            output = infer(flipped)
            total += np.flip(output, axes) if axes else output
        return total / passes

    return ensembled
