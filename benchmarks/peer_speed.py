"""Inference speed of our deblur variants beside NAFNet-w32 and MIMO-UNet, as a Markdown table.

Example (1 ONNX Runtime thread, the two default sizes, median of 3 runs after one warm-up):
    python -m benchmarks.peer_speed --sizes 256x256 1280x720 --runs 3 --threads 1

Every model goes through the exporter's settings (TorchScript exporter, opset 17, dynamic batch, height
and width, constant folding, onnxslim) and is timed on ONNX Runtime CPU, round-robin over the models
within each repeat so that machine noise hits all alike. Rows: our paper variant (C = 32, random weights,
seed 0), the bundled deblur-lite.onnx (trained, C = 24), and the two peers
(benchmarks/peer_models.py: written from the papers, random weights, seed 0). Speed does not depend on
the weights, so random ones stand in for the papers' trained models. With a CUDA GPU the table also
gets PyTorch fp16 / bf16 and ONNX Runtime CUDA frames per second at 1280x720.
"""

import argparse
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import onnx
import onnxruntime as ort
import torch
from torch import nn

from benchmarks.interleaved_timing import interleaved_medians_ms
from benchmarks.peer_models import NAFNET_SIZE_MULTIPLE, FullResolutionOutput, MIMOUNet, conv_macs, nafnet_w32
from deblur.contract import INPUT_NAME
from deblur.export.onnx_export import finish_onnx, simplify_preserving_numbers, trace_to_onnx
from deblur.export.onnx_graph import read_metadata
from deblur.export.ort_session import run
from deblur.export.sample_images import natural_image, to_nchw
from deblur.model.complexity import count_macs, count_parameters
from deblur.model.config import VARIANTS, ModelConfig
from deblur.model.unet import DeblurUNet
from deblur.runtime.bench import machine_description, parse_sizes
from deblur.runtime.model_file import bundled_model_path


GPU_SIZE = (1280, 720)
PAPER_ROW = "deblur paper (C=32, random)"


@dataclass
class Candidate:
    """One table row: an ONNX graph and, when it has one, the torch network it came from."""

    name: str
    proto: onnx.ModelProto
    parameters: int
    macs: int | None  # at 1280x720; None where not counted
    torch_build: Callable[[], nn.Module] | None


