"""Console scripts: a missing extra is one line and exit code 2; --version and -h on every command."""

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from deblur import __version__, console

ROOT = Path(__file__).resolve().parent.parent
COMMANDS = [value for value in vars(console).values() if isinstance(value, console.Command)]


def _run_without(module: str, command: str, args: list[str], cwd) -> subprocess.CompletedProcess:
    """Run ``deblur.console.<command>(args)`` in a fresh interpreter where ``module`` cannot be imported."""
    script = textwrap.dedent(f"""
        import sys
        sys.modules[{module!r}] = None
        from deblur.console import {command}
        sys.exit({command}({args!r}))
    """)
    return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=cwd, timeout=120)


@pytest.mark.parametrize(
    ("module", "command", "args", "extra"),
    [
        ("cv2", "deblur_run", ["clip.mp4"], "runtime"),
        ("typer", "deblur_bench", ["--help"], "runtime"),
        ("torch", "deblur_train", ["cpu-lite"], "train"),
        ("onnx", "deblur_export", ["model.onnx"], "export"),
        ("skimage", "deblur_demo", ["sample", "demo_output"], "demo"),  # imported inside the command
    ],
)
def test_a_missing_extra_is_one_line_naming_it(tmp_path, module, command, args, extra):
    result = _run_without(module, command, args, tmp_path)
    name = command.replace("_", "-")
    assert result.returncode == 2, result.stderr
    line = result.stderr.strip()
    assert line.startswith(f"error: {name} needs the [{extra}] extra: ") and "\n" not in line, line
    assert line.endswith(f'pip install -e "{ROOT.as_posix()}[{extra}]"'), line  # this checkout, from elsewhere
    assert result.stdout == ""


def test_a_missing_onnxruntime_is_one_line_naming_the_extras(tmp_path, make_video):
    make_video(tmp_path / "clip.mp4", frames=2)
    result = _run_without("onnxruntime", "deblur_run", ["clip.mp4"], tmp_path)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ONNX Runtime is not installed"), result.stderr
    assert f'pip install -e "{ROOT.as_posix()}[runtime]" (CPU), or the [gpu] extra' in lines[0], lines[0]


def test_version_works_without_the_extra(tmp_path):
    result = _run_without("cv2", "deblur_run", ["--version"], tmp_path)
    assert (result.returncode, result.stdout.strip()) == (0, f"deblur-edge {__version__}"), result.stderr


def test_every_command_has_version_and_short_help(capsys):
    scripts = re.findall(r'^(deblur-[\w-]+) = "deblur\.console:', (ROOT / "pyproject.toml").read_text(), re.M)
    assert sorted(command.name for command in COMMANDS) == sorted(scripts) and len(scripts) >= 11
    for command in COMMANDS:
        for flag in ("--version", "-V"):
            assert command([flag]) == 0
            assert capsys.readouterr().out.strip() == f"deblur-edge {__version__}"
    for command in (console.deblur_run, console.deblur_calibrate):
        with pytest.raises(SystemExit) as exit_info:
            command(["-h"])
        assert exit_info.value.code == 0
        assert f"Usage: {command.name}" in capsys.readouterr().out


def test_a_broken_own_module_is_not_reported_as_a_missing_extra():
    broken = console.Command("deblur-broken", "deblur.no_such_module", "runtime")
    with pytest.raises(ModuleNotFoundError):
        broken([])


def test_help_is_plain_with_flags_and_examples(capsys):
    with pytest.raises(SystemExit):
        console.deblur_run(["--help"])
    text = capsys.readouterr().out
    assert "Examples:" in text and "deblur-run a.jpg b.jpg shots/*.png" in text
    assert "--compare " in text and "<bool>" not in text


@pytest.mark.parametrize("command, names", [
    (console.deblur_run, ["-o, --output", "-q, --quiet", "--threads", "--device"]),
    (console.deblur_export, ["-o, --output", "-q, --quiet", "-n, --frames"]),
    (console.deblur_calibrate, ["-o, --output", "-n, --frames"]),
    (console.deblur_train, ["-o, --output", "-q, --quiet", "--threads", "--device"]),
    (console.deblur_eval, ["-o, --output", "-q, --quiet", "--threads", "--device"]),
    (console.deblur_bench, ["-o, --output", "--threads", "--device"]),
    (console.deblur_synth_pool, ["-o, --output", "-q, --quiet", "--device"]),
])  # fmt: skip
def test_commands_share_option_names(capsys, command, names):
    with pytest.raises(SystemExit):
        command(["--help"])
    text = capsys.readouterr().out
    for name in names:
        assert name in text, f"{command.name}: no {name}"


def test_ctrl_c_while_the_command_loads_is_one_line_and_exit_130(monkeypatch, capsys):
    def interrupted(name):
        raise KeyboardInterrupt

    monkeypatch.setattr(console.importlib, "import_module", interrupted)
    assert console.deblur_run(["clip.mp4"]) == console.INTERRUPTED_EXIT == 130
    assert capsys.readouterr().err == "error: deblur-run interrupted while starting; nothing done\n"


def test_python_m_deblur_is_deblur_run_and_bench_help_describes_it(tmp_path, capsys):
    import subprocess
    import sys

    result = subprocess.run([sys.executable, "-m", "deblur", "-V"], capture_output=True, text=True)
    assert (result.returncode, result.stdout.strip()) == (0, f"deblur-edge {__version__}"), result.stderr
    missing = subprocess.run([sys.executable, "-m", "deblur", str(tmp_path / "none.mp4")], capture_output=True,
                             text=True)
    assert missing.returncode == 2 and missing.stderr.strip() == f"error: {tmp_path / 'none.mp4'}: no such file or directory"
    with pytest.raises(SystemExit):
        console.deblur_bench(["--help"])
    help_text = capsys.readouterr().out
    assert "latency" in help_text.split("Options:")[0], help_text
