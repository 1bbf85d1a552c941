"""Round-robin wall-clock timing shared by the benchmark scripts: machine noise hits every candidate alike."""

import time
from collections.abc import Callable

import numpy as np


def interleaved_medians_ms(runners: dict[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Median wall time per runner: one warm-up each, then ``runs`` rounds calling every runner once."""
    for call in runners.values():
        call()
    times: dict[str, list[float]] = {name: [] for name in runners}
    for _ in range(runs):
        for name, call in runners.items():
            start = time.perf_counter()
            call()
            times[name].append((time.perf_counter() - start) * 1000.0)
    return {name: float(np.median(values)) for name, values in times.items()}
