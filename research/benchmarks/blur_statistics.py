"""Does the synthetic blur look like real blur? A no-reference blur statistic of real frames against
synthetic blurred crops, printed as a Markdown table.

The statistic is the perceptual blur metric of Crete et al. (SPIE 2007): re-blur the image with a 9-tap box
filter horizontally and vertically and measure how much of its neighbour-difference energy survives; 0 is
sharp, 1 is flat. It needs no ground truth, so it applies to real footage. Every set is measured on 256x256
crops at its own resolution (real frames at camera resolution, synthetic crops from photos whose longer side
is at most 1280 px), so pixel-sized blur compares with pixel-sized blur. A second column gives the 99th
percentile of the gradient magnitude (strong edges survive only short blur), a third Immerkaer's fast estimate
of the pixel noise in 8-bit codes (fine texture reads as noise too: it says how much pixel-level detail, noise
and compression an image carries; real GoPro blurred frames carry far less than crisp photos blurred).

    python -m research.benchmarks.blur_statistics --real ../shared/data/real-blurry --real ../shared/data/real \\
        --real-pairs ../shared/data/real-pairs --photos data/eval-photos \\
        --config configs/bundled-lite.toml --config configs/real-lite.toml
"""

import argparse
from pathlib import Path

import av
import cv2
import numpy as np

from deblur.contract import IMAGE_SUFFIXES
from deblur.train.data import BlurSettings, build_dataset
from deblur.train.data.augment import gradient_magnitude
from deblur.train.data.images import read_image_rgb
from deblur.train.recipes import load_train_config

CROP = 256
VIDEO_SUFFIXES = {".mp4", ".mpg", ".mov", ".mkv", ".avi"}


def crete_blur(rgb: np.ndarray) -> float:
    """Crete et al.'s no-reference blur metric of an RGB float image: 0 sharp .. 1 completely blurred."""
    grey = cv2.cvtColor(rgb.astype(np.float32), cv2.COLOR_RGB2GRAY)
    box = np.full((1, 9), 1 / 9, np.float32)
    scores = []
    for axis, kernel in ((1, box), (0, box.T)):
        reblurred = cv2.filter2D(grey, -1, kernel, borderType=cv2.BORDER_REFLECT_101)
        original = np.abs(np.diff(grey, axis=axis))
        variation = np.maximum(0, original - np.abs(np.diff(reblurred, axis=axis)))
        total = float(original.sum())
        scores.append((total - float(variation.sum())) / total if total > 0 else 1.0)
    return max(scores)


def strong_gradient(rgb: np.ndarray) -> float:
    """99th percentile of the Sobel gradient magnitude of the grey image."""
    return float(np.percentile(gradient_magnitude(rgb.astype(np.float32)), 99))


def pixel_noise(rgb: np.ndarray) -> float:
    """Immerkaer's (CVIU 1996) noise estimate of the grey image, in 8-bit codes: the mean absolute response
    to the difference of two Laplacians, which cancels smooth structure."""
    grey = cv2.cvtColor(rgb.astype(np.float32), cv2.COLOR_RGB2GRAY) * 255
    kernel = np.array([[1, -2, 1], [-2, 4, -2], [1, -2, 1]], np.float32)
    response = cv2.filter2D(grey, -1, kernel)[1:-1, 1:-1]
    return float(np.sqrt(np.pi / 2) / 6 * np.abs(response).mean())


def crops(image: np.ndarray, rng: np.random.Generator, count: int):
    """Up to ``count`` random CROP x CROP crops of ``image`` (none if it is smaller)."""
    height, width = image.shape[:2]
    if min(height, width) < CROP:
        return
    for _ in range(count):
        top, left = rng.integers(0, height - CROP + 1), rng.integers(0, width - CROP + 1)
        yield image[top:top + CROP, left:left + CROP]


def video_frames(path: Path, count: int):
    """``count`` frames spread over a video, RGB float, at its own resolution."""
    with av.open(str(path)) as container:
        total = sum(1 for _ in container.decode(video=0))
    wanted = set(np.linspace(0, total - 1, min(count, total)).round().astype(int).tolist())
    with av.open(str(path)) as container:
        for index, frame in enumerate(container.decode(video=0)):
            if index in wanted:
                yield frame.to_ndarray(format="rgb24").astype(np.float32) / 255


def real_images(folder: Path, frames_per_video: int):
    """(source name, RGB float image) for every image and sampled video frame in ``folder``."""
    for path in sorted(folder.iterdir()):
        if path.suffix.lower() in IMAGE_SUFFIXES:
            yield path.name, read_image_rgb(path)
        elif path.suffix.lower() in VIDEO_SUFFIXES:
            for frame in video_frames(path, frames_per_video):
                yield path.name, frame


def measure(images, rng: np.random.Generator, crops_per_image: int) -> np.ndarray:
    """(N, 3) Crete blur, strong-gradient and pixel-noise values of random crops of ``images``."""
    values = [(crete_blur(crop), strong_gradient(crop), pixel_noise(crop))
              for _, image in images for crop in crops(image, rng, crops_per_image)]
    return np.array(values).reshape(-1, 3)


def synthetic_sets(photos: Path, config: str, count: int):
    """Blurred and sharp held-out crops made with a recipe's blur settings, as two image lists."""
    recipe = load_train_config(config)
    blur = BlurSettings.from_dict(recipe.blur) if recipe.blur is not None else BlurSettings()
    dataset = build_dataset("synthetic", photos, "test", crop=CROP, length=count, blur=blur,
                            min_texture=recipe.min_texture)
    pairs = [dataset.numpy_item(index) for index in range(count)]
    return [("", blurred) for blurred, _ in pairs], [("", sharp) for _, sharp in pairs]


def row(name: str, values: np.ndarray) -> str:
    blur, gradient, noise = values[:, 0], values[:, 1], values[:, 2]
    low, middle, high = np.percentile(blur, [10, 50, 90])
    return (f"| {name} | {len(values)} | {low:.3f} / {middle:.3f} / {high:.3f} | {np.median(gradient):.2f} | "
            f"{np.median(noise):.2f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real", type=Path, action="append", default=[], help="folder of real blurry images/videos")
    parser.add_argument("--real-pairs", type=Path, help="folder of real pairs (blur/, sharp/)")
    parser.add_argument("--photos", type=Path, required=True, help="sharp photos; their held-out split is used")
    parser.add_argument("--config", action="append", default=[], help="training recipe whose blur to measure")
    parser.add_argument("--count", type=int, default=96, help="synthetic crops per recipe")
    parser.add_argument("--frames-per-video", type=int, default=6)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    rows = []
    for folder in args.real:
        rows.append(row(f"real: {folder.name}", measure(real_images(folder, args.frames_per_video), rng, 4)))
    if args.real_pairs:
        for side in ("blur", "sharp"):
            rows.append(row(f"real pairs: {side}", measure(real_images(args.real_pairs / side, 0), rng, 8)))
    for config in args.config:
        blurred, sharp = synthetic_sets(args.photos, config, args.count)
        rows.append(row(f"synthetic {Path(config).stem}: blurred", measure(blurred, rng, 1)))
        rows.append(row(f"synthetic {Path(config).stem}: sharp targets", measure(sharp, rng, 1)))
    print(f"Crete blur metric (0 sharp .. 1 flat) of {CROP}x{CROP} crops: 10th / 50th / 90th percentile; "
          "median 99th-percentile gradient; median pixel noise (Immerkaer, 8-bit codes)\n")
    print("| set | crops | blur metric p10 / p50 / p90 | strong gradient | pixel noise |\n"
          "| --- | --- | --- | --- | --- |")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
