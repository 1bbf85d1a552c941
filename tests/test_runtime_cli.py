"""deblur-run from the command line: bad input gives one line and a non-zero exit; the runtime is torch-free."""

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import av
import pytest
from typer.testing import CliRunner

from deblur.runtime.cli import app

BIN = Path(sys.executable).parent


def _cli(*args: str):
    return CliRunner().invoke(app, [str(a) for a in args])


def _one_line_error(result, *fragments: str) -> None:
    assert result.exit_code != 0, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0], lines[0]


def test_runs_a_video_and_prints_a_summary(tmp_path, make_video, deblur_onnx):
    clip = make_video(tmp_path / "clip.mp4", frames=3)
    result = _cli(clip, "--model", deblur_onnx, "--threads", "1", "--self-ensemble", "2")
    assert result.exit_code == 0, result.output
    assert "deblurred 3 frames" in result.output and "onnxruntime on CPUExecutionProvider" in result.output
    assert "whole frames, self-ensemble x2" in result.output
    assert (tmp_path / "clip_deblurred.mp4").is_file()


def test_a_coarse_pass_is_named_in_the_summary(tmp_path, make_image, deblur_onnx):
    image, _ = make_image(tmp_path / "shot.png", 40, 56)
    result = _cli(image, "--model", deblur_onnx, "--threads", "1", "--coarse-pass", "2")
    assert result.exit_code == 0, result.output
    assert "deblurred 1 frame in" in result.output and "coarse pass at 1/2, whole frames of the shrunk frame" in result.output
    assert (tmp_path / "shot_deblurred.png").is_file()


def _unsupported_codec_video(tmp_path, make_video) -> Path:
    """A Matroska file whose video codec id no decoder knows (patched from an H.264 file)."""
    data = make_video(tmp_path / "h264.mkv", frames=2).read_bytes()
    path = tmp_path / "unknown_codec.mkv"
    path.write_bytes(data.replace(b"V_MPEG4/ISO/AVC", b"V_QQQQQ/ISO/AVC"))
    return path


def _labelled_onnx(path: Path, metadata: dict, nodes: list, input_type: int, input_shape: list, output_shape: list,
                   initializers: list = ()) -> Path:
    """A deblur-labelled ONNX model ``input`` -> ``output`` made of ``nodes`` (for models the runtime must refuse)."""
    import onnx
    from onnx import TensorProto, helper

    graph = helper.make_graph(nodes, "bad", [helper.make_tensor_value_info("input", input_type, input_shape)],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, output_shape)], list(initializers))
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    for key, value in metadata.items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(path))
    return path


def _models_inference_cannot_use(folder: Path, metadata: dict) -> dict[str, Path]:
    """Deblur-labelled models whose shape or type the runtime cannot feed, or that fail while running."""
    import numpy as np
    from onnx import TensorProto, helper, numpy_helper

    free = ["batch", 3, "height", "width"]
    identity = [helper.make_node("Identity", ["input"], ["output"])]
    gray = [helper.make_node("ReduceMean", ["input"], ["output"], axes=[1], keepdims=1)]
    to_float = [helper.make_node("Cast", ["input"], ["output"], to=TensorProto.FLOAT)]
    reshape = [helper.make_node("Reshape", ["input", "shape"], ["output"])]
    fixed = numpy_helper.from_array(np.array([1, 3, 8, 8], np.int64), "shape")
    return {
        "fixed.onnx": _labelled_onnx(folder / "fixed.onnx", metadata, identity, TensorProto.FLOAT, [1, 3, 64, 64], [1, 3, 64, 64]),
        "gray_out.onnx": _labelled_onnx(folder / "gray_out.onnx", metadata, gray, TensorProto.FLOAT, free, ["batch", 1, "height", "width"]),
        "one_channel_in.onnx": _labelled_onnx(folder / "one_channel_in.onnx", metadata, identity, TensorProto.FLOAT,
                                              ["batch", 1, "height", "width"], ["batch", 1, "height", "width"]),
        "uint8_in.onnx": _labelled_onnx(folder / "uint8_in.onnx", metadata, to_float, TensorProto.UINT8, free, free),
        "fails_running.onnx": _labelled_onnx(folder / "fails_running.onnx", metadata, reshape, TensorProto.FLOAT, free, free, [fixed]),
    }


def _several_pictures(folder: Path) -> dict[str, Path]:
    """A two-page TIFF, a two-frame animated GIF and a gray + alpha TIFF."""
    import numpy as np
    from PIL import Image

    first, second = (Image.fromarray(np.full((16, 16), value, np.uint8)) for value in (40, 200))
    first.save(folder / "pages.tif", save_all=True, append_images=[second])
    first.save(folder / "moving.gif", save_all=True, append_images=[second])
    Image.fromarray(np.full((16, 16, 2), 120, np.uint8), "LA").save(folder / "gray_alpha.tif")
    return {name: folder / name for name in ("pages.tif", "moving.gif", "gray_alpha.tif")}


