"""benchmarks/gain_stats.py: the standard error of a mean gain is taken over photos, not over their crops."""

import math

import numpy as np
import pytest

from benchmark_scripts import load_benchmark

gain_estimate = load_benchmark("gain_stats").gain_estimate


def test_standard_error_is_over_photo_means_not_crops():
    photos = ["a", "b", "c"] * 4
    gains = [1.0, 2.0, 3.0] * 4  # every crop of a photo gains the same: crops add no information
    estimate = gain_estimate(gains, photos)
    assert estimate.mean == pytest.approx(2.0)
    assert estimate.per_photo == {"a": 1.0, "b": 2.0, "c": 3.0}
    assert estimate.stderr == pytest.approx(np.std([1.0, 2.0, 3.0], ddof=1) / math.sqrt(3))


def test_one_photo_has_no_standard_error_and_mismatched_input_is_refused():
    assert math.isnan(gain_estimate([1.0, 3.0], ["a", "a"]).stderr)
    with pytest.raises(ValueError, match="one photo name per gain"):
        gain_estimate([1.0, 2.0], ["a"])
    with pytest.raises(ValueError, match="one photo name per gain"):
        gain_estimate([], [])
