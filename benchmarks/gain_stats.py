"""How far a mean PSNR gain can be trusted when a test set has few photos but several crops of each.

Crops of one photo share its content (textures, edges), so their gains are correlated: the standard
error of a mean gain is taken over the photos' own mean gains, not over the crops. With 6 held-out photos
that error is what decides whether a 0.1 dB difference means anything.
"""

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class GainEstimate:
    """Mean gain over all pairs, its standard error over photos, and each photo's mean gain (dB)."""

    mean: float
    stderr: float
    per_photo: dict[str, float]


def gain_estimate(gains: Sequence[float], photos: Sequence[str]) -> GainEstimate:
    """Summarise per-pair ``gains`` (dB) cut from ``photos`` (one name per pair); stderr is NaN for one photo."""
    if len(gains) != len(photos) or not gains:
        raise ValueError(f"need one photo name per gain, got {len(gains)} gains and {len(photos)} names")
    by_photo: dict[str, list[float]] = defaultdict(list)
    for gain, photo in zip(gains, photos):
        by_photo[photo].append(float(gain))
    per_photo = {photo: float(np.mean(values)) for photo, values in by_photo.items()}
    means = np.array(list(per_photo.values()))
    stderr = float(means.std(ddof=1) / np.sqrt(len(means))) if len(means) > 1 else float("nan")
    return GainEstimate(float(np.mean(gains)), stderr, per_photo)
