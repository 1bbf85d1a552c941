"""`deblur-demo`: build a sample blurry clip with known sharp frames, then score a deblurred result.

``deblur-demo sample DIR`` pans a window across scikit-image's CC0 "coffee" photograph, blurs every
frame with the training data's synthetic camera shake (a different random shake per frame) and writes
``DIR/blurry.mp4`` (H.264, with a 440 Hz AAC tone so that audio pass-through can be seen).
``deblur-run DIR/blurry.mp4 --compare -o DIR/side_by_side.mp4`` deblurs it, and
``deblur-demo score DIR`` rebuilds the sharp frames (they are deterministic crops) and prints PSNR/SSIM of
the decoded blurry input and of the decoded result (the right half of the side-by-side video).
Torch-free: it needs numpy, OpenCV, PyAV and scikit-image (the ``demo`` extra).
"""

from pathlib import Path

import av
import cv2
import numpy as np
import typer

from deblur.atomic import atomic_write
from deblur.clip_writer import write_h264_clip
from deblur.metrics import psnr, ssim
from deblur.train.data import BlurSettings, synthesize_blur

FRAMES = 40
FPS = 20
WINDOW = (320, 448)  # height, width: multiples of 8, so the comparison is not affected by padding
SEED = 2023
AUDIO_RATE = 48_000
# The upper half of the bundled model's training range (4-16 px): clearly visible shake; no moving region.
SHAKE = BlurSettings(length=(8.0, 16.0), moving_object_probability=0.0, jpeg_probability=0.0)
BLURRY_NAME = "blurry.mp4"
RESULT_NAME = "side_by_side.mp4"
PICTURE_NAME = "before_after.png"  # the README's picture

class DemoError(ValueError):
    """A demo step run out of order or on the wrong files."""


app = typer.Typer(add_completion=False, help="Build the demo clip and score the deblurred result.")


def sharp_frames() -> list[np.ndarray]:
    """The ground-truth frames: a window panning diagonally across the coffee photograph (RGB uint8)."""
    from skimage.data import coffee

    image = coffee()
    h, w = WINDOW
    ys = np.linspace(0, image.shape[0] - h, FRAMES).round().astype(int)
    xs = np.linspace(0, image.shape[1] - w, FRAMES).round().astype(int)
    return [np.ascontiguousarray(image[y : y + h, x : x + w]) for y, x in zip(ys, xs)]


def blurry_frames(sharp: list[np.ndarray]) -> list[np.ndarray]:
    """Each sharp frame with its own synthetic camera shake (deterministic), as RGB uint8."""
    frames = []
    for index, frame in enumerate(sharp):
        rng = np.random.default_rng([SEED, index])
        blurred = synthesize_blur(frame.astype(np.float32) / 255.0, rng, SHAKE)
        frames.append(np.round(blurred * 255.0).astype(np.uint8))
    return frames


def write_clip(path: Path, frames: list[np.ndarray]) -> None:
    """H.264 video (crf 16) of ``frames`` plus a mono AAC tone of the same duration, written atomically."""
    atomic_write(path, lambda tmp: write_h264_clip(tmp, frames, FPS, audio_rate=AUDIO_RATE, crf=16,
                                                        container_format="mp4"))


def read_clip(path: Path) -> tuple[list[np.ndarray], bool]:
    """Decoded RGB frames of ``path`` and whether it has an audio stream."""
    if not path.is_file():
        raise DemoError(f"{path}: no such video; run the previous demo step first")
    with av.open(str(path)) as container:
        has_audio = bool(container.streams.audio)
        frames = [frame.to_ndarray(format="rgb24") for frame in container.decode(video=0)]
    return frames, has_audio


@app.command()
def sample(folder: Path = typer.Argument(Path("demo_output"), help="Where to write blurry.mp4.")) -> None:
    """Write the blurry sample clip. Example: deblur-demo sample demo_output"""
    path = folder / BLURRY_NAME
    write_clip(path, blurry_frames(sharp_frames()))
    typer.echo(f"sample clip: {path} ({FRAMES} frames, {WINDOW[1]}x{WINDOW[0]}, {FPS} fps, synthetic camera shake)")


@app.command()
def score(folder: Path = typer.Argument(Path("demo_output"), help="Folder holding blurry.mp4 and side_by_side.mp4.")) -> None:
    """PSNR/SSIM of the blurry clip and the deblurred result against the sharp frames.

    Example: deblur-demo score demo_output
    """
    sharp = sharp_frames()
    try:
        blurry, _ = read_clip(folder / BLURRY_NAME)
        side_by_side, has_audio = read_clip(folder / RESULT_NAME)
        if len(blurry) != len(sharp) or len(side_by_side) != len(sharp):
            raise DemoError(f"expected {len(sharp)} frames, got {len(blurry)} blurry / {len(side_by_side)} deblurred")
    except DemoError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    width = WINDOW[1]
    results = [frame[:, width:] for frame in side_by_side]
    rows = [("blurry input", blurry), ("deblurred", results)]
    typer.echo("| clip | PSNR (dB) | SSIM |\n| --- | --- | --- |")
    for name, frames in rows:
        mean_psnr = np.mean([psnr(f, s) for f, s in zip(frames, sharp)])
        mean_ssim = np.mean([ssim(f, s) for f, s in zip(frames, sharp)])
        typer.echo(f"| {name} | {mean_psnr:.2f} | {mean_ssim:.4f} |")
    typer.echo(f"side-by-side video (blurry | deblurred): {folder / RESULT_NAME}, audio kept: {'yes' if has_audio else 'no'}")
    middle = len(sharp) // 2
    picture = folder / PICTURE_NAME
    write_before_after(picture, blurry[middle], results[middle], sharp[middle])
    typer.echo(f"before | after | sharp, the middle frame's centre at 2x: {picture}")


def write_before_after(path: Path, blurry: np.ndarray, deblurred: np.ndarray, sharp: np.ndarray) -> None:
    """The centre of one frame, blurry | deblurred | sharp, enlarged 2x (nearest), as a PNG (written atomically)."""
    height, width = sharp.shape[:2]
    rows, cols = slice(height // 4, height * 3 // 4), slice(width // 4, width * 3 // 4)
    strip = np.concatenate([frame[rows, cols] for frame in (blurry, deblurred, sharp)], axis=1)
    strip = cv2.resize(strip, None, fx=2, fy=2, interpolation=cv2.INTER_NEAREST)
    atomic_write(path, lambda tmp: _write_png(tmp, cv2.cvtColor(strip, cv2.COLOR_RGB2BGR)))


def _write_png(path: Path, bgr: np.ndarray) -> None:
    encoded, data = cv2.imencode(".png", bgr, [cv2.IMWRITE_PNG_COMPRESSION, 9])
    if not encoded:
        raise DemoError(f"could not encode {path.name} as PNG")
    path.write_bytes(data.tobytes())