def parse_size(text: str) -> tuple[int, int]:
    """'WxH' -> (W, H), both multiples of NAFNET_SIZE_MULTIPLE (ours needs 8, MIMO-UNet 4)."""
    try:
        ((width, height),) = parse_sizes(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"size must be WxH, got {text!r}") from error
    if width <= 0 or height <= 0 or width % NAFNET_SIZE_MULTIPLE or height % NAFNET_SIZE_MULTIPLE:
        raise argparse.ArgumentTypeError(f"width and height must be positive multiples of {NAFNET_SIZE_MULTIPLE}, got {text!r}")
    return width, height


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", type=parse_size, default=[(256, 256), (1280, 720)], help="input sizes WxH")
    parser.add_argument("--runs", type=int, default=3, help="timed runs per model and size (median; after one warm-up)")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads (also torch's, for export)")
    return parser.parse_args(argv)


def seeded(build: Callable[[], nn.Module]) -> Callable[[], nn.Module]:
    """``build`` with torch's seed set to 0 first, so every call gives the same random weights."""
    def build_seeded() -> nn.Module:
        torch.manual_seed(0)
        return build().eval()
    return build_seeded


def our_candidate(name: str, config: ModelConfig) -> Candidate:
    """Our network of ``config`` with random weights (seed 0), exported by our exporter."""
    build = seeded(lambda: DeblurUNet(config))
    model = build()
    proto, _ = finish_onnx(model, trace_to_onnx(model), "random weights (seed 0)")
    return Candidate(name, proto, count_parameters(model), count_macs(config, GPU_SIZE[1], GPU_SIZE[0]), build)


def bundled_candidate() -> Candidate:
    """The shipped deblur-lite.onnx (trained weights); its torch stand-in for GPU timing has random weights."""
    proto = onnx.load(str(bundled_model_path()))
    config = ModelConfig.from_json(read_metadata(proto).config)
    build = seeded(lambda: DeblurUNet(config))
    name = f"deblur-lite bundled (C={config.width}, trained)"
    return Candidate(name, proto, count_parameters(build()), count_macs(config, GPU_SIZE[1], GPU_SIZE[0]), build)


def peer_candidate(name: str, build: Callable[[], nn.Module]) -> Candidate:
    """A peer network with random weights (seed 0), traced and slimmed with the exporter's settings."""
    build = seeded(build)
    model = build()
    proto, _ = simplify_preserving_numbers(trace_to_onnx(model))
    return Candidate(name, proto, count_parameters(model), conv_macs(build, GPU_SIZE[1], GPU_SIZE[0]), build)


def mimo_unet_full_resolution() -> nn.Module:
    return FullResolutionOutput(MIMOUNet())


def candidates() -> list[Candidate]:
    """Every row of the table, our paper variant first."""
    ours = [our_candidate(PAPER_ROW, VARIANTS["paper"]), bundled_candidate()]
    peers = [peer_candidate("NAFNet-w32 (random)", nafnet_w32),
             peer_candidate("MIMO-UNet (random)", mimo_unet_full_resolution)]
    return ours + peers


def ort_session(proto: onnx.ModelProto, provider: str, threads: int) -> ort.InferenceSession:
    """An ONNX Runtime session on one provider, memory-pattern planning off."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.enable_mem_pattern = False
    options.log_severity_level = 3
    return ort.InferenceSession(proto.SerializeToString(), options, providers=[provider])


def sample_batch(size: tuple[int, int]) -> np.ndarray:
    width, height = size
    return to_nchw([natural_image(height, width, seed=1)])


def ort_runners(rows: list[Candidate], provider: str, threads: int, batch: np.ndarray) -> dict[str, Callable[[], object]]:
    sessions = {row.name: ort_session(row.proto, provider, threads) for row in rows}
    return {name: (lambda s=session: run(s, batch)) for name, session in sessions.items()}


def cpu_latencies_ms(rows: list[Candidate], sizes: list[tuple[int, int]], runs: int, threads: int) -> dict[str, list[float]]:
    """Per row, the median CPU latency at each size (models interleaved within each repeat)."""
    by_size = [interleaved_medians_ms(ort_runners(rows, "CPUExecutionProvider", threads, sample_batch(size)), runs)
               for size in sizes]
    return {row.name: [medians[row.name] for medians in by_size] for row in rows}


def cuda_available() -> bool:
    return torch.cuda.is_available() or "CUDAExecutionProvider" in ort.get_available_providers()


def torch_cuda_runners(rows: list[Candidate], dtype: torch.dtype) -> dict[str, Callable[[], object]]:
    """One synchronised forward pass at GPU_SIZE per row that has a torch network."""
    image = torch.rand(1, 3, GPU_SIZE[1], GPU_SIZE[0], device="cuda", dtype=dtype)
    runners = {}
    for row in rows:
        if row.torch_build is not None:
            model = row.torch_build().to("cuda", dtype)
            runners[row.name] = lambda m=model: _synchronized_forward(m, image)
    return runners


def _synchronized_forward(model: nn.Module, image: torch.Tensor) -> None:
    with torch.inference_mode():
        model(image)
    torch.cuda.synchronize()


def gpu_fps(rows: list[Candidate], runs: int) -> dict[str, list[float | None]]:
    """Per row, frames per second at GPU_SIZE for torch fp16, torch bf16 and ORT CUDA (None: not measured)."""
    columns = []
    for dtype in (torch.float16, torch.bfloat16):
        columns.append(interleaved_medians_ms(torch_cuda_runners(rows, dtype), runs) if torch.cuda.is_available() else {})
    if "CUDAExecutionProvider" in ort.get_available_providers():
        columns.append(interleaved_medians_ms(ort_runners(rows, "CUDAExecutionProvider", 0, sample_batch(GPU_SIZE)), runs))
    else:
        columns.append({})
    return {row.name: [1000.0 / column[row.name] if row.name in column else None for column in columns] for row in rows}


GPU_HEADERS = ["torch fp16 fps", "torch bf16 fps", "ORT-CUDA fps"]


def _cell(value: float | None, fmt: str) -> str:
    return "—" if value is None else format(value, fmt)


def markdown_table(rows: list[Candidate], sizes: list[tuple[int, int]], latencies: dict[str, list[float]],
                   fps: dict[str, list[float | None]] | None) -> str:
    """The table: params, GMACs, CPU ms per size, ratio to the paper variant per size, GPU fps if measured."""
    labels = [f"{w}x{h}" for w, h in sizes]
    headers = (["model", "params M", f"GMACs {GPU_SIZE[0]}x{GPU_SIZE[1]}"] + [f"{label} ms" for label in labels]
               + [f"{label} vs paper" for label in labels] + (GPU_HEADERS if fps else []))
    lines = ["| " + " | ".join(headers) + " |", "|---|" + "---:|" * (len(headers) - 1)]
    paper = latencies[PAPER_ROW]
    for row in rows:
        ms = latencies[row.name]
        cells = [row.name, f"{row.parameters / 1e6:.2f}", _cell(None if row.macs is None else row.macs / 1e9, ".1f")]
        cells += [f"{value:.0f}" for value in ms] + [f"{value / base:.2f}x" for value, base in zip(ms, paper)]
        cells += [_cell(value, ".1f") for value in fps[row.name]] if fps else []
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    torch.set_num_threads(args.threads)
    rows = candidates()
    latencies = cpu_latencies_ms(rows, args.sizes, args.runs, args.threads)
    fps = gpu_fps(rows, args.runs) if cuda_available() else None

    print(machine_description())
    print(f"ONNX Runtime CPU, {args.threads} thread(s), memory pattern off; median of {args.runs} runs after one "
          f"warm-up, models interleaved; input '{INPUT_NAME}' 1x3xHxW float32")
    if fps is None:
        print("no GPU present (no CUDA in torch, no CUDAExecutionProvider in ONNX Runtime): GPU columns skipped")
    else:
        print(f"GPU columns at {GPU_SIZE[0]}x{GPU_SIZE[1]}, batch 1: torch rows have random weights; ORT-CUDA "
              "includes the host-device copies")
    print()
    print(markdown_table(rows, args.sizes, latencies, fps))


if __name__ == "__main__":
    main()
