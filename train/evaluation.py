"""PSNR/SSIM of a model over a dataset of (blurred, sharp) pairs under the GoPro or RealBlur protocol.

GoPro protocol: the full image is reflect-padded to a multiple of 8, restored, cropped back,
rounded to 8 bits (as the published numbers are computed on saved PNGs) and compared with the
sharp image (``deblur.metrics.psnr`` / ``ssim``).

RealBlur protocol (Rim et al., ECCV 2020, ``evaluation_RealBlur_ecc.py``): the output is first
intensity-matched to the ground truth (least-squares gain), then aligned to it with ECC
(``cv2.findTransformECC``, homography by default, 100 iterations, on grayscale), warped with
bicubic interpolation; pixels the warp brings in from outside the image are masked out and PSNR is
the MSE over the valid pixels. SSIM is the Gaussian-window SSIM map (11x11, sigma 1.5) averaged
over the valid pixels away from a 5-pixel border. As in that script, the blurred input is scored
without alignment.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from deblur.atomic import atomic_write
from deblur.coarse_pass import check_factor, coarse_pass
from deblur.metrics import psnr, ssim, ssim_map
from deblur.model.config import SIZE_MULTIPLE, ConfigError

from .data.degrade import quantize_8bit


PROTOCOLS = ("gopro", "realblur")
MOTIONS = {"homography": cv2.MOTION_HOMOGRAPHY, "translation": cv2.MOTION_TRANSLATION}
_ECC_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 100, 0)
_SSIM_BORDER = 5  # half of the 11x11 window

Restore = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class ImageScore:
    """Scores of one pair; ``output_*`` are None when only the blurred input was scored."""

    name: str
    input_psnr: float
    input_ssim: float
    output_psnr: float | None = None
    output_ssim: float | None = None
    note: str = ""


def pad_to_multiple(x: torch.Tensor, multiple: int = SIZE_MULTIPLE) -> torch.Tensor:
    """Reflect-pad the bottom and right of an NCHW tensor to a multiple of ``multiple``."""
    h, w = x.shape[-2:]
    pad_h, pad_w = -h % multiple, -w % multiple
    if not (pad_h or pad_w):
        return x
    mode = "reflect" if pad_h < h and pad_w < w else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


def model_restorer(model: torch.nn.Module, device: torch.device, coarse_factor: float = 1.0) -> Restore:
    """``restore(blurred)`` for one (3, H, W) image of any size: pad, run in eval mode, crop back, clamp.

    With ``coarse_factor`` above 1 the model runs as ``deblur-run --coarse-pass`` runs it: on the image shrunk by
    that factor, its correction upsampled and added (``deblur.coarse_pass``).
    """
    check_coarse_factor(coarse_factor)
    multiple = model.config.size_multiple if hasattr(model, "config") else SIZE_MULTIPLE

    @torch.no_grad()
    def run(blurred: torch.Tensor) -> torch.Tensor:
        h, w = blurred.shape[-2:]
        batch = pad_to_multiple(blurred.unsqueeze(0).to(device), multiple)
        return model(batch)[0, :, :h, :w].float().cpu()

    def run_arrays(frames: list[np.ndarray]) -> list[np.ndarray]:
        return [run(torch.from_numpy(chw)).numpy() for chw in frames]

    def restore(blurred: torch.Tensor) -> torch.Tensor:
        if coarse_factor == 1:  # training validation: stays in torch, input on any device
            return run(blurred).clamp(0, 1)
        (result,) = coarse_pass([blurred.float().numpy()], coarse_factor, run_arrays)
        return torch.from_numpy(result).clamp(0, 1)

    return restore


def check_coarse_factor(factor: float) -> None:
    """ConfigError unless ``factor`` is one ``deblur-run --coarse-pass`` takes (the runtime's ``check_factor``)."""
    try:
        check_factor(factor)
    except ValueError as error:
        raise ConfigError(str(error)) from error


def to_image(tensor: torch.Tensor) -> np.ndarray:
    """(3, H, W) float tensor in [0, 1] -> H x W x 3 float32 RGB array."""
    return tensor.detach().float().cpu().permute(1, 2, 0).numpy()


def align_ecc(image: np.ndarray, reference: np.ndarray, motion: str = "homography") -> tuple[np.ndarray, np.ndarray]:
    """Intensity-match and ECC-align ``image`` to ``reference`` (H x W x 3 float32 RGB).

    Returns the aligned image and the validity mask (1 where the warp had source pixels).
    Raises ``cv2.error`` when ECC does not converge.
    """
    image = image.astype(np.float32)
    reference = reference.astype(np.float32)
    gain = float(np.sum(reference * image) / max(float(np.sum(image * image)), 1e-12))
    matched = gain * image
    warp = np.eye(3, 3, dtype=np.float32) if motion == "homography" else np.eye(2, 3, dtype=np.float32)
    _, warp = cv2.findTransformECC(
        cv2.cvtColor(reference, cv2.COLOR_RGB2GRAY),
        cv2.cvtColor(matched, cv2.COLOR_RGB2GRAY),
        warp,
        MOTIONS[motion],
        _ECC_CRITERIA,
        None,
        5,
    )
    size = (reference.shape[1], reference.shape[0])
    warp_fn = cv2.warpPerspective if motion == "homography" else cv2.warpAffine
    aligned = warp_fn(matched, warp, size, flags=cv2.INTER_CUBIC + cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REFLECT)
    mask = warp_fn(
        np.ones_like(matched),
        warp,
        size,
        flags=cv2.INTER_NEAREST + cv2.WARP_INVERSE_MAP,
        borderMode=cv2.BORDER_CONSTANT,
        borderValue=0,
    )
    return aligned, mask


def masked_psnr_ssim(image: np.ndarray, reference: np.ndarray, mask: np.ndarray) -> tuple[float, float]:
    """PSNR and SSIM over the pixels where ``mask`` is 1 (all three arrays H x W x 3)."""
    image, reference, mask = (a.astype(np.float64) for a in (image, reference, mask))
    image, reference = image * mask, reference * mask
    mse = float(np.sum((image - reference) ** 2) / max(float(mask.sum()), 1.0))
    psnr_value = float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)
    inner = (slice(_SSIM_BORDER, -_SSIM_BORDER), slice(_SSIM_BORDER, -_SSIM_BORDER))
    per_channel = []
    for c in range(image.shape[-1]):
        masked_map = ssim_map(image[..., c], reference[..., c]) * mask[..., c]
        per_channel.append(masked_map[inner].sum() / max(mask[..., c][inner].sum(), 1.0))
    return psnr_value, float(np.mean(per_channel))


