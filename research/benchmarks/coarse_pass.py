"""Would a coarse pass help? What a deblurrer run at 1/F could gain on whole pairs, and what models gain there.

For every pair of each ``--pairs`` folder (``blur/``, ``sharp/``, whole images: the real pairs, or a folder of
synthetic pairs to compare with) and every factor F of ``--factors``:
- **headroom**: the blurred frame corrected by a perfect deblurrer at 1/F, i.e. plus the bilinearly upsampled
  difference of the area-shrunk sharp and blurred frames. What any coarse pass at that scale can gain at
  most; the finer detail it cannot restore;
- for each ``--model``: its gain at full size, its gain as a coarse pass (run on the frame shrunk by F, its
  correction upsampled and added), and its gain at 1/F scored against the shrunk sharp frame;
- **level**: how much brighter the blurred frame, and each model's full-size output, is than the sharp frame
  on average (8-bit codes). Blur averaged in linear light brightens high-contrast content; a model trained
  on such pairs learns to darken, which costs it on frames whose blur did not brighten.
- **alignment**: the cosine between a model's correction at 1/F and the one needed there (sharp − blurred):
  whether it recognises the blur at all, apart from how far it goes;
- **concentration**: the share of the squared error held by the worst tenth of 32 px blocks: local blur
  (people and cars near the camera) concentrates it, camera shake over the whole frame spreads it.
A large headroom with a small model gain says the model, not the scale, is what is missing; a model that
gains on synthetic pairs at 1/F but not on real ones at the same scale meets a difference in the blur, not
in its length. For diagnosis and reporting only: the real pairs are never trained or tuned on.

    python -m research.benchmarks.coarse_pass --pairs ../shared/data/real-pairs --model runtime/models/deblur-lite.onnx \
        --factors 2 4 8 --threads 2
"""

import argparse
from pathlib import Path

import cv2
import numpy as np

from deblur.metrics import psnr
from deblur.train.data.images import read_image_rgb
from deblur.train.data.pair_lists import folder_pairs
from research.benchmarks.real_pair_kernels import deblur_function


def shrink(image: np.ndarray, factor: int) -> np.ndarray:
    """Area average over factor x factor blocks (height and width must be multiples of ``factor``)."""
    height, width = image.shape[:2]
    return cv2.resize(image, (width // factor, height // factor), interpolation=cv2.INTER_AREA)


def enlarge(image: np.ndarray, factor: int) -> np.ndarray:
    """Bilinear upsampling by ``factor`` (pixel centres aligned, as ONNX Resize's half_pixel mode)."""
    height, width = image.shape[:2]
    return cv2.resize(image, (width * factor, height * factor), interpolation=cv2.INTER_LINEAR)


def coarse_corrected(blurred: np.ndarray, corrected_small: np.ndarray, factor: int) -> np.ndarray:
    """``blurred`` plus the upsampled correction ``corrected_small - shrink(blurred)``, clipped to [0, 1]."""
    correction = corrected_small - shrink(blurred, factor)
    return np.clip(blurred + enlarge(correction, factor), 0.0, 1.0)


def crop_to_multiple(image: np.ndarray, multiple: int) -> np.ndarray:
    height, width = image.shape[:2]
    return image[:height - height % multiple, :width - width % multiple]


def level_shift(image: np.ndarray, sharp: np.ndarray) -> float:
    """How much brighter ``image`` is than ``sharp`` on average, in 8-bit code values."""
    return 255.0 * float(image.mean() - sharp.mean())


def worst_block_share(blurred: np.ndarray, sharp: np.ndarray, block: int = 32, fraction: float = 0.1) -> float:
    """The share of the squared error held by the worst ``fraction`` of ``block`` x ``block`` blocks: high when
    the blur is local (moving people and cars), low when it covers the frame."""
    error = ((blurred - sharp) ** 2).mean(axis=2)
    rows, cols = error.shape[0] // block, error.shape[1] // block
    blocks = np.sort(error[:rows * block, :cols * block].reshape(rows, block, cols, block).sum(axis=(1, 3)).ravel())
    worst = blocks[::-1][:max(1, int(len(blocks) * fraction))]
    return float(worst.sum() / max(blocks.sum(), 1e-12))


def correction_alignment(blurred: np.ndarray, output: np.ndarray, sharp: np.ndarray) -> float:
    """Cosine between the model's correction (output - blurred) and the one needed (sharp - blurred): 1 is the
    right direction, 0 unrelated; with its size it sets the gain, so a low gain with a high alignment says the
    model corrects too little, a low alignment that it does not recognise the blur."""
    made, needed = (output - blurred).ravel(), (sharp - blurred).ravel()
    return float(made @ needed / max(np.linalg.norm(made) * np.linalg.norm(needed), 1e-12))


def pair_rows(blurred: np.ndarray, sharp: np.ndarray, factors: list[int], models: dict) -> list[list[str]]:
    """One row per factor: headroom, the blurred frame's level shift and error concentration, then each model's
    full-size gain (dB) and level shift (codes), coarse-pass and 1/F gains (dB), alignment of its 1/F correction."""
    input_psnr = psnr(blurred, sharp)
    blurred_cells = [f"{level_shift(blurred, sharp):+.2f}", f"{100 * worst_block_share(blurred, sharp):.2f}"]
    full_cells = {}  # each model's full-size gain and level: the same for every factor
    for name, deblur in models.items():
        output = deblur(blurred)
        full_cells[name] = [f"{psnr(output, sharp) - input_psnr:+.2f}", f"{level_shift(output, sharp):+.2f}"]
    rows = []
    for factor in factors:
        small_blurred, small_sharp = shrink(blurred, factor), shrink(sharp, factor)
        small_input_psnr = psnr(small_blurred, small_sharp)
        row = [str(factor), f"{small_input_psnr:.2f}",
               f"{psnr(coarse_corrected(blurred, small_sharp, factor), sharp) - input_psnr:+.2f}"] + blurred_cells
        for name, deblur in models.items():
            small_output = deblur(small_blurred)
            coarse_gain = psnr(coarse_corrected(blurred, small_output, factor), sharp) - input_psnr
            small_gain = psnr(small_output, small_sharp) - small_input_psnr
            row += full_cells[name] + [f"{coarse_gain:+.2f}", f"{small_gain:+.2f}",
                                       f"{correction_alignment(small_blurred, small_output, small_sharp):+.2f}"]
        rows.append(row)
    return rows


def print_table(rows: list[list[str]], model_names: list[str]) -> None:
    header = ["pairs", "pair", "F", "input PSNR at 1/F", "headroom at 1/F", "blurred - sharp level",
              "worst 10 % of blocks, % of error"]
    for name in model_names:
        header += [f"{name}: full size", f"{name}: level", f"{name}: coarse pass", f"{name}: at 1/F",
                   f"{name}: alignment at 1/F"]
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row) + " |")


