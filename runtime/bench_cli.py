"""`deblur-bench`: inference latency (p50 / p95) and fps per backend and frame size, as a Markdown table."""

import json
import logging
import sys
from pathlib import Path

import typer

from deblur.atomic import atomic_write
from deblur.output_guard import check_outputs

from .backends.registry import open_backend
from .bench import benchmark, machine_description, markdown_table, parse_sizes
from .errors import DeblurRunError
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
    json_path: Path = typer.Option(None, "--output", "-o", "--json", help="Also write the results and the machine as JSON here."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace an existing --json file (never a model)."),
) -> None:
    """Example: deblur-bench --model lite.onnx --model lite.engine --sizes 640x360,1280x720 --json bench.json"""
    logging.basicConfig(format="warning: %(message)s", stream=sys.stderr)
    results = []
    try:
        size_list = parse_sizes(sizes)
        if warmup < 0 or runs < 1:
            raise DeblurRunError("--warmup must be >= 0 and --runs >= 1")
        paths = [resolve_model(name) for name in model] if model else [resolve_model(None)]
        if json_path is not None:
            check_outputs([json_path], paths, overwrite)
        for path in paths:
            for name in device if model_kind(path) == "onnx" else ["auto"]:
                runner = open_backend(path, "auto", name, threads)
                for width, height in size_list:
                    results.append(benchmark(runner, width, height, warmup, runs))
                    typer.echo(f"{path.name} {runner.provider} {width}x{height}: p50 {results[-1].p50_ms:.1f} ms", err=True)
                runner.close()
    except (DeblurRunError, ValueError) as exc:  # OutputRefusedError is a ValueError
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from exc
    machine = machine_description()
    typer.echo(f"Machine: {machine}\n")
    typer.echo(markdown_table(results))
    if json_path is not None:
        payload = {"machine": machine, "warmup": warmup, "results": [r.to_dict() for r in results]}
        atomic_write(json_path, lambda tmp: tmp.write_text(json.dumps(payload, indent=2) + "\n"))