def score_output(
    output: np.ndarray, sharp: np.ndarray, protocol: str, motion: str = "homography"
) -> tuple[float, float, str]:
    """(PSNR, SSIM, note) of a restored image under ``protocol``."""
    if protocol == "gopro":
        return psnr(output, sharp), ssim(output, sharp), ""
    try:
        aligned, mask = align_ecc(output, sharp, motion)
    except cv2.error:
        mask = np.ones_like(output)
        return (*masked_psnr_ssim(output, sharp, mask), "ECC did not converge; scored unaligned")
    return (*masked_psnr_ssim(aligned, sharp, mask), "")


def evaluate(
    pairs: Iterable[tuple[str, torch.Tensor, torch.Tensor]],
    restore: Restore | None = None,
    protocol: str = "gopro",
    motion: str = "homography",
    on_image: Callable[[ImageScore, np.ndarray, np.ndarray | None, np.ndarray], None] | None = None,
) -> list[ImageScore]:
    """Score ``(name, blurred, sharp)`` pairs; with ``restore`` also the restored outputs.

    ``on_image(score, blurred, output, sharp)`` receives each result with the H x W x 3 images
    (e.g. to save side-by-side pictures or advance a progress bar).
    """
    if protocol not in PROTOCOLS:
        raise ConfigError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    if motion not in MOTIONS:
        raise ConfigError(f"ECC motion must be one of {sorted(MOTIONS)}, got {motion!r}")
    scores = []
    for name, blurred, sharp in pairs:
        blurred_img, sharp_img = to_image(blurred), to_image(sharp)
        score = ImageScore(name, psnr(blurred_img, sharp_img), ssim(blurred_img, sharp_img))
        output_img = None
        if restore is not None:
            output_img = quantize_8bit(to_image(restore(blurred)))
            out_psnr, out_ssim, note = score_output(output_img, sharp_img, protocol, motion)
            score = ImageScore(name, score.input_psnr, score.input_ssim, out_psnr, out_ssim, note)
        scores.append(score)
        if on_image is not None:
            on_image(score, blurred_img, output_img, sharp_img)
    return scores


