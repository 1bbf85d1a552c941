"""Before/after look at real footage without ground truth: a Markdown table and zoomed crops.

Example (the model card's "Real footage" section):
    python -m benchmarks.real_footage ../shared/data/real/* --out real-crops/ --frame 30

For every image, and frame ``--frame`` of every video, each ``--model`` deblurs the whole frame as
``deblur-run`` would. The table gives the mean luma gradient (a sharpness proxy: blur lowers it, sharpening
and noise raise it) before and after, and how far the output moved from the input (PSNR of output against
input: high means barely changed). ``--out`` receives, per source and model, the input and output side by
side and a 2x zoom of the window the model changed most, so that the numbers can be checked by eye.
"""

import argparse
import time
from pathlib import Path

import cv2
import numpy as np

from deblur.metrics import psnr
from deblur.runtime.backends.registry import load_backend
from deblur.runtime.deblurrer import FrameDeblurrer
from deblur.runtime.frames import side_by_side
from deblur.runtime.model_file import bundled_model_path
from deblur.runtime.settings import RunSettings
from deblur.runtime.sinks import ImageSink
from deblur.runtime.sources import Frame, open_source


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("sources", nargs="+", type=Path, help="images or videos")
    parser.add_argument("--model", type=Path, action="append", help="ONNX model (repeatable; default: bundled)")
    parser.add_argument("--frame", type=int, default=30, help="frame index taken from videos")
    parser.add_argument("--crop", type=int, default=192, help="side of the zoomed window")
    parser.add_argument("--out", type=Path, help="folder for the side-by-side images")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads")
    return parser.parse_args()


def pick_frame(source: Path, index: int) -> np.ndarray:
    """Frame ``index`` of a video (its last frame if shorter), or the image itself."""
    opened = open_source(str(source))
    try:
        image = None
        for frame in opened.frames():
            image = frame.image
            if frame.index >= index:
                break
    finally:
        opened.close()
    if image is None:
        raise ValueError(f"{source}: no frames decoded")
    return image


def mean_gradient(image: np.ndarray) -> float:
    """Mean Sobel gradient magnitude of the luma of a gray, BGR or BGRA frame (full scale = 1)."""
    gray = image if image.ndim == 2 else cv2.cvtColor(image[..., :3], cv2.COLOR_BGR2GRAY)
    gray = gray.astype(np.float32) / np.iinfo(image.dtype).max
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1)
    return float(np.sqrt(gx * gx + gy * gy).mean())


def most_changed_window(before: np.ndarray, after: np.ndarray, side: int) -> tuple[int, int]:
    """Top-left corner of the ``side`` x ``side`` window where the output differs most from the input."""
    height, width = before.shape[:2]
    side_y, side_x = min(side, height), min(side, width)
    change = np.abs(after.astype(np.float32) - before.astype(np.float32))
    if change.ndim == 3:
        change = change.mean(axis=2)
    window_sums = cv2.boxFilter(change, -1, (side_x, side_y), normalize=False, anchor=(0, 0),
                                borderType=cv2.BORDER_CONSTANT)
    valid = window_sums[: height - side_y + 1, : width - side_x + 1]
    y, x = np.unravel_index(int(np.argmax(valid)), valid.shape)
    return int(y), int(x)


def zoomed_pair(before: np.ndarray, after: np.ndarray, side: int) -> np.ndarray:
    """Input and output of the most changed window side by side, enlarged 2x without smoothing."""
    y, x = most_changed_window(before, after, side)
    pair = side_by_side(before[y : y + side, x : x + side], after[y : y + side, x : x + side])
    return cv2.resize(pair, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)


def main() -> None:
    args = parse_args()
    models = args.model or [bundled_model_path()]
    settings = {model: RunSettings(model=model, threads=args.threads) for model in models}
    deblurrers = {model: FrameDeblurrer(load_backend(each), each) for model, each in settings.items()}
    looks = ImageSink(args.out, single_file=False) if args.out else None  # atomic writes, clear errors
    print("| source | size | model | gradient before | gradient after | ratio | output vs input PSNR (dB) | ms |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for source in args.sources:
        image = pick_frame(source, args.frame)
        before = mean_gradient(image)
        for model, deblur in deblurrers.items():
            start = time.perf_counter()
            output = deblur([image])[0]
            ms = (time.perf_counter() - start) * 1000
            after = mean_gradient(output)
            print(f"| {source.name} | {image.shape[1]}x{image.shape[0]} | {model.stem} | {before:.4f} | {after:.4f} "
                  f"| {after / before:.3f} | {psnr(image, output):.1f} | {ms:.0f} |")
            if looks:
                stem = f"{source.stem}.{model.stem}"
                pair, zoom = side_by_side(image, output), zoomed_pair(image, output, args.crop)
                looks.write(Frame(pair, 0, name=f"{stem}.png"), pair)
                looks.write(Frame(zoom, 0, name=f"{stem}.zoom.png"), zoom)


if __name__ == "__main__":
    main()
