"""Model-card evaluation: the bundled ONNX models against the blurred input and classical baselines.

With ``--real-pairs DIR`` (``DIR/blur``, ``DIR/sharp``: real blurred/sharp pairs such as
../shared/data/real-pairs) the real pairs come first, whole images, one row per pair and their mean: the
figure that says whether a model deblurs real footage. Never train on them. ``--real-scale 0.5 0.35`` also
scores them shrunk (their blur shrinks with them): a model that fails at full size but gains on the shrunk
pairs lacks blur length; one that fails on both meets something else its training data lacks.

Held-out synthetic sets, both cut from the validation photos (a file-name-hash split the training
never sees), 512x512 crops with the training recipe's texture threshold, deterministic for a seed:
- "camera shake": the training generator's non-uniform blur with the recipe's blur settings (split
  "test", so not the crops used to pick the best checkpoint either);
- "uniform motion": straight-line motion kernels (length in the recipe's blur range, any angle) applied in linear light
  with the same noise/JPEG model, so the TRUE kernel is known and non-blind Wiener and
  Richardson-Lucy deconvolution can be run with it;
- with ``--length-split 4-16,16-32,32-64``: one camera-shake set per blur-length range (uniform lengths in
  the range, every other setting from the recipe), to see where a model stops coping.
Models run through the torch-free runtime's ONNX Runtime backend (what ``deblur-run`` uses);
``--self-ensemble N`` adds a row per model averaged over N flips (``deblur-run --self-ensemble N``), ``--coarse-pass F``
a row per model run as a coarse pass at 1/F (``deblur-run --coarse-pass F``).

Example:
    python -m benchmarks.model_card_eval --photos ../shared/data/photos --config configs/bundled-lite.toml \
        --model runtime/models/deblur-lite.onnx --count 48 --per-photo
    python -m benchmarks.model_card_eval --real-pairs ../shared/data/real-pairs --photos data/train-all \
        --config configs/real-lite.toml --model runtime/models/deblur-lite.onnx --length-split 4-16,16-32,32-64
"""

import argparse
import dataclasses
import time
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from benchmarks.gain_stats import GainEstimate, gain_estimate
from deblur.coarse_pass import coarse_pass
from deblur.metrics import psnr, ssim
from deblur.runtime.backends.base import Backend
from deblur.runtime.backends.registry import open_backend
from deblur.runtime.self_ensemble import FLIPS, flip_ensemble
from deblur.runtime.tiling import run_padded
from deblur.train.baselines import richardson_lucy, unsharp_mask, wiener_deconvolve
from deblur.train.data import BlurSettings, blur_with_kernel, build_dataset, uniform_motion_kernel
from deblur.train.data.images import read_image_rgb
from deblur.train.data.pair_lists import folder_pairs
from deblur.train.recipes import load_train_config

CROP = 512
INPUT = "blurred input"


def camera_shake_pairs(photos: Path, count: int, seed: int, blur: BlurSettings, min_texture: float):
    """(photo name, blurred, sharp, None) from the training generator on held-out photos."""
    dataset = build_dataset("synthetic", photos, "test", crop=CROP, seed=seed, length=count, blur=blur,
                            min_texture=min_texture)
    for index in range(count):
        blurred, sharp = dataset.numpy_item(index)
        yield photo_name(dataset, index), blurred, sharp, None


def uniform_motion_pairs(photos: Path, count: int, seed: int, blur: BlurSettings, min_texture: float):
    """(photo name, blurred, sharp, kernel) with a known straight-line kernel (length in the recipe's range)."""
    dataset = build_dataset("synthetic", photos, "test", crop=CROP, seed=seed + 1, length=count, blur=blur,
                            min_texture=min_texture)
    for index in range(count):
        _, sharp = dataset.numpy_item(index)
        rng = np.random.default_rng([seed, 7, index])
        kernel = uniform_motion_kernel(rng.uniform(*blur.length), rng.uniform(0, 180))
        yield photo_name(dataset, index), blur_with_kernel(sharp, kernel, rng, blur), sharp, kernel


