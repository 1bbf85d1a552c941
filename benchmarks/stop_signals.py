"""Stop deblur-run with SIGINT / SIGTERM at random moments, many times: hangs, exit statuses, playable outputs.

Each run deblurs a long clip of tiny frames (so the frame loop and its queues are as busy as they get),
waits until the temporary output holds encoded frames, sleeps a random 0-300 ms and sends one signal, or
two 0-50 ms apart. A run that has not exited 20 s later counts as a hang (its threads' stacks are printed,
by faulthandler on SIGABRT). The default model is an identity ONNX with deblur metadata, the fastest one
there is; ``--model`` takes any other.

Example (numbers in CHANGELOG.md):
    python -m benchmarks.stop_signals --runs 200
"""

import argparse
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import av
import numpy as np
import onnx
from onnx import TensorProto, helper

from deblur.clip_writer import write_h264_clip
from deblur.contract import ModelMetadata
from deblur.model.config import ModelConfig

DEBLUR_RUN = Path(sys.executable).parent / "deblur-run"
HANG_SECONDS = 20


def write_identity_model(path: Path) -> Path:
    """An ONNX whose output is its input, labelled as a deblur model so that deblur-run accepts it."""
    shape = ["batch", 3, "height", "width"]
    graph = helper.make_graph([helper.make_node("Identity", ["input"], ["output"])], "identity",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, shape)])
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    for key, value in ModelMetadata.for_config(ModelConfig(variant="test", width=8), "none (identity)").to_props().items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(path))
    return path


def write_long_clip(path: Path, frames: int, size: int) -> Path:
    """``frames`` frames of a moving square at 25 fps, with an AAC tone."""
    pictures = []
    for index in range(frames):
        image = np.full((size, size, 3), 64, np.uint8)
        top, left = (3 * index) % (size - 8), (5 * index) % (size - 8)
        image[top : top + 8, left : left + 8] = 250
        pictures.append(image)
    return write_h264_clip(path, pictures, 25, audio_rate=16000)


def decoded_frames(path: Path) -> int:
    """Frames decodable from ``path`` (0 when it is missing or unreadable)."""
    if not path.exists():
        return 0
    try:
        with av.open(str(path)) as container:
            return sum(1 for _ in container.decode(video=0))
    except av.error.FFmpegError:
        return 0


def stop_once(clip: Path, model: Path, work: Path, rng: random.Random) -> tuple[str, str]:
    """Run deblur-run on a copy of ``clip`` in ``work``, signal it; (signals sent, outcome)."""
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    source = Path(shutil.copy(clip, work / "clip.mp4"))
    process = subprocess.Popen([str(DEBLUR_RUN), str(source), "--model", str(model), "--threads", "1"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env=dict(os.environ, PYTHONFAULTHANDLER="1"))
    while not any(p.suffix == ".tmp" and p.stat().st_size > 48 for p in work.iterdir()):
        if process.poll() is not None:
            return "none", f"ended before the signal (exit {process.returncode})"
        time.sleep(0.002)
    time.sleep(rng.uniform(0, 0.3))
    signals = [rng.choice((signal.SIGINT, signal.SIGTERM)) for _ in range(rng.choice((1, 2)))]
    for signum in signals:
        process.send_signal(signum)
        time.sleep(rng.uniform(0, 0.05))
    sent = "+".join(signal.Signals(s).name for s in signals)
    try:
        _, stderr = process.communicate(timeout=HANG_SECONDS)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGABRT)
        _, stderr = process.communicate()
        print(f"hang after {sent}:\n{stderr}", file=sys.stderr)
        return sent, "hang"
    playable = decoded_frames(work / "clip_deblurred.mp4") > 0
    if "Traceback" in stderr:
        return sent, "traceback"
    if process.returncode == 130:
        return sent, "exit 130, plays" if playable else "exit 130, no playable output"
    if len(signals) > 1 and process.returncode < 0 and "interrupted after" in stderr:
        return sent, f"finished, then ended by {signal.Signals(-process.returncode).name}" + (", plays" if playable else "")
    return sent, f"exit {process.returncode}" + (", plays" if playable else "")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100)
    parser.add_argument("--model", type=Path, help="ONNX model (default: an identity model)")
    parser.add_argument("--frames", type=int, default=6000, help="clip length")
    parser.add_argument("--size", type=int, default=32, help="square frame size in pixels")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="deblur-stop-") as folder:
        root = Path(folder)
        model = args.model or write_identity_model(root / "identity.onnx")
        clip = write_long_clip(root / "source.mp4", args.frames, args.size)
        counts: dict[tuple[str, str], int] = {}
        for _ in range(args.runs):
            key = stop_once(clip, model, root / "run", rng)
            counts[key] = counts.get(key, 0) + 1
    print(f"{args.runs} runs of deblur-run, {args.frames} frames of {args.size}x{args.size}, model {args.model or 'identity'}")
    print("| signals | outcome | runs |\n|---|---|---:|")
    for (sent, outcome), count in sorted(counts.items()):
        print(f"| {sent} | {outcome} | {count} |")
    print(f"hangs: {sum(n for (_, outcome), n in counts.items() if outcome == 'hang')}")


if __name__ == "__main__":
    main()
