"""Peak memory of ``deblur-run`` against ``--max-memory-mb``: one image per size and budget, as a Markdown table.

Each run is a separate ``deblur-run`` process on a generated JPEG (smooth colour fields plus noise); its peak
resident set size is the kernel's account of the children of a minimal wrapper process: a child started with
vfork inherits its parent's high-water mark until it execs, so measured from this process (or from pytest)
the peak of whatever the parent once held would be reported for every run. The fixed cost is the
peak of the same command on a 64x64 image: Python, OpenCV, ONNX Runtime and the model. The runtime keeps
its promise where ``peak RSS <= budget + fixed cost``.

Example (numbers in docs/runtime.md; 8000x6000 takes ~2 minutes per budget on 2 cores):
    python -m benchmarks.peak_rss --sizes 1920x1080,3840x2160,8000x6000 --budgets 512,2048 --threads 2
"""

import argparse
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import cv2
import numpy as np

from deblur.runtime.bench import machine_description, parse_sizes

FIXED_COST_SIZE = (64, 64)


def write_test_image(path: Path, width: int, height: int, seed: int = 0) -> Path:
    """A JPEG of smooth colour fields plus noise (content the network really processes)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32) / max(height, width)
    fields = [np.sin(7 * x + c) * np.cos(5 * y - c) for c in range(3)]
    image = np.stack(fields, axis=-1) * 90 + 128 + rng.normal(0, 8, (height, width, 3)).astype(np.float32)
    if not cv2.imwrite(str(path), np.clip(image, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, 90]):
        raise OSError(f"{path}: cannot write the test image")
    return path


# Runs the command given as arguments and prints its exit status, then its peak RSS in KiB; Python without
# numpy or OpenCV, so that its own high-water mark stays below any measured child's.
WRAPPER = (
    "import os, subprocess, sys; pid = subprocess.Popen(sys.argv[1:], stdout=subprocess.DEVNULL).pid; "
    "_, status, usage = os.wait4(pid, 0); print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)"
)


def peak_rss_mb(command: list[str]) -> tuple[int, str]:
    """(peak RSS in MiB, stderr) of ``command``, run under a minimal wrapper; RuntimeError when it fails."""
    done = subprocess.run([sys.executable, "-S", "-c", WRAPPER, *command], capture_output=True, text=True)
    code, kib = done.stdout.split() if done.returncode == 0 else (str(done.returncode), "0")
    if code != "0":
        raise RuntimeError(f"{' '.join(command)} exited {code}: {done.stderr.strip()[-300:]}")
    return int(kib) // 1024, done.stderr


def tile_of(summary: str) -> str:
    """``tile 520`` or ``whole frame`` from deblur-run's summary line."""
    found = re.search(r"\| (tile \d+|whole frames) \|", summary)
    return found.group(1).replace("frames", "frame") if found else "?"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=parse_sizes, default=parse_sizes("1920x1080,3840x2160,8000x6000"))
    parser.add_argument("--budgets", default="512,2048", help="--max-memory-mb values, comma-separated")
    parser.add_argument("--model", default="lite", help="bundled model name or ONNX path")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    budgets = [int(value) for value in args.budgets.split(",")]
    run = [str(Path(sys.executable).parent / "deblur-run"), "--model", args.model, "--threads", str(args.threads)]

    print(machine_description())
    with tempfile.TemporaryDirectory(prefix="deblur-peak-rss-") as scratch:
        folder = Path(scratch)
        small = write_test_image(folder / "small.jpg", *FIXED_COST_SIZE)
        fixed, _ = peak_rss_mb([*run, str(small), "-o", str(folder / "small_out.jpg")])
        print(f"model {args.model}, {args.threads} threads; fixed cost (64x64 image) {fixed} MiB\n")
        print("| size | --max-memory-mb | tile | peak RSS MiB | budget + fixed | within |")
        print("| --- | ---: | --- | ---: | ---: | --- |")
        for width, height in args.sizes:
            image = write_test_image(folder / f"{width}x{height}.jpg", width, height)
            for budget in budgets:
                output = folder / f"{width}x{height}_{budget}.jpg"
                peak, stderr = peak_rss_mb([*run, str(image), "-o", str(output), "--max-memory-mb", str(budget)])
                output.unlink()
                limit = budget + fixed
                print(f"| {width}x{height} | {budget} | {tile_of(stderr)} | {peak} | {limit} | "
                      f"{'yes' if peak <= limit else '**no**'} |", flush=True)


if __name__ == "__main__":
    main()
