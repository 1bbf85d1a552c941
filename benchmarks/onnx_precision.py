"""fp32 / fp16 / int8 ONNX of a deblur variant: accuracy against fp32 and ONNX Runtime CPU latency, as a Markdown table.

Example (numbers in docs/export.md):
    python -m benchmarks.onnx_precision --variant lite --calib photos/ --frames 10 --threads 2

Without --checkpoint the model has random weights (seed 0): the fp16 figures then describe the
arithmetic, but INT8 figures must be re-measured on the trained model (pass --checkpoint).
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np
import onnx
import torch

from deblur.calibration.collect import collect_frames
from deblur.calibration.tiles import center_crop
from deblur.export.fp16 import make_fp16
from deblur.export.int8 import EVAL_CROP, TENSORRT, make_int8, split_held_out
from deblur.export.onnx_export import export_onnx
from deblur.export.onnx_graph import with_all_outputs
from deblur.export.ort_session import cpu_session, median_latency_ms, run
from deblur.export.sample_images import natural_image, to_nchw
from deblur.export.verify import check_batches
from deblur.metrics import psnr, ssim
from deblur.model.checkpoint import load_checkpoint
from deblur.model.config import VARIANTS
from deblur.model.unet import DeblurUNet


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--variant", choices=sorted(VARIANTS), default="lite")
    parser.add_argument("--checkpoint", type=Path, help="trained weights (default: random weights, seed 0)")
    parser.add_argument("--calib", nargs="+", required=True, help="calibration/evaluation images or videos")
    parser.add_argument("--frames", type=int, default=10, help="frames taken from --calib (1 in 5 held out)")
    parser.add_argument("--sizes", nargs="+", default=["256x256", "1280x720"], help="latency input sizes WxH")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2, help="ONNX Runtime intra-op threads")
    return parser.parse_args()


def held_out_quality(fp32: onnx.ModelProto, model: onnx.ModelProto, frames: list[np.ndarray]) -> tuple[float, float]:
    """Mean PSNR and SSIM of ``model``'s output against fp32's on centred crops of ``frames``."""
    ref, test = cpu_session(fp32), cpu_session(model)
    scores = []
    for frame in frames:
        batch = center_crop(frame, EVAL_CROP)
        a, b = run(ref, batch)[0].transpose(1, 2, 0), run(test, batch)[0].transpose(1, 2, 0)
        scores.append((psnr(a, b), ssim(a, b)))
    return float(np.mean([s[0] for s in scores])), float(np.mean([s[1] for s in scores]))


def main() -> None:
    args = parse_args()
    torch.manual_seed(0)
    model = load_checkpoint(args.checkpoint) if args.checkpoint else DeblurUNet(VARIANTS[args.variant])
    frames, _ = collect_frames(args.calib, args.frames)
    _, held_out = split_held_out(frames)

    with tempfile.TemporaryDirectory() as scratch:
        fp32 = export_onnx(model, Path(scratch) / "m.onnx", training_data="random weights (seed 0)")
    fp16, fp16_report = make_fp16(fp32, check_batches())
    int8, int8_report = make_int8(fp32, frames, TENSORRT)

    sizes = [tuple(int(v) for v in size.split("x")) for size in args.sizes]
    inputs = {size: to_nchw([natural_image(size[1], size[0], seed=1)]) for size in sizes}
    rows = []
    for name, proto, quality_model in (
        ("fp32", fp32, fp32),
        ("fp16", fp16, with_all_outputs(fp16)),  # every tensor stored in half, as on a GPU
        ("int8 QDQ", int8, int8),
    ):
        quality = held_out_quality(fp32, quality_model, held_out) if proto is not fp32 else (float("inf"), 1.0)
        session = cpu_session(proto, args.threads)
        latencies = [median_latency_ms(session, inputs[size], args.repeats) for size in sizes]
        rows.append((name, len(proto.SerializeToString()) / 1e6, *quality, *latencies))

    weights = f"checkpoint {args.checkpoint.name}" if args.checkpoint else "random weights"
    print(f"{args.variant} (width {model.config.width}, {weights}); {len(held_out)} held-out frames, "
          f"crops <= {EVAL_CROP}px; ORT CPU, {args.threads} threads, median of {args.repeats}")
    header = "| model | MB | PSNR vs fp32 dB | SSIM vs fp32 | " + " | ".join(f"{w}x{h} ms" for w, h in sizes) + " |"
    print(header)
    print("|---|---:|---:|---:|" + "---:|" * len(sizes))
    for name, mb, p, s, *ms in rows:
        print(f"| {name} | {mb:.1f} | {p:.1f} | {s:.5f} | " + " | ".join(f"{m:.0f}" for m in ms) + " |")
    peak_name, peak = fp16_report.peak_activations[0]
    print(f"\nfp16: {len(fp16_report.kept_fp32)} nodes kept fp32; largest fp32 activation {peak:.3g} ({peak_name})")
    print("int8: " + "; ".join(f"{k}: {v.psnr:.1f} dB / SSIM {v.ssim:.5f}" for k, v in int8_report.alternatives.items())
          + f" -> kept in float: {len(int8_report.kept_float)} nodes"
          + (f", those of {', '.join(int8_report.float_modules)}" if int8_report.float_modules else ""))


if __name__ == "__main__":
    main()
