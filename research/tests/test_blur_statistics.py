"""research/benchmarks/blur_statistics.py: the pixel-noise estimate reads added noise and ignores smooth structure."""

import numpy as np

from research.benchmarks import blur_statistics as statistics


def test_pixel_noise_reads_added_noise_and_not_smooth_shading():
    ramp = np.repeat(np.linspace(0.2, 0.8, 128, dtype=np.float32)[None, :, None], 128, axis=0).repeat(3, axis=2)
    noisy = ramp + np.random.default_rng(0).normal(0, 5 / 255, (128, 128, 1)).astype(np.float32)
    assert statistics.pixel_noise(ramp) < 0.05
    assert 4.5 < statistics.pixel_noise(noisy) < 5.5  # the same noise in every channel: grey keeps it
