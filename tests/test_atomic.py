"""atomic_write: complete file or nothing under the final name, with ordinary permissions."""

import os
import stat
import subprocess
import sys

import pytest

from deblur.atomic import atomic_write


def test_writes_the_file_with_umask_permissions(tmp_path):
    target = tmp_path / "sub" / "out.txt"
    atomic_write(target, lambda tmp: tmp.write_text("done"))
    assert target.read_text() == "done"
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o666 & ~mask
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.txt"]


def test_the_process_umask_is_never_touched(tmp_path, monkeypatch):
    def no_umask(mask):
        raise AssertionError("atomic_write changed the process umask")

    monkeypatch.setattr(os, "umask", no_umask)
    atomic_write(tmp_path / "out.txt", lambda tmp: tmp.write_text("done"))
    assert (tmp_path / "out.txt").read_text() == "done"


def test_a_failing_writer_leaves_the_old_file_and_no_temp(tmp_path):
    target = tmp_path / "out.txt"
    target.write_text("old")

    def fail(tmp):
        tmp.write_text("partial")
        raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        atomic_write(target, fail)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_temps_of_dead_writers_are_removed_before_writing_and_live_or_foreign_ones_kept(tmp_path):
    target = tmp_path / "out.mp4"
    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    stale = tmp_path / f".out.mp4.{int(dead.stdout)}.ab_cd123.tmp"
    live = tmp_path / f".out.mp4.{os.getpid()}.zz998877.tmp"
    foreign = [tmp_path / ".out.mp4.notes.tmp", tmp_path / f".other.mp4.{int(dead.stdout)}.ab_cd123.tmp"]
    for path in (stale, live, *foreign):
        path.write_bytes(b"\0" * 48)
    atomic_write(target, lambda tmp: tmp.write_text("done"))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in (target, live, *foreign))


def test_temp_names_carry_the_writing_process(tmp_path):
    seen = []
    atomic_write(tmp_path / "x.json", lambda tmp: seen.append(tmp.name) or tmp.write_text("{}"))
    assert seen[0].startswith(f".x.json.{os.getpid()}.") and seen[0].endswith(".tmp")


def test_a_sigkilled_deblur_run_leaves_a_temp_that_the_next_run_removes(tmp_path, make_video, deblur_onnx):
    import signal
    import time

    clip = make_video(tmp_path / "clip.mp4", frames=300, size=(64, 48))
    output = tmp_path / "clip_deblurred.mp4"
    run = [sys.executable, "-c", "from deblur.console import deblur_run; raise SystemExit(deblur_run())"]
    args = [str(clip), "--model", str(deblur_onnx), "--threads", "1", "--parallel-frames", "1", "-q"]
    killed = subprocess.Popen(run + args)
    deadline = time.monotonic() + 60
    while not list(tmp_path.glob(".clip_deblurred.mp4.*.tmp")) and killed.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(0.3)
    os.kill(killed.pid, signal.SIGKILL)
    killed.wait()
    litter = list(tmp_path.glob(".clip_deblurred.mp4.*.tmp"))
    assert litter and not output.exists(), "SIGKILL leaves the temporary (no process can remove it)"
    assert f".{killed.pid}." in litter[0].name

    rerun = subprocess.run(run + args + ["--max-frames", "2"], capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    assert output.is_file() and not list(tmp_path.glob(".*.tmp"))


def test_a_temp_whose_pid_now_belongs_to_a_later_process_is_stale(tmp_path):
    from deblur.atomic import _process_start, remove_stale_temps

    if _process_start(os.getpid()) is None:
        pytest.skip("process start times come from Linux's /proc")

    target = tmp_path / "out.png"
    mine = tmp_path / f".out.png.{os.getpid()}.ab_cd123.tmp"  # this pid, but written before this process started
    mine.write_bytes(b"")
    os.utime(mine, (1_000_000, 1_000_000))
    current = tmp_path / f".out.png.{os.getpid()}.zz998877.tmp"  # this process's own, being written
    current.write_bytes(b"")
    assert remove_stale_temps(target) == [mine]
    assert current.exists()
