"""atomic_write: complete file or nothing under the final name, with ordinary permissions."""

import os
import stat

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