def real_pairs(folder: Path, scale: float = 1.0):
    """(pair name, blurred, sharp, None) for every pair of ``folder/blur`` and ``folder/sharp``, whole images,
    both shrunk by ``scale`` (area averaging; the blur shrinks with them) when it is below 1."""
    for blurred_path, sharp_path in folder_pairs(folder):
        blurred, sharp = read_image_rgb(blurred_path), read_image_rgb(sharp_path)
        if scale < 1:
            size = (max(1, round(blurred.shape[1] * scale)), max(1, round(blurred.shape[0] * scale)))
            blurred, sharp = (cv2.resize(image, size, interpolation=cv2.INTER_AREA) for image in (blurred, sharp))
        yield blurred_path.stem, blurred, sharp, None


def scale_factor(text: str) -> float:
    """A downscale factor in (0, 1)."""
    try:
        value = float(text)
    except ValueError:
        value = 0.0
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a factor between 0 and 1 (e.g. 0.5), got {text!r}")
    return value


def length_ranges(text: str) -> list[tuple[float, float]]:
    """``"4-16,16-32"`` -> [(4, 16), (16, 32)]."""
    try:
        ranges = [tuple(float(value) for value in part.split("-")) for part in text.split(",")]
    except ValueError:
        ranges = []
    if not ranges or any(len(pair) != 2 or not 0 <= pair[0] <= pair[1] for pair in ranges):
        raise argparse.ArgumentTypeError(f"expected ranges like 4-16,16-32,32-64, got {text!r}")
    return ranges


def photo_name(dataset, index: int) -> str:
    """The held-out photo that pair ``index`` is cut from."""
    return dataset.photos.paths[dataset.photo_position(index)].stem


def model_method(backend: Backend, passes: int = 1, coarse_factor: float = 1.0):
    """A restore function running ``backend``'s model, averaged over ``passes`` flips, as a coarse pass at
    1/``coarse_factor`` (``deblur-run --coarse-pass``; 1: off)."""
    infer = flip_ensemble(backend.infer, passes)

    def run_model(frames: list[np.ndarray]) -> list[np.ndarray]:
        return list(run_padded(np.stack(frames), infer, backend.model.size_multiple))

    def restore(blurred: np.ndarray, _kernel) -> np.ndarray:
        chw = np.ascontiguousarray(blurred.transpose(2, 0, 1))
        (output,) = coarse_pass([chw], coarse_factor, run_model)
        return output.transpose(1, 2, 0)

    return restore


def classical_methods():
    return {
        INPUT: lambda blurred, _k: blurred,
        "unsharp mask (sigma 2, amount 1)": lambda blurred, _k: unsharp_mask(blurred),
        "Wiener, true kernel (NSR 1e-2)": lambda blurred, k: None if k is None else wiener_deconvolve(blurred, k),
        "Richardson-Lucy, true kernel (30 it.)": lambda blurred, k: None if k is None else richardson_lucy(blurred, k),
    }


@dataclass
class MethodScores:
    """Per-pair PSNR, SSIM, milliseconds and photo of one method on one set."""

    psnr: list[float] = field(default_factory=list)
    ssim: list[float] = field(default_factory=list)
    ms: list[float] = field(default_factory=list)
    photos: list[str] = field(default_factory=list)


def evaluate(pairs, methods) -> dict[str, MethodScores]:
    """Per-pair scores of every method that applies to the pairs (input first: it is a method too)."""
    scores = {name: MethodScores() for name in methods}
    for photo, blurred, sharp, kernel in pairs:
        for name, restore in methods.items():
            start = time.perf_counter()
            restored = restore(blurred, kernel)
            elapsed = (time.perf_counter() - start) * 1000
            if restored is not None:
                restored = np.clip(restored, 0, 1)
                record = scores[name]
                record.psnr.append(psnr(restored, sharp))
                record.ssim.append(ssim(restored, sharp))
                record.ms.append(elapsed)
                record.photos.append(photo)
    return {name: record for name, record in scores.items() if record.psnr}


