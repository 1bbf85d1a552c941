"""Fit and check a scale-space model's blur-length estimate on synthetic blur of known length.

The gate of a scale-space model (``deblur.model.scale_space``) weighs, per region, corrections made at full,
half and quarter size: its weights say at which scale the blur is removed, so they carry the blur's length.
``fit`` blurs crops of the *training* photos with the recipe's generator at fixed lengths, averages the gate's
weights over each crop and fits one length per candidate (non-negative least squares); the estimate is then
``weights · lengths``, stored in the checkpoint (``candidate_lengths``) and exported as the ONNX model's second
output. ``--check`` scores the estimate on the held-out photos at each length, and on real pairs, to compare
with their fitted kernels (docs/scale-space.md). No runtime code is involved.

    python -m deblur.train.blur_length runs/ss/checkpoints/best.safetensors --photos data/train-all \
        --config configs/scale-space-lite.toml -o train/weights/deblur-lite.safetensors
    python -m deblur.train.blur_length train/weights/deblur-lite.safetensors --photos data/train-all \
        --config configs/scale-space-lite.toml --check --real-pairs ../shared/data/real-pairs
"""

import argparse
import dataclasses
from pathlib import Path

import numpy as np
import torch

from deblur.model.checkpoint import load_checkpoint, read_checkpoint_metadata, save_checkpoint
from deblur.model.scale_space import CANDIDATES, ScaleSpaceDeblur

from .data import BlurSettings, build_dataset
from .data.images import read_image_rgb
from .data.pair_lists import folder_pairs
from .evaluation import pad_to_multiple
from .recipes import load_train_config

LENGTHS = (4, 8, 12, 16, 24, 32, 48, 64)  # px at full size
CROP = 256


def known_length_crops(photos: Path, config: str, split: str, count: int, seed: int):
    """(length, (3, CROP, CROP) blurred tensor) for ``count`` crops at each of ``LENGTHS``, blurred by the recipe's
    generator with that exact camera length."""
    recipe = load_train_config(config)
    blur = BlurSettings.from_dict(recipe.blur) if recipe.blur is not None else BlurSettings()
    for length in LENGTHS:
        fixed = dataclasses.replace(blur, length=(float(length), float(length)), length_median=None)
        dataset = build_dataset("synthetic", photos, split, crop=CROP, seed=seed + length, length=count, blur=fixed,
                                min_texture=recipe.min_texture)
        for index in range(count):
            yield length, dataset[index][0]


@torch.no_grad()
def mean_weights(model: ScaleSpaceDeblur, image: torch.Tensor) -> np.ndarray:
    """The gate's weights averaged over one (3, H, W) image, padded to the model's multiple."""
    return model.mean_gate_weights(pad_to_multiple(image[None], model.config.size_multiple))[0].numpy()


def nonnegative_least_squares(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """argmin ||a x - b|| over x >= 0 (active set: drop the most negative unknown until none is)."""
    active = list(range(a.shape[1]))
    while True:
        solution = np.zeros(a.shape[1])
        solution[active] = np.linalg.lstsq(a[:, active], b, rcond=None)[0]
        if (solution >= 0).all():
            return solution
        active.remove(int(np.argmin(solution)))


def fit(model: ScaleSpaceDeblur, photos: Path, config: str, count: int, seed: int) -> np.ndarray:
    """Candidate lengths fitted on the training photos; also set in ``model``."""
    pairs = [(length, mean_weights(model, image)) for length, image in known_length_crops(photos, config, "train", count, seed)]
    lengths = nonnegative_least_squares(np.stack([w for _, w in pairs]), np.array([length for length, _ in pairs], float))
    model.candidate_lengths.copy_(torch.from_numpy(lengths).float())
    return lengths


def check(model: ScaleSpaceDeblur, photos: Path, config: str, count: int, seed: int, real_pairs: Path | None) -> None:
    """Print the estimate against the true length on held-out photos, and the estimate on real pairs."""
    estimates: dict[int, list[float]] = {}
    lengths = model.candidate_lengths.numpy()
    for length, image in known_length_crops(photos, config, "test", count, seed):
        estimates.setdefault(length, []).append(float(mean_weights(model, image) @ lengths))
    truth = np.concatenate([[length] * len(values) for length, values in estimates.items()])
    guessed = np.concatenate(list(estimates.values()))
    print(f"candidate lengths (px): " + ", ".join(f"{name} {value:.1f}" for name, value in zip(CANDIDATES, lengths)))
    print(f"held-out photos, {count} crops of {CROP} px per length: correlation {np.corrcoef(truth, guessed)[0, 1]:.2f}, "
          f"Spearman {np.corrcoef(np.argsort(np.argsort(truth)), np.argsort(np.argsort(guessed)))[0, 1]:.2f}\n")
    print("| true length px | estimate px (mean ± sd) |\n| ---: | ---: |")
    for length, values in estimates.items():
        print(f"| {length} | {np.mean(values):.1f} ± {np.std(values):.1f} |")
    if real_pairs is not None:
        print("\n| real pair | estimate px (whole frame) |\n| --- | ---: |")
        for blurred_path, _ in folder_pairs(real_pairs):
            image = torch.from_numpy(read_image_rgb(blurred_path).transpose(2, 0, 1).copy())
            print(f"| {blurred_path.stem} | {float(mean_weights(model, image) @ lengths):.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("checkpoint", type=Path, help="a scale-space checkpoint (.safetensors)")
    parser.add_argument("--photos", type=Path, required=True, help="sharp photos, split by file-name hash as in training")
    parser.add_argument("--config", required=True, help="the recipe whose blur generator makes the crops")
    parser.add_argument("-o", "--output", type=Path, help="write the checkpoint with the fitted lengths here")
    parser.add_argument("--check", action="store_true", help="score the stored estimate on held-out photos")
    parser.add_argument("--real-pairs", type=Path, help="with --check: also estimate the blur of these real pairs")
    parser.add_argument("--count", type=int, default=16, help="crops per length")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if not args.output and not args.check:
        parser.error("give -o OUTPUT to fit, --check to score, or both")
    model = load_checkpoint(args.checkpoint).eval()
    if not isinstance(model, ScaleSpaceDeblur):
        parser.error(f"{args.checkpoint} is not a scale-space model (its config has scale_space = false)")
    if args.output:
        lengths = fit(model, args.photos, args.config, args.count, args.seed)
        print("fitted candidate lengths (px): " + ", ".join(f"{n} {v:.1f}" for n, v in zip(CANDIDATES, lengths)))
        recorded = read_checkpoint_metadata(args.checkpoint)
        extra = {key: value for key, value in recorded.items() if key not in ("format", "config")}
        save_checkpoint(model, args.output, extra)
    if args.check:
        check(model, args.photos, args.config, args.count, args.seed + 1000, args.real_pairs)


if __name__ == "__main__":
    main()