def mean_scores(scores: list[ImageScore]) -> dict[str, float]:
    """Mean of each metric over the images (output metrics only if every image has them)."""
    keys = ["input_psnr", "input_ssim"]
    if scores and all(s.output_psnr is not None for s in scores):
        keys += ["output_psnr", "output_ssim"]
    return {key: float(np.mean([getattr(s, key) for s in scores])) for key in keys}


def markdown_table(scores: list[ImageScore], per_image: bool = False) -> str:
    """Markdown table of PSNR/SSIM for input and output: optionally one row per image, then the mean."""
    header = "| image | input PSNR | input SSIM | output PSNR | output SSIM | note |\n" + "| --- " * 6 + "|"

    formats = {"input_psnr": "{:.2f}", "input_ssim": "{:.4f}", "output_psnr": "{:.2f}", "output_ssim": "{:.4f}"}

    def row(name: str, values: dict, note: str = "") -> str:
        cells = [fmt.format(values[k]) if values.get(k) is not None else "-" for k, fmt in formats.items()]
        return f"| {name} | " + " | ".join(cells) + f" | {note} |"

    rows = [row(s.name, vars(s), s.note) for s in scores] if per_image else []
    unaligned = sum(bool(s.note) for s in scores)
    mean_note = f"{unaligned} scored unaligned" if unaligned else ""
    rows.append(row(f"**mean of {len(scores)}**", mean_scores(scores), mean_note))
    return "\n".join([header, *rows])


def side_by_side(blurred: np.ndarray, output: np.ndarray | None, sharp: np.ndarray) -> np.ndarray:
    """blurred | output | sharp as one 8-bit BGR image (OpenCV order, ready for imwrite)."""
    panels = [p for p in (blurred, output, sharp) if p is not None]
    rgb = np.concatenate([np.clip(p, 0, 1) for p in panels], axis=1)
    return cv2.cvtColor(np.round(rgb * 255).astype(np.uint8), cv2.COLOR_RGB2BGR)


def write_image(path: Path, image_bgr: np.ndarray) -> None:
    """Encode by the file's extension and write atomically."""
    path = Path(path)
    ok, encoded = cv2.imencode(path.suffix or ".png", image_bgr)
    if not ok:
        raise ConfigError(f"{path}: OpenCV cannot encode images of this type")
    atomic_write(path, lambda tmp: tmp.write_bytes(encoded.tobytes()))


def dataset_pairs(dataset) -> Iterable[tuple[str, torch.Tensor, torch.Tensor]]:
    """``(name, blurred, sharp)`` for each item of a (blurred, sharp) dataset."""
    for index in range(len(dataset)):
        blurred, sharp = dataset[index]
        yield item_name(dataset, index), blurred, sharp


def item_name(dataset, index: int) -> str:
    """``scene/file`` for file pairs, ``photo#index`` for synthetic pairs, else the index."""
    from .data import PairedImages, SyntheticPairs

    if isinstance(dataset, PairedImages):
        blurred = Path(dataset.pair_for(index).blurred)
        return f"{blurred.parent.parent.name}/{blurred.name}"
    if isinstance(dataset, SyntheticPairs):
        return f"{dataset.photos.paths[dataset.photo_position(index)].name}#{index}"
    return f"{index:05d}"
