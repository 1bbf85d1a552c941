"""No hidden global state: importing a module changes nothing outside it, settings are read when used."""

import subprocess
import sys

from deblur.runtime.backends.onnxruntime import engine_cache_dir


def test_importing_the_run_log_chooses_no_matplotlib_backend():
    script = (
        "import sys, deblur.train.run_log\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot imported'\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


def test_the_metrics_plot_is_a_png_drawn_without_pyplot(tmp_path):
    from deblur.train.run_log import plot_metrics

    records = [{"kind": "train", "step": s, "loss": 1.0 / s, "mse": 0.5 / s} for s in (1, 2, 3)]
    records += [{"kind": "val", "step": 3, "psnr": 25.0}, {"kind": "baseline", "step": 0, "psnr": 24.0}]
    plot_metrics(records, tmp_path / "metrics.png")
    assert (tmp_path / "metrics.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_the_ort_engine_cache_follows_the_environment_when_used(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    assert engine_cache_dir() == tmp_path / "deblur" / "ort-tensorrt"
