"""Cost of on-the-fly synthetic pairs (single process, one OpenCV/torch thread), printed as a Markdown table.

    .venv/bin/python benchmarks/data_throughput.py --photos ../shared/data/photos --count 200
"""

import argparse
import time

import cv2
import numpy as np
import torch

from deblur.train.data import BlurSettings, build_dataset


def _timed(function, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Wall-clock and CPU milliseconds of ``function(index)`` for each index."""
    wall, cpu = [], []
    for index in range(count):
        start_wall, start_cpu = time.perf_counter(), time.process_time()
        function(index)
        wall.append(time.perf_counter() - start_wall)
        cpu.append(time.process_time() - start_cpu)
    return np.array(wall) * 1e3, np.array(cpu) * 1e3


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", required=True, help="folder of sharp photos")
    parser.add_argument("--count", type=int, default=200, help="items timed per row")
    parser.add_argument("--crop", type=int, default=256)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    torch.set_num_threads(1)

    start = time.perf_counter()
    train = build_dataset("synthetic", args.photos, "train", crop=args.crop, augment=True)
    build_s = time.perf_counter() - start
    val = build_dataset("synthetic", args.photos, "val", crop=args.crop)
    no_object = build_dataset("synthetic", args.photos, "train", crop=args.crop,
                              blur=BlurSettings(moving_object_probability=0))
    always_object = build_dataset("synthetic", args.photos, "train", crop=args.crop,
                                  blur=BlurSettings(moving_object_probability=1))
    rows = [
        (f"train pair {args.crop} (default settings, augment)", _timed(lambda i: train[i], args.count)),
        (f"val pair {args.crop} (default settings)", _timed(lambda i: val[i % len(val)], args.count)),
        (f"train pair {args.crop}, no moving region", _timed(lambda i: no_object[i], args.count)),
        (f"train pair {args.crop}, always a moving region", _timed(lambda i: always_object[i], args.count)),
    ]
    print(f"photos: {len(train.photos)} train / {len(val.photos)} val, decoded and downscaled in {build_s:.1f} s, "
          f"{train.photos.memory_bytes / 2**20:.0f} MB kept in memory (train)")
    print("CPU ms is the process's own CPU time: close to the wall time of an idle core.")
    print(f"| {'item':<48} | {'CPU ms':>6} | {'wall ms':>7} | {'wall p95':>8} | {'pairs/s/core':>12} |")
    print(f"|{'-' * 50}|{'-' * 7}:|{'-' * 8}:|{'-' * 9}:|{'-' * 13}:|")
    for name, (wall, cpu) in rows:
        print(f"| {name:<48} | {cpu.mean():6.1f} | {wall.mean():7.1f} | {np.percentile(wall, 95):8.1f} | "
              f"{1e3 / cpu.mean():12.0f} |")

if __name__ == "__main__":
    main()
