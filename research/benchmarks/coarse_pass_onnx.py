"""A coarse pass as one ONNX file, to score it like any model (``model_card_eval.py``, ``deblur-run``).

The graph shrinks the frame by F (AveragePool F, stride F: area averaging), runs the COARSE checkpoint's network
on it, upsamples its correction (bilinear Resize) and adds it to the frame; with ``--then`` the FINE checkpoint's
network then runs on the result at full size. Inputs must be multiples of 8F (the file's
``deblur.size_multiple``, which the runtime pads to). For experiments: deblur-export does not write these.

    python -m research.benchmarks.coarse_pass_onnx runs/coarse4/checkpoints/best.safetensors --factor 4 -o COARSE4-PASS.onnx
    python -m research.benchmarks.coarse_pass_onnx runs/coarse4/checkpoints/best.safetensors --factor 4 \
        --then train/weights/deblur-lite.safetensors -o COARSE4-THEN-LITE.onnx
"""

import argparse
from pathlib import Path

import onnx
import torch
import torch.nn.functional as functional
from torch import nn

from deblur.contract import SIZE_MULTIPLE, ModelMetadata
from deblur.export.onnx_export import trace_to_onnx
from deblur.export.onnx_graph import write_metadata
from deblur.model.checkpoint import load_checkpoint


class CoarsePass(nn.Module):
    """``x + upsample(coarse(shrink(x)) - shrink(x))``, then ``fine`` at full size when given (which clamps its own
    output), else clamped to [0, 1]."""

    def __init__(self, coarse: nn.Module, factor: int, fine: nn.Module | None = None):
        super().__init__()
        self.coarse, self.factor, self.fine = coarse, factor, fine

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        small = functional.avg_pool2d(x, self.factor)
        correction = functional.interpolate(self.coarse(small) - small, scale_factor=self.factor, mode="bilinear",
                                            align_corners=False)
        x = x + correction
        return self.fine(x) if self.fine is not None else x.clamp(0.0, 1.0)


def export_coarse_pass(coarse: Path, factor: int, output: Path, fine: Path | None = None) -> None:
    """Trace the coarse pass to ``output`` with dynamic batch, height and width and deblur metadata."""
    model = CoarsePass(load_checkpoint(coarse).eval(), factor, load_checkpoint(fine).eval() if fine else None).eval()
    proto = trace_to_onnx(model, sample_size=(2 * SIZE_MULTIPLE * factor, 3 * SIZE_MULTIPLE * factor))
    described = f"coarse pass at 1/{factor}: {coarse.name}" + (f", then {fine.name} at full size" if fine else "")
    write_metadata(proto, ModelMetadata.for_config(model.coarse.config, described)
                   .replace(size_multiple=SIZE_MULTIPLE * factor))
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(output))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("coarse", type=Path, help="checkpoint of the network run at 1/F")
    parser.add_argument("--factor", type=int, default=4, help="shrink factor F")
    parser.add_argument("--then", type=Path, default=None, help="checkpoint of a network run at full size after it")
    parser.add_argument("-o", "--output", type=Path, required=True, help="ONNX file to write")
    args = parser.parse_args()
    if args.factor < 1:
        parser.error("--factor must be a positive integer")
    export_coarse_pass(args.coarse, args.factor, args.output, args.then)
    print(f"{args.output}: coarse pass at 1/{args.factor}" + (f", then {args.then}" if args.then else ""))


if __name__ == "__main__":
    main()
