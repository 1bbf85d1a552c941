"""Is it the kernel or the rest? Fit one blur kernel per real pair and score models on both blurs.

For every pair of ``--real-pairs`` (``blur/``, ``sharp/``) the script fits the single kernel that best maps
the sharp frame's luma gradients onto the blurred frame's (regularised least squares in the Fourier
domain, Hann-windowed; weights under 10 % of the peak dropped), then blurs the sharp frame with that kernel
in linear light, uniformly, and rounds to 8 bits; and once more averaging code values, as GoPro's standard
blurred frames were made (no tone curve). Each ``--model`` is scored on the real blurred frame and on these
re-blurred ones:
- a model that gains on the re-blurred frame but not on the real one meets something in real footage
  beyond the average kernel (blur that varies across the frame, moving objects, noise, compression, the
  camera's tone curve);
- a model that fails on the re-blurred frame too cannot undo that kernel's shape or length.
How close the uniform blur comes to the real one (PSNR between them) says how much the single kernel
explains; ``--grid 3x4`` also fits one kernel per window of a 3x4 grid (how the blur varies over the frame)
and, with ``--out``, writes them as one mosaic per pair. For reporting and diagnosis only: these pairs are
never trained or tuned on.

    python -m research.benchmarks.real_pair_kernels --real-pairs ../shared/data/real-pairs \
        --model runtime/models/deblur-lite.onnx --out kernels/ --threads 2
"""

import argparse
from pathlib import Path

import cv2
import numpy as np

from deblur.metrics import psnr
from deblur.runtime.backends.registry import open_backend
from deblur.runtime.tiling import run_padded
from deblur.train.data.degrade import linear_to_srgb, quantize_8bit, srgb_to_linear
from deblur.train.data.images import read_image_rgb
from deblur.train.data.pair_lists import folder_pairs

SUPPORT_FRACTION = 0.1  # kernel weights below this fraction of the peak are fitting noise
UNIFORM, UNIFORM_CODES = "fitted kernel, uniform", "fitted kernel, uniform, in codes"


def luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(np.ascontiguousarray(rgb, dtype=np.float32), cv2.COLOR_RGB2GRAY)


def fit_kernel(blurred: np.ndarray, sharp: np.ndarray, radius: int = 24, regularisation: float = 1e-3) -> np.ndarray:
    """The (2r+1)^2 convolution kernel k with blurred ~ k * sharp, fitted on the gradients of two gray images.

    Normalised to sum 1; index [r, r] is no shift. Only the path through the peak is kept: weights under
    ``SUPPORT_FRACTION`` of the peak are dropped, then any not connected to the peak (gaps of one pixel
    bridged, as GoPro's averaged frames leave dotted paths).
    """
    height, width = blurred.shape
    if min(height, width) < 2 * radius + 1:
        raise ValueError(f"images of {width}x{height} are smaller than a kernel of radius {radius}")
    window = np.outer(np.hanning(height), np.hanning(width)).astype(np.float32)
    cross, power = 0.0, 0.0
    for derivative in (np.array([[1.0, -1.0]], np.float32), np.array([[1.0], [-1.0]], np.float32)):
        blurred_spectrum = np.fft.fft2(cv2.filter2D(blurred, -1, derivative) * window)
        sharp_spectrum = np.fft.fft2(cv2.filter2D(sharp, -1, derivative) * window)
        cross = cross + np.conj(sharp_spectrum) * blurred_spectrum
        power = power + np.abs(sharp_spectrum) ** 2
    kernel = np.fft.fftshift(np.real(np.fft.ifft2(cross / (power + regularisation * power.mean()))))
    centre_y, centre_x = height // 2, width // 2
    kernel = kernel[centre_y - radius:centre_y + radius + 1, centre_x - radius:centre_x + radius + 1]
    support = (kernel > SUPPORT_FRACTION * kernel.max()).astype(np.uint8)
    _, labels = cv2.connectedComponents(cv2.dilate(support, np.ones((3, 3), np.uint8)), connectivity=8)
    path = (labels == labels[np.unravel_index(kernel.argmax(), kernel.shape)]) & support.astype(bool)
    kernel = np.where(path, kernel, 0.0)
    return (kernel / kernel.sum()).astype(np.float32)


def kernel_shape(kernel: np.ndarray) -> dict[str, float]:
    """Extent of the support (px), centroid offset from no shift (px), and the mass within 1.5 px of the peak."""
    radius = kernel.shape[0] // 2
    rows, cols = np.nonzero(kernel)
    y, x = np.mgrid[-radius:radius + 1, -radius:radius + 1]
    peak_y, peak_x = np.unravel_index(kernel.argmax(), kernel.shape)
    near_peak = (y - (peak_y - radius)) ** 2 + (x - (peak_x - radius)) ** 2 <= 2.25
    return {"width": float(cols.max() - cols.min() + 1), "height": float(rows.max() - rows.min() + 1),
            "centroid": float(np.hypot((kernel * x).sum(), (kernel * y).sum())),
            "peak_mass": float(kernel[near_peak].sum())}


def blur_uniformly(sharp: np.ndarray, kernel: np.ndarray, in_codes: bool = False) -> np.ndarray:
    """``sharp`` (sRGB, HxWx3) convolved with ``kernel`` in linear light (or in code values, as GoPro's
    standard blurred frames were averaged), rounded to 8 bits."""
    flipped = np.ascontiguousarray(kernel[::-1, ::-1])  # filter2D correlates
    if in_codes:
        return quantize_8bit(cv2.filter2D(sharp, -1, flipped, borderType=cv2.BORDER_REFLECT))
    linear = cv2.filter2D(srgb_to_linear(sharp), -1, flipped, borderType=cv2.BORDER_REFLECT)
    return quantize_8bit(linear_to_srgb(linear))


