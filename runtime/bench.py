"""Inference latency per backend and frame size: p50 / p95 milliseconds and frames per second.

Each run times one ``backend.infer`` call on a random frame padded to the model's size multiple
(what the runtime feeds the backend for whole frames); warm-up runs are excluded.
"""

import importlib
import os
import platform
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from .backends.base import Backend


@dataclass(frozen=True)
class BenchResult:
    model: str  # file name, variant, width and precision
    backend: str
    provider: str
    width: int
    height: int
    runs: int
    p50_ms: float
    p95_ms: float
    fps: float
    parallel_frames: int = 1  # sessions that ran frames at the same time for parallel_fps
    parallel_fps: float | None = None  # frames per second of those sessions together (None: not measured)

    def to_dict(self) -> dict:
        return asdict(self)


def parse_sizes(text: str) -> list[tuple[int, int]]:
    """``"640x360,1280x720"`` -> ``[(640, 360), (1280, 720)]`` (width x height)."""
    sizes = []
    for item in text.split(","):
        width, sep, height = item.strip().lower().partition("x")
        if not sep or not width.isdigit() or not height.isdigit() or int(width) < 1 or int(height) < 1:
            raise ValueError(f"size {item.strip()!r} is not WIDTHxHEIGHT")
        sizes.append((int(width), int(height)))
    return sizes


def random_frame(backend: Backend, width: int, height: int, seed: int) -> np.ndarray:
    """A random (1, 3, H, W) float32 frame padded to the model's size multiple, as the runtime feeds whole frames."""
    multiple = backend.model.size_multiple
    padded = (height + -height % multiple, width + -width % multiple)
    return np.random.default_rng(seed).random((1, 3, *padded), dtype=np.float32)


def benchmark(backend: Backend, width: int, height: int, warmup: int = 2, runs: int = 10, seed: int = 0) -> BenchResult:
    """Time ``runs`` inferences of one ``width`` x ``height`` frame after ``warmup`` untimed ones."""
    frame = random_frame(backend, width, height, seed)
    for _ in range(warmup):
        backend.infer(frame)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        backend.infer(frame)
        times.append(time.perf_counter() - start)
    ms = np.array(times) * 1000
    info = backend.model
    label = f"{info.path.name} ({info.variant}, C={info.width}, {info.precision})"
    return BenchResult(label, backend.name, backend.provider, width, height, runs,
                       float(np.percentile(ms, 50)), float(np.percentile(ms, 95)), float(runs / sum(times)))


def parallel_fps(backends: list[Backend], width: int, height: int, runs: int, seed: int = 0) -> float:
    """Frames per second of ``backends`` (e.g. ``Backend.for_parallel_frames``) each running ``runs`` inferences of
    one frame at the same time, after one untimed inference each (``deblur-run``'s frames in parallel)."""
    frame = random_frame(backends[0], width, height, seed)
    with ThreadPoolExecutor(len(backends)) as pool:
        for warmup in [pool.submit(backend.infer, frame) for backend in backends]:
            warmup.result()
        start = time.perf_counter()
        for done in [pool.submit(lambda b=backend: [b.infer(frame) for _ in range(runs)]) for backend in backends]:
            done.result()
        return len(backends) * runs / (time.perf_counter() - start)


def _cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    lines = cpuinfo.read_text().splitlines() if cpuinfo.is_file() else []
    for line in lines:
        if line.startswith(("model name", "Model", "Hardware")):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _module_version(name: str) -> str | None:
    try:
        return importlib.import_module(name).__version__
    except ImportError:
        return None


def machine_description() -> str:
    """One line: CPU model, cores, OS, Python and the ONNX Runtime / TensorRT versions found."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    parts = [f"CPU {_cpu_model()} ({cores} cores usable)", f"{platform.system()} {platform.release()}",
             f"Python {platform.python_version()}"]
    for module in ("onnxruntime", "tensorrt"):
        version = _module_version(module)
        parts.append(f"{module} {version}" if version else f"no {module}")
    return "; ".join(parts)


def markdown_table(results: list[BenchResult]) -> str:
    """Results as a Markdown table; a column for the frames-in-parallel fps where any result measured it."""
    parallel = any(r.parallel_fps is not None for r in results)
    rows = ["| model | backend | provider | size | p50 ms | p95 ms | fps |" + (" fps, frames in parallel |" if parallel else ""),
            "|" + " --- |" * (8 if parallel else 7)]
    for r in results:
        row = f"| {r.model} | {r.backend} | {r.provider} | {r.width}x{r.height} | {r.p50_ms:.1f} | {r.p95_ms:.1f} | {r.fps:.2f} |"
        if parallel:
            row += f" {r.parallel_fps:.2f} ({r.parallel_frames} at a time) |" if r.parallel_fps is not None else " – |"
        rows.append(row)
    return "\n".join(rows)
