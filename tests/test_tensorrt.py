"""TensorRT engine building, checked without TensorRT: profiles, trtexec line, sidecar JSON, the missing-TensorRT path."""

import json
import subprocess
import sys
from pathlib import Path

import onnx
import pytest
from typer.testing import CliRunner

from deblur.export.cli import app
from deblur.export.fp16 import convert_to_fp16
from deblur.contract import ModelMetadata, Precision
from deblur.engine_sidecar import ProfileError, Sidecar, parse_shape
from deblur.export.tensorrt_build import (
    EngineOptions,
    TensorRTUnavailable,
    build_engine,
    builder_flags,
    engine_options_for,
    engine_sidecar,
    make_profile,
    trtexec_command,
)
from deblur.model.config import ModelConfig

runner = CliRunner()
PROFILE = make_profile("1x3x256x256", "1x3x720x1280", "1x3x1080x1920")


def test_profile_parsing():
    assert parse_shape("1x3x720x1280") == (1, 3, 720, 1280)
    assert PROFILE.as_text() == {"min": "1x3x256x256", "opt": "1x3x720x1280", "max": "1x3x1080x1920"}


@pytest.mark.parametrize(
    "shape,message",
    [("1x3x250x256", "multiples of 8"), ("1x1x256x256", "channels 3"), ("0x3x8x8", "batch"),
     ("1x3x256", "4 dimensions"), ("axbxcxd", "expected NxCxHxW")],
)  # fmt: skip
def test_bad_shapes_are_rejected(shape, message):
    with pytest.raises(ProfileError, match=message):
        parse_shape(shape)


def test_profile_must_be_ordered():
    with pytest.raises(ProfileError, match="min <= opt <= max"):
        make_profile("1x3x512x512", "1x3x256x256", "1x3x1080x1920")


def test_trtexec_command_line_matches_the_options(tmp_path):
    options = EngineOptions(PROFILE, fp16=True, workspace_mb=2048, timing_cache=tmp_path / "t.cache")
    command = trtexec_command(Path("m.fp16.onnx"), Path("m.fp16.engine"), options)
    assert command.split() == [
        "trtexec", "--onnx=m.fp16.onnx", "--saveEngine=m.fp16.engine",
        "--minShapes=input:1x3x256x256", "--optShapes=input:1x3x720x1280", "--maxShapes=input:1x3x1080x1920",
        "--memPoolSize=workspace:2048M", f"--timingCacheFile={tmp_path / 't.cache'}", "--fp16",
    ]  # fmt: skip
    pinned = EngineOptions(PROFILE, fp16=True, fp32_layers=("/a/Conv", "/b/Add"))
    assert "--precisionConstraints=obey --layerPrecisions=/a/Conv:fp32,/b/Add:fp32" in trtexec_command(Path("m"), Path("e"), pinned)
    typed = EngineOptions(PROFILE, fp16=True, int8=True, strongly_typed=True)
    line = trtexec_command(Path("m"), Path("e"), typed)
    assert "--stronglyTyped" in line and "--fp16" not in line and "--int8" not in line
    assert builder_flags(EngineOptions(PROFILE, fp16=True, int8=True)) == ["FP16", "INT8"]


def test_the_sidecar_records_the_build(tmp_path):
    options = EngineOptions(PROFILE, fp16=True, int8=True)
    metadata = ModelMetadata.for_config(ModelConfig(variant="test", width=16), "none").replace(
        precision=Precision.INT8_QDQ)
    sidecar = engine_sidecar(Path("/x/m.int8.onnx"), "ab" * 32, metadata, options, "10.3.0", "Orin", "8.7")
    record = sidecar.to_json()
    assert record == {
        "tensorrt_version": "10.3.0", "gpu_name": "Orin", "compute_capability": "8.7",
        "onnx_file": "m.int8.onnx", "onnx_sha256": "ab" * 32, "precision": "int8-qdq",
        "builder_flags": ["FP16", "INT8"], "strongly_typed": False,
        "profile": {"input": {"min": "1x3x256x256", "opt": "1x3x720x1280", "max": "1x3x1080x1920"}},
        "workspace_mb": 1024, "fp32_layers": [], "metadata": metadata.to_props(),
    }  # fmt: skip
    engine = tmp_path / "m.int8.engine"
    sidecar.write(engine)
    assert json.loads((tmp_path / "m.int8.engine.json").read_text()) == record
    assert Sidecar.read(engine) == sidecar  # what the runtime reads


def test_engine_options_follow_the_onnx_precision(deblur_onnx, tmp_path):
    assert engine_options_for(deblur_onnx, PROFILE) == EngineOptions(PROFILE)
    half = convert_to_fp16(onnx.load(str(deblur_onnx)), keep_fp32=["/Add"])
    onnx.save(half, str(tmp_path / "h.onnx"))
    options = engine_options_for(tmp_path / "h.onnx", PROFILE, workspace_mb=512)
    assert options.fp16 and not options.int8 and options.fp32_layers == ("/Add",) and options.workspace_mb == 512


