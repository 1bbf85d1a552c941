"""Cost of on-the-fly synthetic pairs (single process, one OpenCV/torch thread), printed as a Markdown table.

With ``--config`` (repeatable) it also times that recipe's own training pairs (its crop, blur, photo scale and
texture threshold) and one training step of its network (forward, backward, Adam, at its crop and batch, with
``--threads`` torch threads, or on ``--device cuda`` in the recipe's mixed precision), and prints where a step's
time goes: the pairs a step needs versus the model, and how many synthesis cores keep up with it.

    .venv/bin/python -m benchmarks.data_throughput --photos ../shared/data/photos --count 200
    .venv/bin/python -m benchmarks.data_throughput --photos data/train-all --count 40 --config configs/real-lite.toml
    python -m benchmarks.data_throughput --photos PHOTOS --count 20 --config configs/gpu-real-lite.toml --device cuda
"""

import argparse
import time

import cv2
import numpy as np
import torch

from deblur.model.unet import DeblurUNet
from deblur.train.amp import autocast_dtype
from deblur.train.data import BlurSettings, build_dataset
from deblur.train.losses import DeblurLoss
from deblur.train.recipes import load_train_config


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
    parser.add_argument("--config", action="append", default=[], help="also time this recipe's pairs and step")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of the timed training step")
    parser.add_argument("--device", default="cpu", help="device of the timed training step (cpu, cuda)")
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
    for config in args.config:
        print_step_split(config, args.photos, args.count, args.threads, torch.device(args.device))


def step_ms(recipe, threads: int, device: torch.device, repeats: int = 5) -> float:
    """Median wall ms of one training step of the recipe's network on random data (after one warm-up).

    As the training loop runs it: channels-last, the forward pass under the recipe's autocast dtype.
    """
    torch.set_num_threads(threads)
    amp = autocast_dtype(recipe.amp, device)
    model = DeblurUNet(recipe.model_config()).train().to(device, memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-4)
    loss_fn = DeblurLoss(recipe.loss, recipe.loss_weight, recipe.loss_reduction)
    batch = torch.rand(recipe.batch_size, 3, recipe.crop, recipe.crop, device=device)
    batch = batch.to(memory_format=torch.channels_last)
    times = []
    for _ in range(repeats + 1):
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=amp, enabled=amp is not None):
            output = model(batch)
        loss, _ = loss_fn(output, batch)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        times.append(time.perf_counter() - start)
    torch.set_num_threads(1)
    return float(np.median(times[1:])) * 1e3


def print_step_split(config: str, photos: str, count: int, threads: int, device: torch.device) -> None:
    """A recipe's pair cost against its model step: which one bounds the training speed."""
    recipe = load_train_config(config)
    blur = BlurSettings.from_dict(recipe.blur) if recipe.blur is not None else None
    pairs = build_dataset("synthetic", photos, "train", crop=recipe.crop, augment=True, blur=blur,
                          min_texture=recipe.min_texture, photo_scale=recipe.photo_scale,
                          noise_variance=recipe.input_noise_variance)
    _, cpu = _timed(lambda i: pairs[i], count)
    model = step_ms(recipe, threads, device)
    data = cpu.mean() * recipe.batch_size
    print(f"\n{config}: {recipe.batch_size} pairs of {recipe.crop} px per step\n")
    print("| part | ms per step | steps/s alone |\n| --- | ---: | ---: |")
    print(f"| synthesis, one core (CPU ms x batch) | {data:.0f} | {1e3 / data:.2f} |")
    where = f"{threads} torch threads" if device.type == "cpu" else f"{device}, amp {recipe.amp}"
    print(f"| model step, {where} | {model:.0f} | {1e3 / model:.2f} |")
    print(f"\ncores of synthesis that keep up with the model: {data / model:.2f}")

if __name__ == "__main__":
    main()
