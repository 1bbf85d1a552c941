"""The Python API: ``from deblur import Deblurrer`` on single frames and batches, and every refusal."""

import re
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from deblur import Deblurrer
from deblur.runtime.backends.registry import open_backend
from deblur.runtime.deblurrer import FrameDeblurrer
from deblur.runtime.errors import ModelFileError
from deblur.runtime.model_registry import BUNDLED_MODELS, BundledModel, resolve_model

README = Path(__file__).resolve().parents[1] / "README.md"


@pytest.fixture
def deblur(deblur_onnx):
    with Deblurrer(deblur_onnx, threads=1) as deblurrer:
        yield deblurrer


def _frame(height: int, width: int, dtype=np.uint8, seed: int = 0) -> np.ndarray:
    values = np.random.default_rng(seed).random((height, width, 3))
    if np.dtype(dtype).kind == "f":
        return values.astype(dtype)
    return np.rint(values * np.iinfo(dtype).max).astype(dtype)


def test_import_deblur_is_cheap_and_the_api_is_torch_free():
    script = textwrap.dedent("""
        import sys
        import deblur
        assert not {"cv2", "onnxruntime", "torch"} & set(sys.modules), sorted(sys.modules)
        from deblur import Deblurrer
        assert Deblurrer.__module__ == "deblur.runtime.api"
        assert "torch" not in sys.modules
    """)
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float16, np.float32, np.float64])
def test_one_frame_keeps_shape_and_dtype(deblur, dtype):
    frame = _frame(21, 30, dtype)  # not multiples of 8: padded and cropped back
    result = deblur(frame)
    assert result.shape == frame.shape and result.dtype == frame.dtype
    if np.dtype(dtype).kind == "f":
        assert 0.0 <= result.min() and result.max() <= 1.0


def test_uint8_bgr_matches_the_command_line_path(deblur, deblur_onnx):
    bgr = _frame(24, 40)
    with Deblurrer(deblur_onnx, color="bgr", threads=1) as bgr_deblur:
        np.testing.assert_array_equal(bgr_deblur(bgr), FrameDeblurrer(bgr_deblur._backend, bgr_deblur.settings)([bgr])[0])
        np.testing.assert_array_equal(bgr_deblur(bgr), deblur(np.ascontiguousarray(bgr[..., ::-1]))[..., ::-1])


def test_float_and_integer_frames_agree(deblur):
    frame = _frame(16, 24, np.uint16)
    as_float = deblur(frame.astype(np.float32) / 65535)
    assert np.abs(deblur(frame).astype(np.float32) / 65535 - as_float).max() < 1e-4


def test_batch_of_mixed_sizes_and_an_nhwc_array(deblur_onnx):
    frames = [_frame(16, 16, seed=1), _frame(24, 32, seed=2), _frame(16, 16, seed=3)]
    with Deblurrer(deblur_onnx, threads=1, batch_size=2) as deblur:
        singles = [deblur(frame) for frame in frames]
        for got, want in zip(deblur.batch(frames), singles):
            np.testing.assert_allclose(got, want, atol=1)  # batched float sums may differ in the last bit
        stacked = deblur.batch(np.stack([frames[0], frames[2]]))
    assert len(stacked) == 2 and stacked[1].shape == (16, 16, 3)


def test_parallel_frames_give_the_same_frames_and_free_their_sessions(deblur_onnx, capsys):
    frames = [_frame(24, 32, seed=seed) for seed in range(5)] + [_frame(16, 16, seed=9)]
    with Deblurrer(deblur_onnx, threads=1) as one_at_a_time:
        expected = one_at_a_time.batch(frames)
    deblur = Deblurrer(deblur_onnx, threads=2, parallel_frames=2)
    assert len(deblur._siblings) == 2 and deblur._pool.size == 2
    for got, want in zip(deblur.batch(frames), expected):
        np.testing.assert_array_equal(got, want)
    deblur.close()
    assert all(not hasattr(sibling, "session") for sibling in deblur._siblings)
    capsys.readouterr()
    with pytest.warns(RuntimeWarning, match=r"parallel_frames=2: CPUExecutionProvider runs one frame at a time"):
        single_thread = Deblurrer(deblur_onnx, threads=1, parallel_frames=2)
    assert not single_thread._siblings and not capsys.readouterr().err  # a warning, not bare stderr
    single_thread.close()


