"""Model-card evaluation: the bundled ONNX models against the blurred input and classical baselines.

Two held-out synthetic sets, both cut from the validation photos (a file-name-hash split the training
never sees), 512x512 crops with the training recipe's texture threshold, deterministic for a seed:
- "camera shake": the training generator's non-uniform blur with the recipe's blur settings (split
  "test", so not the crops used to pick the best checkpoint either);
- "uniform motion": straight-line motion kernels (length in the recipe's blur range, any angle) applied in linear light
  with the same noise/JPEG model, so the TRUE kernel is known and non-blind Wiener and
  Richardson-Lucy deconvolution can be run with it.
Models run through the torch-free runtime's ONNX Runtime backend (what ``deblur-run`` uses);
``--self-ensemble N`` adds a row per model averaged over N flips (``deblur-run --self-ensemble N``).

Example:
    python benchmarks/model_card_eval.py --photos ../shared/data/photos --config configs/bundled-lite.toml \
        --model runtime/models/deblur-lite.onnx --count 24
"""

import argparse
import dataclasses
import time
from pathlib import Path

import numpy as np

from deblur.metrics import psnr, ssim
from deblur.runtime.backend import Backend, open_backend
from deblur.runtime.self_ensemble import FLIPS, flip_ensemble
from deblur.runtime.tiling import run_padded
from deblur.train.baselines import richardson_lucy, unsharp_mask, wiener_deconvolve
from deblur.train.data import BlurSettings, blur_with_kernel, build_dataset, uniform_motion_kernel
from deblur.train.recipes import load_train_config

CROP = 512


def camera_shake_pairs(photos: Path, count: int, seed: int, blur: BlurSettings, min_texture: float):
    """(blurred, sharp, None) from the training generator on held-out photos."""
    dataset = build_dataset("synthetic", photos, "test", crop=CROP, seed=seed, length=count, blur=blur,
                            min_texture=min_texture)
    for index in range(count):
        blurred, sharp = dataset.numpy_item(index)
        yield blurred, sharp, None


def uniform_motion_pairs(photos: Path, count: int, seed: int, blur: BlurSettings, min_texture: float):
    """(blurred, sharp, kernel) with a known straight-line kernel (length in the recipe's range) on held-out photos."""
    dataset = build_dataset("synthetic", photos, "test", crop=CROP, seed=seed + 1, length=count, blur=blur,
                            min_texture=min_texture)
    for index in range(count):
        _, sharp = dataset.numpy_item(index)
        rng = np.random.default_rng([seed, 7, index])
        kernel = uniform_motion_kernel(rng.uniform(*blur.length), rng.uniform(0, 180))
        yield blur_with_kernel(sharp, kernel, rng, blur), sharp, kernel


def model_method(backend: Backend, passes: int = 1):
    """A restore function running ``backend``'s model, averaged over ``passes`` flips."""
    infer = flip_ensemble(backend.infer, passes)

    def restore(blurred: np.ndarray, _kernel) -> np.ndarray:
        chw = np.ascontiguousarray(blurred.transpose(2, 0, 1))[None]
        return run_padded(chw, infer, backend.model.size_multiple)[0].transpose(1, 2, 0)

    return restore


def classical_methods():
    return {
        "blurred input": lambda blurred, _k: blurred,
        "unsharp mask (sigma 2, amount 1)": lambda blurred, _k: unsharp_mask(blurred),
        "Wiener, true kernel (NSR 1e-2)": lambda blurred, k: None if k is None else wiener_deconvolve(blurred, k),
        "Richardson-Lucy, true kernel (30 it.)": lambda blurred, k: None if k is None else richardson_lucy(blurred, k),
    }


def evaluate(pairs, methods) -> dict[str, tuple[float, float, float]]:
    """Mean PSNR, SSIM and ms per image of every method that applies to the pairs."""
    scores: dict[str, list[tuple[float, float, float]]] = {name: [] for name in methods}
    for blurred, sharp, kernel in pairs:
        for name, restore in methods.items():
            start = time.perf_counter()
            restored = restore(blurred, kernel)
            elapsed = (time.perf_counter() - start) * 1000
            if restored is not None:
                restored = np.clip(restored, 0, 1)
                scores[name].append((psnr(restored, sharp), ssim(restored, sharp), elapsed))
    return {name: tuple(np.mean(values, axis=0)) for name, values in scores.items() if values}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, required=True, help="folder of sharp photos (the training folder)")
    parser.add_argument("--config", default="cpu-lite", help="training recipe or file whose blur settings and texture threshold define the sets")
    parser.add_argument("--model", type=Path, action="append", default=[], help="ONNX model; repeatable")
    parser.add_argument("--length", type=float, nargs=2, metavar=("LOW", "HIGH"),
                        help="blur length range in px for both sets (default: the config's)")
    parser.add_argument("--count", type=int, default=24, help="pairs per set")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--self-ensemble", type=int, choices=sorted(FLIPS)[1:],
                        help="also score every model averaged over this many flips")
    args = parser.parse_args()

    methods = classical_methods()
    for path in args.model:
        backend = open_backend(path, "onnxruntime", "cpu", args.threads)
        methods[f"deblur {path.stem}"] = model_method(backend)
        if args.self_ensemble:
            methods[f"deblur {path.stem}, self-ensemble x{args.self_ensemble}"] = model_method(backend, args.self_ensemble)
    recipe = load_train_config(args.config)
    blur = BlurSettings.from_dict(recipe.blur) if recipe.blur is not None else BlurSettings()
    if args.length:
        blur = dataclasses.replace(blur, length=tuple(args.length))
    sets = {
        "camera shake": camera_shake_pairs(args.photos, args.count, args.seed, blur, recipe.min_texture),
        "uniform motion": uniform_motion_pairs(args.photos, args.count, args.seed, blur, recipe.min_texture),
    }
    print(f"{args.count} pairs of {CROP}x{CROP} per set, seed {args.seed}, held-out photos of {args.photos}, "
          f"blur and crops of {args.config}, blur length {blur.length[0]:g}-{blur.length[1]:g} px")
    print("| set | method | PSNR (dB) | SSIM | ms / image |\n| --- | --- | --- | --- | --- |")
    for set_name, pairs in sets.items():
        for method, (mean_psnr, mean_ssim, ms) in evaluate(pairs, methods).items():
            print(f"| {set_name} | {method} | {mean_psnr:.2f} | {mean_ssim:.4f} | {ms:.0f} |")


if __name__ == "__main__":
    main()
