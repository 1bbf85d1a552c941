"""The video pipeline against inference alone: deblur-run's fps over deblur-bench's, for one clip, model and thread count.

Each round first times the backend alone on a frame of the clip's size (what ``deblur-bench`` measures:
warm-up excluded, p50 of ``--runs``), then deblurs the clip's first ``--frames`` frames with the same
backend through the runtime's pipeline (decode, inference and H.264 encode in their own threads, audio
copied, written to a temporary folder and discarded), one frame at a time and, with ``--parallel-frames N``
(N > 1), again with N frames in parallel on N sessions that share the threads (``deblur-run``'s default is 2
where they fit the memory budget, which ``--max-memory-mb`` sets). Rounds alternate the runs, so machine
noise hits them all; the table lists every round and the median ratios. A pipeline's time runs from opening
the output to closing it, the encoder's flush and the parallel sessions' creation included.

Example (numbers in docs/runtime.md):
    python -m benchmarks.pipeline_ratio ../shared/data/real/cockatoo.mp4 --threads 2 --frames 20 --rounds 3 \
        --parallel-frames 2 --max-memory-mb 4096
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from deblur.runtime.backends.registry import load_backend
from deblur.runtime.bench import benchmark, machine_description
from deblur.runtime.runner import deblur_source
from deblur.runtime.settings import DEFAULT_MAX_MEMORY_MB, OutputSettings, RunSettings
from deblur.runtime.sources import open_source


def first_frame_size(clip: str) -> tuple[int, int]:
    """(width, height) of the clip's first frame."""
    frame = next(iter(open_source(clip).frames()))
    height, width = frame.image.shape[:2]
    return width, height


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("clip", help="a video file")
    parser.add_argument("--model", default=None, help="ONNX model or engine (default: the bundled model)")
    parser.add_argument("--threads", type=int, default=None, help="inference threads (default: ONNX Runtime's)")
    parser.add_argument("--frames", type=int, default=20, help="frames the pipeline deblurs per round")
    parser.add_argument("--runs", type=int, default=5, help="timed inferences per round (one warm-up before)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--parallel-frames", type=int, default=1,
                        help="also run the pipeline with this many frames in parallel (1: only one at a time)")
    parser.add_argument("--max-memory-mb", type=float, default=DEFAULT_MAX_MEMORY_MB,
                        help="deblur-run's memory budget: frames run in parallel only where each fits its share")
    args = parser.parse_args()

    modes = [1] + ([args.parallel_frames] if args.parallel_frames > 1 else [])
    settings = {mode: RunSettings(model=args.model, threads=args.threads, max_memory_mb=args.max_memory_mb,
                                  parallel_frames=mode) for mode in modes}
    backend = load_backend(settings[1])
    width, height = first_frame_size(args.clip)
    print(machine_description())
    print(f"{Path(args.clip).name} ({width}x{height}), {backend.model.path.name}, {backend.provider}, "
          f"threads {args.threads or 'default'}, {args.frames} frames per pipeline run\n")
    header = "| round | inference alone fps (p50) | pipeline fps | ratio |"
    for mode in modes[1:]:
        header += f" pipeline fps, {mode} frames in parallel | ratio |"
    print(header + "\n|" + " --- |" + " ---: |" * (1 + 2 * len(modes)))
    ratios: dict[int, list[float]] = {mode: [] for mode in modes}
    with tempfile.TemporaryDirectory(prefix="deblur-pipeline-ratio-") as scratch:
        outputs = OutputSettings(output=Path(scratch) / "out.mp4", overwrite=True, max_frames=args.frames,
                                 show_progress=False)
        for round_number in range(1, args.rounds + 1):
            alone = 1000.0 / benchmark(backend, width, height, warmup=1, runs=args.runs).p50_ms
            row = f"| {round_number} | {alone:.3f} |"
            for mode in modes:
                summary = deblur_source(open_source(args.clip), args.clip, backend, settings[mode], outputs)
                if summary.in_parallel != mode:
                    parser.exit(1, f"error: {summary.in_parallel} frame(s) at a time where {mode} were asked for: each "
                                   f"needs a thread (--threads) and its share of --max-memory-mb at {width}x{height}\n")
                ratios[mode].append(summary.fps / alone)
                row += f" {summary.fps:.3f} | {ratios[mode][-1]:.2f} |"
            print(row, flush=True)
    print("\nmedian ratio (pipeline fps / inference-alone fps): "
          + ", ".join(f"{np.median(ratios[mode]):.2f} with {mode} frame{'s' * (mode > 1)} at a time" for mode in modes))
    backend.close()


if __name__ == "__main__":
    main()