def test_runtime_warnings_reach_api_users_as_warnings_in_api_words(identity_fp16_onnx):
    with pytest.warns(RuntimeWarning, match="identity-fp16.onnx: fp16 ONNX files are built for TensorRT") as caught:
        Deblurrer(identity_fp16_onnx, device="cpu", threads=1).close()
    assert not any("--device" in str(w.message) for w in caught)


@pytest.mark.parametrize(
    ("frame", "error", "fragment"),
    [
        ([np.zeros((8, 8, 3), np.uint8)], TypeError, "use .batch"),
        (np.zeros((8, 8), np.uint8), ValueError, "gray"),
        (np.zeros((8, 8, 4), np.uint8), ValueError, "RGBA"),
        (np.zeros((1, 8, 8, 3), np.uint8), ValueError, "HxWx3"),
        (np.zeros((1, 8, 3), np.uint8), ValueError, "at least 2x2"),
        (np.zeros((8, 8, 3), np.int32), TypeError, "unsupported dtype int32"),
        (np.full((8, 8, 3), 2.0, np.float32), ValueError, "in [0, 1], got 2..2"),
        (np.full((8, 8, 3), np.nan, np.float32), ValueError, "in [0, 1]"),
    ],
)
def test_wrong_frames_are_refused_clearly(deblur, frame, error, fragment):
    with pytest.raises(error, match=re.escape(fragment)):
        deblur(frame)


def test_wrong_settings_and_use_after_close(deblur_onnx):
    for settings, fragment in [({"color": "rgba"}, "color must be"), ({"self_ensemble": 3}, "self_ensemble (--self"),
                               ({"tile": 4}, "tile (--tile) must be"), ({"batch_size": 0}, "batch_size in Deblurrer"),
                               ({"coarse_pass": 0.5}, "coarse_pass (--coarse-pass) must be between 1"),
                               ({"parallel_frames": -1}, "parallel_frames (--parallel-frames) must be"),
                               ({"parallel_frames": 17}, "from 0 to 16"),
                               ({"parallel_frames": 2, "batch_size": 2}, "choose one way to run frames together")]:
        with pytest.raises(ValueError, match=re.escape(fragment)):
            Deblurrer(deblur_onnx, **settings)
    deblur = Deblurrer(str(deblur_onnx), threads=1)  # str paths work as well as Path
    with pytest.raises(TypeError, match="sequence of HxWx3 frames"):
        deblur.batch(_frame(8, 8))
    deblur.close()
    with pytest.raises(RuntimeError, match="closed"):
        deblur(_frame(8, 8))


def test_models_by_name_and_path(tmp_path, deblur_onnx):
    assert resolve_model(None) == resolve_model("lite") == BUNDLED_MODELS["lite"].path()
    assert resolve_model(str(deblur_onnx)) == deblur_onnx
    if not (BUNDLED_MODELS["lite"].path().parent / "deblur-paper.onnx").exists():
        with pytest.raises(ModelFileError, match="model 'paper' is not bundled yet"):
            Deblurrer("paper")
    with pytest.raises(ModelFileError, match="no such model file"):
        Deblurrer(tmp_path / "missing.onnx")
    shipped_under_another_name = BundledModel("other", BUNDLED_MODELS["lite"].file_name, "test")
    assert shipped_under_another_name.path() == BUNDLED_MODELS["lite"].path()


def test_open_backend_takes_str_paths_and_none(deblur_onnx):
    backend = open_backend(str(deblur_onnx), device="cpu", threads=1)
    assert backend.model.width == 8
    backend.close()
    default = open_backend(None, device="cpu", threads=1)
    assert default.model.path.name == "deblur-lite.onnx"
    default.close()


def test_readme_videocapture_example_runs(tmp_path, make_video, monkeypatch):
    """The README's Python example, run as written on a small video named like the one it opens."""
    example = re.search(r"## Python API.*?```python\n(.*?)```", README.read_text(), re.DOTALL).group(1)
    assert len([line for line in example.splitlines() if line.strip() and not line.startswith(("import", "from"))]) == 5
    make_video(tmp_path / "clip.mp4", frames=3, size=(48, 32))
    monkeypatch.chdir(tmp_path)
    exec(compile(example, "README.md", "exec"), {})
    written = sorted(tmp_path.glob("sharp_*.png"))
    assert [p.name for p in written] == ["sharp_0000.png", "sharp_0001.png", "sharp_0002.png"]
    assert cv2.imread(str(written[0])).shape == (32, 48, 3)
