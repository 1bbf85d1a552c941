"""Each extra installs alone into a fresh venv from this checkout's wheel: its commands run, every other command
runs or names the extra it needs in one line, and the runtime deblurs a clip without torch, also with the oldest
versions of its dependencies that pyproject.toml allows.

The [gpu] extra is not installed here: onnxruntime-gpu is not on this machine's package index (its metadata
is checked in test_packaging.py).
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

from deblur import console

pytestmark = pytest.mark.slow  # ~1-2 min per extra: a venv, the wheel and its dependencies

ROOT = Path(__file__).resolve().parents[1]
OLDEST_RUNTIME = Path(__file__).with_name("oldest-runtime-versions.txt")
OLDEST_EXPORT = Path(__file__).with_name("oldest-export-versions.txt")
COMMANDS = [value for value in vars(console).values() if isinstance(value, console.Command)]
INSTALL_TIMEOUT = 900


def _run(args: list, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([str(a) for a in args], capture_output=True, text=True, timeout=INSTALL_TIMEOUT, **kwargs)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = _run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", out, ROOT])
    assert built.returncode == 0, built.stderr
    return next(out.glob("deblur_edge-*.whl"))


@pytest.fixture(scope="module")
def venv_bin(wheel, tmp_path_factory):
    """``venv_bin(extra)``: the bin folder of a new venv holding ``wheel[extra]`` (torch pinned to the CPU
    build), made once per extra."""
    made: dict[str, Path] = {}

    def make(extra: str, constraints: Path = ROOT / "constraints.txt") -> Path:
        key = f"{extra}-{constraints.stem}"
        if key not in made:
            env = tmp_path_factory.mktemp(f"venv-{key}")
            assert _run([sys.executable, "-m", "venv", env]).returncode == 0
            installed = _run([env / "bin" / "python", "-m", "pip", "install", "-q", "-c", constraints,
                              f"{wheel}[{extra}]"])
            assert installed.returncode == 0, installed.stderr
            made[key] = env / "bin"
        return made[key]

    return make


@pytest.mark.parametrize("extra", ["runtime", "export", "train"])
def test_an_extra_alone_runs_its_commands_and_names_the_others(extra, venv_bin, wheel):
    bin_dir = venv_bin(extra)
    for command in COMMANDS:
        done = _run([bin_dir / command.name, "--help"])
        if command.extra == extra:
            assert done.returncode == 0 and f"Usage: {command.name}" in done.stdout, (command.name, done.stderr)
        elif done.returncode != 0:
            lines = done.stderr.strip().splitlines()
            assert done.returncode == console.MISSING_EXTRA_EXIT and len(lines) == 1, (command.name, done.stderr)
            assert f'pip install "{wheel}[{command.extra}]"' in lines[0], (command.name, lines[0])  # not on the index


def test_the_runtime_extra_deblurs_a_clip_without_torch(venv_bin, tmp_path, make_video):
    bin_dir = venv_bin("runtime")
    has_torch = _run([bin_dir / "python", "-c", "import importlib.util; print(importlib.util.find_spec('torch'))"])
    assert has_torch.stdout.strip() == "None"
    clip = make_video(tmp_path / "clip.mp4", frames=3, size=(64, 48), audio=True)
    done = _run([bin_dir / "deblur-run", clip, "--threads", "1", "-o", tmp_path / "out.mp4"], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "deblurred 3 frames" in done.stderr and (tmp_path / "out.mp4").stat().st_size > 0


def _pins(path: Path) -> dict[str, str]:
    lines = [line.strip() for line in path.read_text().splitlines()]
    return dict(line.split("==") for line in lines if line and not line.startswith("#"))


OLDEST_PYTHON = pytest.mark.skipif(sys.version_info >= (3, 12), reason="numpy 1.24 has no wheels for Python 3.12+")


def _installed_pins(bin_dir: Path, constraints: Path) -> bool:
    """Whether the venv holds exactly the pinned versions (local labels such as torch's ``+cpu`` aside)."""
    listed = _run([bin_dir / "python", "-m", "pip", "list", "--format=freeze"]).stdout.lower().splitlines()
    installed = {line.split("+")[0] for line in listed}
    return {f"{name}=={version}" for name, version in _pins(constraints).items()} <= installed


@OLDEST_PYTHON
def test_the_runtime_runs_on_the_oldest_versions_it_allows(venv_bin, tmp_path, make_video, make_image):
    # Found by this test: with OpenCV 4.8-4.10 deblur-run failed at start (an OpenCV 5 logging call), with typer
    # 0.12 it fails under today's click and with PyAV 12-13 it cannot copy audio (hence the 0.13 and 14 floors).
    bin_dir = venv_bin("runtime", OLDEST_RUNTIME)
    assert _installed_pins(bin_dir, OLDEST_RUNTIME)
    clip = make_video(tmp_path / "clip.mp4", frames=3, size=(64, 48), audio=True)
    image, _ = make_image(tmp_path / "photo.png", 40, 56)
    for source, target in [(clip, tmp_path / "out.mp4"), (image, tmp_path / "out.png")]:
        done = _run([bin_dir / "deblur-run", source, "--threads", "1", "-o", target], cwd=tmp_path)
        assert done.returncode == 0 and target.stat().st_size > 0, done.stderr


@OLDEST_PYTHON
def test_the_exporter_runs_on_the_oldest_versions_it_allows(venv_bin, tmp_path, make_image):
    # Found by this test: onnxslim 0.1.30 wrote IR version 10, which onnxruntime 1.17 cannot load, and onnxruntime
    # 1.17-1.19 could not quantize this network for TensorRT (hence the 1.20 floor of the export extra).
    bin_dir = venv_bin("export", OLDEST_EXPORT)
    assert _installed_pins(bin_dir, OLDEST_EXPORT)
    calibration = tmp_path / "frames"
    calibration.mkdir()
    for seed in range(4):
        make_image(calibration / f"frame{seed}.png", 480, 640, seed=seed)
    out = tmp_path / "out"
    done = _run([bin_dir / "deblur-export", ROOT / "train" / "weights" / "deblur-lite.safetensors", "-o", out,
                 "--fp16", "--int8", "--keep-ends", "yes", "--calib", calibration], cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    names = ("deblur-lite.onnx", "deblur-lite.fp16.onnx", "deblur-lite.int8.onnx")
    ir = _run([bin_dir / "python", "-c", "import json, onnx, sys; print(json.dumps([onnx.load(p).ir_version "
               "for p in sys.argv[1:]]))", *(out / name for name in names)])
    assert max(json.loads(ir.stdout)) <= 9, ir.stdout  # readable by ONNX Runtime 1.17, the runtime's oldest