def paired_gain(record: MethodScores, baseline: MethodScores) -> GainEstimate:
    """PSNR gain of ``record`` over ``baseline`` (the blurred input or another model), pair by pair, by photo."""
    gains = [after - before for after, before in zip(record.psnr, baseline.psnr)]
    return gain_estimate(gains, record.photos)


def print_rows(set_name: str, scores: dict[str, MethodScores]) -> None:
    """The model-card table's rows of one set: mean PSNR, gain ± standard error over photos, SSIM, time."""
    for name, record in scores.items():
        gain = "–"
        if name != INPUT:
            estimate = paired_gain(record, scores[INPUT])
            gain = f"{estimate.mean:+.2f} ± {estimate.stderr:.2f}"
        print(f"| {set_name} | {name} | {np.mean(record.psnr):.2f} | {gain} | {np.mean(record.ssim):.4f} "
              f"| {np.mean(record.ms):.0f} |")


def print_differences(set_name: str, scores: dict[str, MethodScores], models: list[str]) -> None:
    """Every other model row against the first, pair by pair: far less noisy than two gains compared."""
    first = scores[models[0]]
    for name in models[1:]:
        difference = paired_gain(scores[name], first)
        print(f"{set_name}: {name} − {models[0]}: {difference.mean:+.3f} ± {difference.stderr:.3f} dB "
              "(paired, standard error over photos)")


def print_per_pair(set_name: str, scores: dict[str, MethodScores]) -> None:
    """One row per pair: input PSNR/SSIM, then each method's PSNR, gain and SSIM."""
    baseline = scores[INPUT]
    methods = [name for name in scores if name != INPUT]
    print(f"\n{set_name}: per pair (PSNR dB / gain dB / SSIM)\n")
    print("| pair | input | " + " | ".join(methods) + " |")
    print("|" + " --- |" * (2 + len(methods)))
    for index, pair in enumerate(baseline.photos):
        cells = " | ".join(f"{scores[name].psnr[index]:.2f} / {scores[name].psnr[index] - baseline.psnr[index]:+.2f} / "
                           f"{scores[name].ssim[index]:.4f}" for name in methods)
        print(f"| {pair} | {baseline.psnr[index]:.2f} / {baseline.ssim[index]:.4f} | {cells} |")