def mean_rows(rows: list[list[str]], folder: str, factors: list[int]) -> list[list[str]]:
    """The mean of every numeric column over the pairs, per factor."""
    means = []
    for factor in factors:
        selected = [row for row in rows if row[0] == folder and row[2] == str(factor)]
        columns = np.array([[float(cell) for cell in row[3:]] for row in selected]).mean(axis=0)
        signed = [cell[0] in "+-" for cell in selected[0][3:]]  # gains and shifts keep their sign
        means.append([folder, f"**mean of {len(selected)}**", str(factor)]
                     + [f"{value:+.2f}" if sign else f"{value:.2f}" for value, sign in zip(columns, signed)])
    return means


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=Path, action="append", required=True,
                        help="folder with blur/ and sharp/ (repeatable): real pairs, or synthetic ones to compare")
    parser.add_argument("--model", type=Path, action="append", default=[], help="ONNX model (repeatable)")
    parser.add_argument("--factors", type=int, nargs="+", default=[2, 4, 8], help="shrink factors F")
    parser.add_argument("--limit", type=int, default=None, help="at most this many pairs per folder")
    parser.add_argument("--threads", type=int, default=None, help="ONNX Runtime threads")
    args = parser.parse_args()
    if any(factor < 1 for factor in args.factors):
        parser.error("--factors must be positive integers")
    models = {path.stem: deblur_function(path, args.threads) for path in args.model}
    multiple = int(np.lcm.reduce(args.factors))
    rows = []
    for folder in args.pairs:
        for blurred_path, sharp_path in folder_pairs(folder)[:args.limit]:
            blurred, sharp = (crop_to_multiple(read_image_rgb(path), multiple) for path in (blurred_path, sharp_path))
            rows += [[folder.name, blurred_path.stem] + row for row in pair_rows(blurred, sharp, args.factors, models)]
        rows += mean_rows(rows, folder.name, args.factors)
    print("gains in dB over the blurred input; headroom: a perfect deblurrer at 1/F, its correction upsampled;\n"
          "level: mean brightness minus the sharp frame's, in 8-bit codes (blurred frame; model output at full size);\n"
          "alignment: cosine of the model's correction at 1/F with the needed one\n")
    print_table(rows, list(models))


if __name__ == "__main__":
    main()
