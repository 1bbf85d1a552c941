"""Training in real subprocesses: 2-process torchrun (gloo on CPU) and kill -9 followed by --resume."""

import os
import re
import signal
import subprocess
import sys
import time

import pytest
import torch

from deblur.model.checkpoint import load_checkpoint, load_training_state
from deblur.train.loop import weight_checksum
from deblur.train.run_paths import RunPaths

from test_training_cli import write_photos

pytestmark = pytest.mark.slow

CHECKSUM = re.compile(r"rank (\d)/(\d): stopped by (\w+) at step (\d+), weights checksum (\S+)")


def train_command(photos, run_dir, *extra: str) -> list[str]:
    return [sys.executable, "-m", "deblur.train.cli", "cpu-lite-smoke", "--data", str(photos), "--out", str(run_dir),
            "--quiet", "--threads", "1", *extra]


def run_ok(command: list[str], timeout: float = 240) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout + result.stderr


def test_two_process_torchrun_matches_one_process(tmp_path):
    photos = write_photos(tmp_path / "photos")
    launcher = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node=2", "--standalone"]
    ddp_args = train_command(photos, tmp_path / "ddp", "--set", "batch_size=4", "--max-steps", "4")[1:]
    output = run_ok(launcher + ddp_args)

    finished = {int(m[0]): m for m in CHECKSUM.findall(output)}
    assert sorted(finished) == [0, 1] and all(m[1] == "2" and m[3] == "4" for m in finished.values())
    assert finished[0][4] == finished[1][4]  # both ranks hold identical weights
    model = load_checkpoint(RunPaths(tmp_path / "ddp").last)
    assert f"{weight_checksum(model):.12e}" == finished[0][4]
    start = RunPaths(tmp_path / "ddp").metrics.read_text().splitlines()[0]
    assert '"world_size": 2' in start

    # The same global batch of 4 in one process: the same optimisation up to float summation order.
    run_ok(train_command(photos, tmp_path / "single", "--set", "batch_size=4", "--max-steps", "4"))
    single = load_checkpoint(RunPaths(tmp_path / "single").last).state_dict()
    for name, value in model.state_dict().items():
        assert torch.allclose(value, single[name], atol=1e-4), name


def test_kill_9_then_resume_loses_at_most_one_interval(tmp_path):
    photos = write_photos(tmp_path / "photos")
    run_dir = tmp_path / "run"
    paths = RunPaths(run_dir)
    settings = ["--set", "checkpoint_every=5", "--set", "val_every=1000", "--set", "log_every=1"]
    process = subprocess.Popen(train_command(photos, run_dir, "--max-steps", "100000", *settings),
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not _checkpointed_past(paths, 12):
            assert process.poll() is None, "training exited before it was killed"
            time.sleep(0.05)
        assert _checkpointed_past(paths, 12), "no checkpoint within 120 s"
    finally:
        os.kill(process.pid, signal.SIGKILL)
        process.wait()

    reached = max(r["step"] for r in _records(paths) if r["kind"] == "train")
    state = load_training_state(paths.state)  # the final names hold complete files
    load_checkpoint(paths.last)
    assert reached - state["step"] <= 5

    target = reached + 6
    output = run_ok(train_command(photos, run_dir, "--resume", "--max-steps", str(target), *settings))
    assert f"from step {state['step']}" in output and f"done: step {target}" in output
    starts = [r for r in _records(paths) if r["kind"] == "start"]
    assert starts[-1]["resumed_from"] == state["step"] >= reached - 5
    steps = [r["step"] for r in _records(paths) if r["kind"] == "train"]
    assert steps == list(range(1, target + 1))  # the log was rewound: no step twice
    assert not [p.name for p in run_dir.rglob("*.tmp")]

    # Killed-and-resumed ends with the same weights as a run that was never interrupted.
    run_ok(train_command(photos, tmp_path / "straight", "--max-steps", str(target), *settings))
    resumed = load_checkpoint(paths.last).state_dict()
    straight = load_checkpoint(RunPaths(tmp_path / "straight").last).state_dict()
    assert all(torch.equal(resumed[k], straight[k]) for k in straight)


def _records(paths: RunPaths) -> list[dict]:
    from deblur.train.run_log import MetricsLog

    return MetricsLog(paths.metrics).read()


def _checkpointed_past(paths: RunPaths, step: int) -> bool:
    if not paths.state.exists():
        return False
    return load_training_state(paths.state)["step"] >= step