def print_per_photo(set_name: str, scores: dict[str, MethodScores]) -> None:
    """Each held-out photo's pair count, mean input PSNR and mean gain of every method."""
    baseline = scores[INPUT]
    inputs = gain_estimate(baseline.psnr, baseline.photos).per_photo  # the mean input PSNR per photo
    methods = [name for name in scores if name != INPUT]
    gains = {name: paired_gain(scores[name], baseline).per_photo for name in methods}
    print(f"\n{set_name}: mean gain (dB) per held-out photo\n")
    print("| photo | pairs | input PSNR | " + " | ".join(methods) + " |")
    print("|" + " --- |" * (3 + len(methods)))
    for photo, value in inputs.items():
        cells = " | ".join(f"{gains[name][photo]:+.2f}" for name in methods)
        print(f"| {photo} | {baseline.photos.count(photo)} | {value:.2f} | {cells} |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--photos", type=Path, required=True, help="folder of sharp photos (the training folder)")
    parser.add_argument("--real-pairs", type=Path, help="folder of real pairs (blur/, sharp/): scored first")
    parser.add_argument("--real-scale", type=scale_factor, nargs="+", default=[], metavar="FACTOR",
                        help="also score the real pairs shrunk by each factor (e.g. 0.5 0.35): their blur shrinks "
                             "with them, which tells blur length apart from other differences to training data")
    parser.add_argument("--length-split", type=length_ranges, metavar="RANGES",
                        help="camera-shake sets per blur-length range, e.g. 4-16,16-32,32-64 (replaces the "
                             "camera-shake and uniform-motion sets)")
    parser.add_argument("--config", default="cpu-lite", help="training recipe or file whose blur settings and texture threshold define the sets")
    parser.add_argument("--model", type=Path, action="append", default=[], help="ONNX model; repeatable")
    parser.add_argument("--length", type=float, nargs=2, metavar=("LOW", "HIGH"),
                        help="blur length range in px for both sets (default: the config's)")
    parser.add_argument("--count", type=int, default=48, help="pairs per set (they cycle through the held-out photos)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--self-ensemble", type=int, choices=sorted(FLIPS)[1:],
                        help="also score every model averaged over this many flips")
    parser.add_argument("--coarse-pass", type=float, nargs="+", default=[], metavar="FACTOR",
                        help="also score every model as a coarse pass at 1/FACTOR (deblur-run --coarse-pass)")
    parser.add_argument("--per-photo", action="store_true", help="also print each held-out photo's mean gain")
    args = parser.parse_args()
    if args.real_scale and not args.real_pairs:
        parser.error("--real-scale needs --real-pairs")

    models = {}
    for path in args.model:
        backend = open_backend(path, "onnxruntime", "cpu", args.threads)
        models[f"deblur {path.stem}"] = model_method(backend)
        if args.self_ensemble:
            models[f"deblur {path.stem}, self-ensemble x{args.self_ensemble}"] = model_method(backend, args.self_ensemble)
        for factor in args.coarse_pass:
            models[f"deblur {path.stem}, coarse pass 1/{factor:g}"] = model_method(backend, coarse_factor=factor)
    methods = classical_methods() | models
    recipe = load_train_config(args.config)
    blur = BlurSettings.from_dict(recipe.blur) if recipe.blur is not None else BlurSettings()
    if args.length:
        blur = dataclasses.replace(blur, length=tuple(args.length))
    sets = {}
    if args.real_pairs:
        sets["real pairs"] = real_pairs(args.real_pairs)
        for factor in args.real_scale:
            sets[f"real pairs x{factor:g}"] = real_pairs(args.real_pairs, factor)
    if args.length_split:
        for low, high in args.length_split:
            bucket = dataclasses.replace(blur, length=(low, high), length_median=None)
            sets[f"camera shake {low:g}-{high:g} px"] = camera_shake_pairs(args.photos, args.count, args.seed,
                                                                          bucket, recipe.min_texture)
    else:
        sets["camera shake"] = camera_shake_pairs(args.photos, args.count, args.seed, blur, recipe.min_texture)
        sets["uniform motion"] = uniform_motion_pairs(args.photos, args.count, args.seed, blur, recipe.min_texture)
    print(f"{args.count} pairs of {CROP}x{CROP} per set, seed {args.seed}, held-out photos of {args.photos}, "
          f"blur and crops of {args.config}, blur length {blur.length[0]:g}-{blur.length[1]:g} px")
    print("gain: mean PSNR gain over the blurred input ± its standard error over the held-out photos\n")
    print("| set | method | PSNR (dB) | gain (dB) | SSIM | ms / image |\n| --- | --- | --- | --- | --- | --- |")
    results = {set_name: evaluate(pairs, methods) for set_name, pairs in sets.items()}
    for set_name, scores in results.items():
        print_rows(set_name, scores)
    if len(models) > 1:
        print()
        for set_name, scores in results.items():
            print_differences(set_name, scores, list(models))
    real_sets = [set_name for set_name in results if set_name.startswith("real pairs")]
    for set_name in real_sets:
        print_per_pair(set_name, results[set_name])
    if args.per_photo:
        for set_name, scores in results.items():
            if set_name not in real_sets:
                print_per_photo(set_name, scores)


if __name__ == "__main__":
    main()