def test_bad_inputs_give_one_line_and_never_touch_the_input(tmp_path, make_video, deblur_onnx, foreign_onnx, make_metadata):
    clip = make_video(tmp_path / "clip.mp4", frames=2)
    original = clip.read_bytes()
    (tmp_path / "empty.mp4").write_bytes(b"")
    (tmp_path / "truncated.mp4").write_bytes(original[: len(original) // 2])
    (tmp_path / "text.mp4").write_text("this is not a video\n" * 20)
    (tmp_path / "random.onnx").write_bytes(os.urandom(2048))
    blocker = tmp_path / "blocker"
    blocker.write_text("a regular file, so nothing can be created under it")
    model = ("--model", deblur_onnx)
    unusable = _models_inference_cannot_use(tmp_path, make_metadata())
    pages = _several_pictures(tmp_path)
    cases = [
        ((tmp_path / "missing.mp4", *model), ["missing.mp4", "no such file"]),
        ((tmp_path / "empty.mp4", *model), ["empty.mp4", "empty file"]),
        ((tmp_path / "truncated.mp4", *model), ["truncated.mp4", "not a readable video"]),
        ((tmp_path / "text.mp4", *model), ["text.mp4", "not a readable video"]),
        ((_unsupported_codec_video(tmp_path, make_video), *model), ["unknown_codec.mkv", "unsupported video codec"]),
        (("9", *model), ["camera 9", "could not be opened"]),
        ((clip, "-o", clip, "--overwrite", *model), ["clip.mp4", "overwrite an input"]),
        ((clip, "-o", blocker / "out.mp4", *model), ["cannot create output folder"]),
        ((clip, "--model", foreign_onnx), ["foreign.onnx", "not a deblur model"]),
        ((clip, "--model", tmp_path / "random.onnx"), ["random.onnx", "not a loadable ONNX model"]),
        ((clip, "--model", tmp_path / "missing.onnx"), ["missing.onnx", "no such model file"]),
        ((clip, "--model", blocker), ["unknown model file type"]),
        ((clip, "--batch", "0", *model), ["--batch"]),
        ((clip, "--self-ensemble", "3", *model), ["self_ensemble (--self-ensemble) must be one of 1, 2, 4"]),
        ((clip, "--coarse-pass", "9", *model), ["coarse_pass (--coarse-pass) must be between 1 (off) and 8, got 9"]),
        ((clip, "--threads", "0", *model), ["error: threads (--threads) must be an integer at least 1, got 0"]),
        ((clip, "--model", unusable["fixed.onnx"]), ["fixed.onnx", "input size is fixed at 64x64"]),
        ((clip, "--model", unusable["gray_out.onnx"]), ["gray_out.onnx", "output channel count is 1"]),
        ((clip, "--model", unusable["one_channel_in.onnx"]), ["one_channel_in.onnx", "input channel count is 1"]),
        ((clip, "--model", unusable["uint8_in.onnx"]), ["uint8_in.onnx", "input type is tensor(uint8)"]),
        ((clip, "--model", unusable["fails_running.onnx"]), ["fails_running.onnx", "inference failed on a (1, 3, 48, 64) input"]),
        (("rtsp://127.0.0.1:9/none", *model), ["rtsp://127.0.0.1:9/none", "could not be opened"]),
        (("cam ! appsink", *model), ["GStreamer"]),
        ((str(tmp_path / "*.png"), *model), ["no images match"]),
        ((pages["pages.tif"], *model), ["pages.tif", "a TIFF of 2 pages"]),
        ((pages["moving.gif"], *model), ["moving.gif", "GIF is not supported"]),
        ((pages["gray_alpha.tif"], *model), ["gray_alpha.tif", "a gray + alpha TIFF, which OpenCV reads without its alpha"]),
    ]
    for args, fragments in cases:
        _one_line_error(_cli(*args), *fragments)
    assert clip.read_bytes() == original
    assert not (tmp_path / "clip_deblurred.mp4").exists()


def test_no_model_and_no_bundled_model_is_a_clear_error(tmp_path, make_video, monkeypatch):
    from deblur.runtime import model_file

    monkeypatch.setattr(model_file, "BUNDLED_MODEL", "absent-model.onnx")  # an install without the model
    _one_line_error(_cli(make_video(tmp_path / "clip.mp4", frames=2)), "no bundled model", "--model")


def test_failed_run_leaves_no_partial_output(tmp_path, make_video, deblur_onnx):
    clip = make_video(tmp_path / "clip.mp4", frames=2)
    result = _cli(clip, "--model", deblur_onnx, "--tile", "16", "--tile-overlap", "16")
    _one_line_error(result, "--tile")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


TORCH_BLOCKER = textwrap.dedent(
    """
    import sys

    class NoTorch:
        def find_spec(self, name, path=None, target=None):
            if name == "torch" or name.startswith("torch."):
                raise ImportError(f"the runtime imported {name}")
            return None

    sys.meta_path.insert(0, NoTorch())
    """
)


def test_runtime_never_imports_torch(tmp_path):
    """Every runtime module imports with torch made unimportable, and torch stays out of sys.modules."""
    (tmp_path / "sitecustomize.py").write_text(TORCH_BLOCKER)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    modules = sorted(p.stem for p in Path(__import__("deblur.runtime").runtime.__file__).parent.glob("*.py"))
    code = "import importlib, sys\n" + "".join(f"importlib.import_module('deblur.runtime.{m}')\n" for m in modules if m != "__init__")
    code += "assert 'torch' not in sys.modules, 'torch was imported'\nprint('torch-free', len(sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert done.returncode == 0 and "torch-free" in done.stdout, done.stderr
    check = subprocess.run([sys.executable, "-c", "import torch"], env=env, capture_output=True, text=True)
    assert "the runtime imported torch" in check.stderr  # the blocker really is active


@pytest.mark.parametrize("command", ["deblur-run", "deblur-bench"])
def test_cli_help_runs_without_torch(tmp_path, command):
    (tmp_path / "sitecustomize.py").write_text(TORCH_BLOCKER)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    done = subprocess.run([str(BIN / command), "--help"], env=env, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert "Example" in done.stdout  # "Example:" or "Examples:"


def test_subprocess_exit_code_and_stderr_line(tmp_path):
    done = subprocess.run([str(BIN / "deblur-run"), str(tmp_path / "nope.mp4"), "--model", str(tmp_path / "m.onnx")],
                          capture_output=True, text=True)
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.strip().splitlines() == [f"error: {tmp_path / 'm.onnx'}: no such model file"]


def test_a_folder_with_an_unreadable_image_finishes_the_rest_then_fails_and_reruns(tmp_path, make_image, identity_onnx):
    shots = tmp_path / "shots"
    shots.mkdir()
    make_image(shots / "a.png", 16, 16)
    (shots / "b.png").write_bytes(b"not a png")
    result = _cli(shots, "--model", identity_onnx, "--threads", "1")
    assert result.exit_code == 1, result.output
    assert result.output.strip().splitlines()[-1] == f"error: {shots / 'b.png'}: not a readable image"
    assert [p.name for p in (tmp_path / "shots_deblurred").iterdir()] == ["a.png"]
    make_image(shots / "b.png", 16, 16, seed=3)  # repaired
    rerun = _cli(shots, "--model", identity_onnx, "--threads", "1", "--skip-existing")
    assert rerun.exit_code == 0, rerun.output
    assert "deblurred 1 frame in" in rerun.output and "1 skipped (result exists)" in rerun.output
    assert sorted(p.name for p in (tmp_path / "shots_deblurred").iterdir()) == ["a.png", "b.png"]
    _one_line_error(_cli(shots, "--model", identity_onnx, "--jpeg-quality", "0", "--overwrite"), "--jpeg-quality must be 1..100")


def test_crf_and_fps_reach_the_video_writer(tmp_path, make_video, identity_onnx):
    clip = make_video(tmp_path / "clip.mp4", frames=4, size=(64, 48), fps=10)
    out = tmp_path / "out.mp4"
    result = _cli(clip, "--model", identity_onnx, "--threads", "1", "--crf", "30", "--fps", "20", "-o", out)
    assert result.exit_code == 0, result.output
    with av.open(str(out)) as container:
        assert container.streams.video[0].average_rate == 20
    _one_line_error(_cli(clip, "--model", identity_onnx, "--crf", "-1", "-o", tmp_path / "b.mp4"), "--crf must be 0..51")
    _one_line_error(_cli(clip, "--model", identity_onnx, "--fps", "-3", "-o", tmp_path / "c.mp4"), "--fps must be above 0")
    assert not (tmp_path / "b.mp4").exists() and not (tmp_path / "c.mp4").exists()


def test_opencv_is_quieted_through_the_api_each_version_has(monkeypatch):
    # OpenCV 5 has cv2.utils.logging.setLogLevel and no cv2.setLogLevel; OpenCV 4.10 the other way round.
    import types

    import cv2

    from deblur.runtime import cli

    levels = []
    monkeypatch.setattr(cv2, "utils", types.SimpleNamespace(logging=types.SimpleNamespace(setLogLevel=levels.append)))
    cli.quiet_opencv()
    monkeypatch.setattr(cv2, "utils", types.SimpleNamespace())
    monkeypatch.setattr(cv2, "setLogLevel", levels.append, raising=False)
    cli.quiet_opencv()
    assert levels == [cli.OPENCV_LOG_LEVEL_ERROR] * 2 == [2, 2]