def test_missing_tensorrt_says_what_how_and_prints_trtexec(deblur_onnx, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # import tensorrt -> ImportError, even where installed
    with pytest.raises(TensorRTUnavailable) as info:
        build_engine(deblur_onnx, tmp_path / "m.engine", EngineOptions(PROFILE, fp16=True))
    message = str(info.value)
    assert "`tensorrt` Python package is not installed" in message
    assert "JetPack" in message and "nvidia-jetpack" in message and "python3-libnvinfer" in message
    assert "pip install tensorrt-cu12" in message
    assert f"trtexec --onnx={deblur_onnx} --saveEngine={tmp_path / 'm.engine'}" in message and "--fp16" in message
    assert not list(tmp_path.iterdir())


def test_missing_gpu_is_reported(deblur_onnx, tmp_path, monkeypatch):
    fake_trt = type(sys)("tensorrt")
    fake_trt.__version__ = "10.3.0"
    monkeypatch.setitem(sys.modules, "tensorrt", fake_trt)
    monkeypatch.setitem(sys.modules, "cuda", None)
    monkeypatch.setitem(sys.modules, "cuda.bindings", None)
    with pytest.raises(TensorRTUnavailable, match="`cuda-python` package is not installed"):
        build_engine(deblur_onnx, tmp_path / "m.engine", EngineOptions(PROFILE))


def test_old_tensorrt_is_refused(deblur_onnx, tmp_path, monkeypatch):
    fake_trt = type(sys)("tensorrt")
    fake_trt.__version__ = "8.6.1"
    monkeypatch.setitem(sys.modules, "tensorrt", fake_trt)
    with pytest.raises(TensorRTUnavailable, match="TensorRT 8.6.1 is too old"):
        build_engine(deblur_onnx, tmp_path / "m.engine", EngineOptions(PROFILE))


def test_cli_engine_without_tensorrt_exits_3_after_writing_the_onnx(deblur_onnx, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    out = tmp_path / "deploy"
    result = runner.invoke(app, [str(deblur_onnx), "-o", str(out), "--fp16", "--engine", "--min", "1x3x64x64",
                                 "--opt", "1x3x256x256", "--max", "2x3x512x512", "--workspace", "256"])  # fmt: skip
    assert result.exit_code == 3, result.output
    assert "| deblur-w8.fp16.onnx |" in result.output
    assert "--minShapes=input:1x3x64x64" in result.output and "--maxShapes=input:2x3x512x512" in result.output
    assert "--memPoolSize=workspace:256M" in result.output and "--layerPrecisions" not in result.output
    assert sorted(p.name for p in out.iterdir()) == ["deblur-w8.fp16.onnx", "deblur-w8.onnx"]


def test_cli_rejects_a_bad_profile_before_writing(deblur_onnx, tmp_path):
    out = tmp_path / "deploy"
    result = runner.invoke(app, [str(deblur_onnx), "-o", str(out), "--engine", "--min", "1x3x100x100"])
    assert result.exit_code == 2 and "multiples of 8" in result.output
    assert not out.exists()


def test_onnx_sources_need_no_torch(deblur_onnx, tmp_path):
    """A Jetson has no torch: exporting fp16 from an fp32 ONNX must not import it."""
    script = (
        "import sys; sys.modules['torch'] = None\n"
        "from typer.testing import CliRunner\n"
        "from deblur.export.cli import app\n"
        f"r = CliRunner().invoke(app, [{str(deblur_onnx)!r}, '-o', {str(tmp_path)!r}, '--fp16', '--engine'])\n"
        "print(r.output); sys.exit(r.exit_code)\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert (tmp_path / "deblur-w8.fp16.onnx").is_file(), done.stdout + done.stderr
    if done.returncode == 3:  # the usual case: no TensorRT here
        assert "cannot build a TensorRT engine here" in done.stdout
    else:
        assert done.returncode == 0 and (tmp_path / "deblur-w8.fp16.engine").is_file()


def test_engine_from_an_fp16_onnx_source_uses_it_directly(deblur_onnx, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    half = tmp_path / "m.fp16.onnx"
    onnx.save(convert_to_fp16(onnx.load(str(deblur_onnx))), str(half))
    result = runner.invoke(app, [str(half), "--engine"])
    assert result.exit_code == 3 and f"--onnx={half} --saveEngine={tmp_path / 'm.fp16.engine'}" in result.output
    assert "--fp16" in result.output
    refused = runner.invoke(app, [str(half), "--int8", "--calib", str(tmp_path)])
    assert refused.exit_code == 2 and "is fp16; --fp16/--int8 convert from the fp32 ONNX" in refused.output
