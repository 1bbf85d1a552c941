"""The video pipeline against inference alone: deblur-run's fps over deblur-bench's, for one clip, model and thread count.

Each round first times the backend alone on a frame of the clip's size (what ``deblur-bench`` measures:
warm-up excluded, p50 of ``--runs``), then deblurs the clip's first ``--frames`` frames with the same
backend through the runtime's pipeline (decode, inference and H.264 encode in their own threads, audio
copied, written to a temporary folder and discarded). Rounds alternate the two, so machine noise hits both;
the table lists every round and the median ratio. The pipeline's time runs from opening the output to
closing it, the encoder's flush included.

Example (numbers in docs/runtime.md):
    python benchmarks/pipeline_ratio.py ../shared/data/real/cockatoo.mp4 --threads 2 --frames 20 --rounds 3
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

from deblur.runtime.backends.registry import open_backend
from deblur.runtime.bench import benchmark, machine_description
from deblur.runtime.runner import RunOptions, deblur_source
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
    args = parser.parse_args()

    backend = open_backend(args.model, threads=args.threads)
    width, height = first_frame_size(args.clip)
    print(machine_description())
    print(f"{Path(args.clip).name} ({width}x{height}), {backend.model.path.name}, {backend.provider}, "
          f"threads {args.threads or 'default'}, {args.frames} frames per pipeline run\n")
    print("| round | inference alone fps (p50) | pipeline fps | ratio |\n| --- | ---: | ---: | ---: |")
    ratios = []
    with tempfile.TemporaryDirectory(prefix="deblur-pipeline-ratio-") as scratch:
        output = Path(scratch) / "out.mp4"
        options = RunOptions(output=output, overwrite=True, max_frames=args.frames, show_progress=False)
        for round_number in range(1, args.rounds + 1):
            alone = 1000.0 / benchmark(backend, width, height, warmup=1, runs=args.runs).p50_ms
            summary = deblur_source(open_source(args.clip), args.clip, backend, options)
            ratios.append(summary.fps / alone)
            print(f"| {round_number} | {alone:.3f} | {summary.fps:.3f} | {ratios[-1]:.2f} |", flush=True)
    print(f"\nmedian ratio {np.median(ratios):.2f} (pipeline fps / inference-alone fps)")
    backend.close()


if __name__ == "__main__":
    main()
