"""Where an ONNX model's CPU time goes: ONNX Runtime's per-operator profile as a Markdown table.

Each model is profiled on one random frame after a warm-up run; the table sums the kernel time of
every node of an operator type (ORT's fused names, e.g. ``FusedConv``, and its NCHWc layout
``ReorderInput``/``ReorderOutput``), with the share of the model's total and the node count.

``--cpu-fusion`` profiles each fp32 model a second time as ``deblur-run`` loads it on the CPU provider,
with its residual Conv+Add+LeakyReLU fused ahead of the NCHWc layout (``deblur.runtime.backends.cpu_fusion``).

Example (numbers in docs/export.md):
    python -m benchmarks.onnx_profile runtime/models/deblur-lite.onnx --cpu-fusion \
        --size 1280x720 --threads 1 --runs 3
"""

import argparse
import json
import os
import tempfile
from collections import defaultdict
from pathlib import Path

import numpy as np
import onnxruntime as ort

from deblur.contract import INPUT_NAME
from deblur.runtime.backends.cpu_fusion import fused_graph
from deblur.runtime.bench import parse_sizes


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("models", nargs="+", type=Path, help="ONNX files to profile")
    parser.add_argument("--size", default="1280x720", help="frame size WxH (multiples of 8)")
    parser.add_argument("--threads", type=int, default=1, help="ONNX Runtime intra-op threads")
    parser.add_argument("--runs", type=int, default=3, help="profiled runs after one warm-up (times are averaged)")
    parser.add_argument("--top", type=int, default=12, help="operator types listed per model")
    parser.add_argument("--cpu-fusion", action="store_true",
                        help="also profile each fp32 model with the runtime's residual Conv+Add+LeakyReLU fusion")
    return parser.parse_args()


def profile_model(source: Path | bytes, width: int, height: int, threads: int, runs: int) -> dict[str, tuple[float, int]]:
    """Mean milliseconds per run and node count of each operator type, from ORT's profiler (a file or model bytes)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.log_severity_level = 3
    with tempfile.TemporaryDirectory() as folder:
        options.enable_profiling = True
        options.profile_file_prefix = os.path.join(folder, "profile")
        model = source if isinstance(source, bytes) else str(source)
        session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
        dtype = np.float16 if session.get_inputs()[0].type == "tensor(float16)" else np.float32
        frame = np.random.default_rng(0).random((1, 3, height, width)).astype(dtype)
        session.run(None, {INPUT_NAME: frame})  # warm-up: profiled too, dropped below
        for _ in range(runs):
            session.run(None, {INPUT_NAME: frame})
        events = json.loads(Path(session.end_profiling()).read_text())
    return summarise(events, runs)


def summarise(events: list[dict], runs: int) -> dict[str, tuple[float, int]]:
    """Per operator type: kernel milliseconds per run over the last ``runs`` runs, and the nodes of one run."""
    run_starts = sorted(e["ts"] for e in events if e.get("cat") == "Session" and e.get("name") == "model_run")
    first_timed = run_starts[-runs] if len(run_starts) >= runs else 0
    total_us: dict[str, float] = defaultdict(float)
    nodes: dict[str, set[str]] = defaultdict(set)
    for event in events:
        if event.get("cat") != "Node" or not event["name"].endswith("_kernel_time") or event["ts"] < first_timed:
            continue
        op = event["args"]["op_name"]
        total_us[op] += event["dur"]
        nodes[op].add(event["name"])
    return {op: (us / runs / 1000.0, len(nodes[op])) for op, us in total_us.items()}


def markdown(label: str, table: dict[str, tuple[float, int]], top: int) -> str:
    """One model's profile as a Markdown table, slowest operator type first."""
    total = sum(ms for ms, _ in table.values())
    rows = [f"**{label}**: {total:.0f} ms of kernel time per run", "",
            "| operator | ms | share | nodes |", "| --- | --- | --- | --- |"]
    ranked = sorted(table.items(), key=lambda item: -item[1][0])
    for op, (ms, count) in ranked[:top]:
        rows.append(f"| {op} | {ms:.1f} | {100 * ms / total:.1f} % | {count} |")
    rest = ranked[top:]
    if rest:
        rest_ms = sum(ms for _, (ms, _) in rest)
        rows.append(f"| {len(rest)} other types | {rest_ms:.1f} | {100 * rest_ms / total:.1f} % | "
                    f"{sum(count for _, (_, count) in rest)} |")
    return "\n".join(rows)


def main() -> None:
    args = parse_args()
    ((width, height),) = parse_sizes(args.size)
    print(f"ONNX Runtime {ort.__version__}, CPUExecutionProvider, {args.threads} thread(s), {args.size}\n")
    for path in args.models:
        table = profile_model(path, width, height, args.threads, args.runs)
        print(markdown(path.name, table, args.top) + "\n")
        fused = fused_graph(ort, path, ["CPUExecutionProvider"]) if args.cpu_fusion else None
        if fused is not None:
            table = profile_model(fused, width, height, args.threads, args.runs)
            print(markdown(f"{path.name}, residual activations fused (deblur-run on CPU)", table, args.top) + "\n")


if __name__ == "__main__":
    main()