def deblur_function(path: Path, threads: int | None):
    backend = open_backend(path, "onnxruntime", "cpu", threads)

    def deblur(image: np.ndarray) -> np.ndarray:
        chw = np.ascontiguousarray(image.transpose(2, 0, 1))[None]
        return np.clip(run_padded(chw, backend.infer, backend.model.size_multiple)[0].transpose(1, 2, 0), 0, 1)

    return deblur


def kernel_image(kernel: np.ndarray, zoom: int = 8) -> np.ndarray:
    image = np.round(kernel / kernel.max() * 255).astype(np.uint8)
    return cv2.resize(image, None, fx=zoom, fy=zoom, interpolation=cv2.INTER_NEAREST)


def grid_kernels(blurred: np.ndarray, sharp: np.ndarray, rows: int, cols: int, radius: int) -> list[list[np.ndarray]]:
    """One fitted kernel per window of a ``rows`` x ``cols`` grid over two gray images."""
    height, width = blurred.shape[0] // rows, blurred.shape[1] // cols
    return [[fit_kernel(blurred[r * height:(r + 1) * height, c * width:(c + 1) * width],
                        sharp[r * height:(r + 1) * height, c * width:(c + 1) * width], radius)
             for c in range(cols)] for r in range(rows)]


def grid_size(text: str) -> tuple[int, int]:
    """``"3x4"`` -> (3, 4)."""
    rows, sep, cols = text.partition("x")
    if not (sep and rows.isdigit() and cols.isdigit() and int(rows) > 0 and int(cols) > 0):
        raise argparse.ArgumentTypeError(f"expected ROWSxCOLS such as 3x4, got {text!r}")
    return int(rows), int(cols)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--real-pairs", type=Path, required=True, help="folder with blur/ and sharp/")
    parser.add_argument("--model", type=Path, action="append", required=True, help="ONNX model; repeatable")
    parser.add_argument("--radius", type=int, default=24, help="kernel radius in px (default 24: up to 49 px)")
    parser.add_argument("--grid", type=grid_size, metavar="ROWSxCOLS", help="also fit one kernel per window")
    parser.add_argument("--out", type=Path, help="folder for the fitted kernels as images (8x zoom)")
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    models = {path.stem: deblur_function(path, args.threads) for path in args.model}
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    shapes, scores, grids = [], [], []
    for pair in folder_pairs(args.real_pairs):
        blurred, sharp = read_image_rgb(pair.blurred), read_image_rgb(pair.sharp)
        kernel = fit_kernel(luma(blurred), luma(sharp), args.radius)
        reblurred = blur_uniformly(sharp, kernel)
        in_codes = blur_uniformly(sharp, kernel, in_codes=True)
        name = pair.blurred.stem
        shapes.append((name, kernel_shape(kernel), psnr(reblurred, blurred), psnr(in_codes, blurred)))
        if args.out:
            cv2.imwrite(str(args.out / f"{name}.kernel.png"), kernel_image(kernel))
        if args.grid:
            windows = grid_kernels(luma(blurred), luma(sharp), *args.grid, args.radius)
            grids.append((name, [[kernel_shape(window) for window in row] for row in windows]))
            if args.out:
                mosaic = np.vstack([np.hstack([kernel_image(window, 4) for window in row]) for row in windows])
                cv2.imwrite(str(args.out / f"{name}.grid.png"), mosaic)
        for blur_name, image in (("real blur", blurred), (UNIFORM, reblurred), (UNIFORM_CODES, in_codes)):
            before = psnr(image, sharp)
            scores.append((name, blur_name, before, {model: psnr(deblur(image), sharp) - before
                                                     for model, deblur in models.items()}))
    print("| pair | kernel support w x h px | centroid offset px | mass within 1.5 px of peak | "
          "uniform re-blur vs real blur dB | the same averaged in codes dB |\n| --- | --- | --- | --- | --- | --- |")
    for name, shape, match, match_codes in shapes:
        print(f"| {name} | {shape['width']:.0f} x {shape['height']:.0f} | {shape['centroid']:.1f} | "
              f"{shape['peak_mass']:.2f} | {match:.2f} | {match_codes:.2f} |")
    for name, rows in grids:
        print(f"\n{name}: kernel support w x h px per window (top row first)\n")
        print("\n".join(" ".join(f"{shape['width']:3.0f}x{shape['height']:<3.0f}" for shape in row) for row in rows))
    print("\n| pair | input | PSNR dB | " + " | ".join(f"{model} gain dB" for model in models) + " |")
    print("|" + " --- |" * (3 + len(models)))
    for name, blur_name, before, gains in scores:
        print(f"| {name} | {blur_name} | {before:.2f} | " + " | ".join(f"{gain:+.2f}" for gain in gains.values()) + " |")
    for blur_name in ("real blur", UNIFORM, UNIFORM_CODES):
        rows = [gains for _, kind, _, gains in scores if kind == blur_name]
        print(f"| mean | {blur_name} | {np.mean([s[2] for s in scores if s[1] == blur_name]):.2f} | "
              + " | ".join(f"{np.mean([row[model] for row in rows]):+.2f}" for model in models) + " |")


if __name__ == "__main__":
    main()
