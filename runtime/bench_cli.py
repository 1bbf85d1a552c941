"""`deblur-bench`: inference latency (p50 / p95) and fps per backend and frame size, as a Markdown table."""

import dataclasses
import json
import logging
import sys
from pathlib import Path

import typer

from deblur.atomic import atomic_write
from deblur.output_guard import check_outputs

from .backends.registry import open_backend
from .bench import benchmark, machine_description, markdown_table, parallel_fps, parse_sizes
from .errors import DeblurRunError
from .frame_parallel import MAX_FRAMES
from .model_file import model_kind
from .model_registry import resolve_model

app = typer.Typer(add_completion=False, help="Benchmark a deblur model per backend and frame size (torch-free).")


@app.command()
def main(
    model: list[str] = typer.Option(None, "--model", "-m", help="A bundled model (lite) or an ONNX model or TensorRT engine; repeat to compare (default: lite)."),
    device: list[str] = typer.Option(["auto"], help="ONNX Runtime device(s) for ONNX models: auto, cpu, cuda, tensorrt; repeat to compare."),
    threads: int = typer.Option(None, help="CPU inference threads (default: one per physical core)."),
    sizes: str = typer.Option("640x360,1280x720,1920x1080", help="Frame sizes WIDTHxHEIGHT, comma-separated."),
    warmup: int = typer.Option(2, help="Untimed runs per size."),
    runs: int = typer.Option(10, help="Timed runs per size."),
    parallel_frames: int = typer.Option(1, "--parallel-frames", help="Also time N frames at the same time on N CPU sessions sharing --threads (deblur-run's default is 2): frames per second of them together."),
    json_path: Path = typer.Option(None, "--output", "-o", "--json", help="Also write the results and the machine as JSON here."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --json file (never a model)."),
) -> None:
    """Time a deblur model: latency (p50 / p95) and frames per second per backend, device and frame size,
    printed as a Markdown table (torch-free).

    Example: deblur-bench --model lite.onnx --model lite.engine --sizes 640x360,1280x720 --json bench.json
    """
    logging.basicConfig(format="warning: %(message)s", stream=sys.stderr)
    results = []
    try:
        size_list = parse_sizes(sizes)
        if warmup < 0 or runs < 1 or not 1 <= parallel_frames <= MAX_FRAMES:
            raise DeblurRunError(f"--warmup must be >= 0, --runs >= 1 and --parallel-frames 1 to {MAX_FRAMES}")
        paths = [resolve_model(name) for name in model] if model else [resolve_model(None)]
        if json_path is not None:
            check_outputs([json_path], paths, overwrite)
        for path in paths:
            for name in device if model_kind(path) == "onnx" else ["auto"]:
                runner = open_backend(path, "auto", name, threads)
                siblings = runner.for_parallel_frames(parallel_frames)
                if parallel_frames > 1 and not siblings:
                    typer.echo(f"warning: {path.name} on {runner.provider} runs one frame at a time (--parallel-frames "
                               "needs the CPU provider and a thread per frame)", err=True)
                for width, height in size_list:
                    result = benchmark(runner, width, height, warmup, runs)
                    if siblings:
                        result = dataclasses.replace(result, parallel_frames=len(siblings),
                                                     parallel_fps=parallel_fps(siblings, width, height, runs))
                    results.append(result)
                    typer.echo(f"{path.name} {runner.provider} {width}x{height}: p50 {result.p50_ms:.1f} ms", err=True)
                for backend in [*siblings, runner]:
                    backend.close()
    except (DeblurRunError, ValueError) as exc:  # OutputRefusedError is a ValueError
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    machine = machine_description()
    typer.echo(f"Machine: {machine}\n")
    typer.echo(markdown_table(results))
    if json_path is not None:
        payload = {"machine": machine, "warmup": warmup, "results": [r.to_dict() for r in results]}
        atomic_write(json_path, lambda tmp: tmp.write_text(json.dumps(payload, indent=2) + "\n"))
