"""fp32 ONNX export: graph shape (plain Haar convs, dynamic N/H/W), metadata, ORT vs torch, CLI and bad input."""

import sys

import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper
from safetensors.torch import save_file
from typer.testing import CliRunner

from deblur.calibration.frameset import save_frames
from deblur.contract import INPUT_NAME, OUTPUT_NAME
from deblur.export import pipeline
from deblur.export.cli import app
from deblur.export.onnx_export import (
    OpsetError,
    compare_with_torch,
    export_onnx,
    simplify_preserving_numbers,
    supported_opsets,
    trace_to_onnx,
)
from deblur.export.onnx_graph import read_metadata
from deblur.export.sample_images import blurry_image
from deblur.export.verify import FP32_TOLERANCE, check_batches
from deblur.model.checkpoint import save_checkpoint
from deblur.model.config import ModelConfig
from deblur.model.haar import haar_kernel
from deblur.model.unet import DeblurUNet

CONFIG = ModelConfig(variant="test", width=8)
runner = CliRunner()


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(1)
    return DeblurUNet(CONFIG).eval()


@pytest.fixture(scope="module")
def exported(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("export") / "m.onnx"
    return export_onnx(model, path, opset=17, training_data="nothing (random weights)"), path


@pytest.fixture(scope="module")
def checkpoint(model, tmp_path_factory):
    path = tmp_path_factory.mktemp("ckpt") / "small.safetensors"
    save_checkpoint(model, path)
    return path


def test_onnx_runtime_matches_torch_on_several_sizes_and_a_natural_image(model, exported):
    proto, _ = exported
    results = compare_with_torch(model, proto, check_batches())
    assert [r.label for r in results] == [
        "random 1x3x64x64", "random 2x3x40x96", "random 1x3x136x72", "natural 1x3x256x256"
    ]  # fmt: skip
    for result in results:
        assert result.max_abs_error < FP32_TOLERANCE, result
        assert result.psnr > 100.0, result


def test_haar_transforms_are_grouped_conv_and_conv_transpose_with_constant_haar_weights(exported):
    proto, _ = exported
    initializers = {init.name: numpy_helper.to_array(init) for init in proto.graph.initializer}
    assert not [n for n in proto.graph.node if n.op_type == "Constant"], "constants must be initializers"
    haar_nodes = []
    for node in proto.graph.node:
        attrs = {a.name: onnx.helper.get_attribute_value(a) for a in node.attribute}
        if node.op_type in ("Conv", "ConvTranspose") and attrs.get("kernel_shape") == [2, 2]:
            weight = initializers[node.input[1]]
            groups = attrs["group"]
            channels = groups  # DWT: C -> 4C with groups=C; IWT: 4C -> C with groups=C
            assert attrs["strides"] == [2, 2]
            assert len(node.input) == 2, "fixed Haar convs have no bias"
            np.testing.assert_array_equal(weight, haar_kernel(channels).numpy())
            haar_nodes.append(node.op_type)
    assert haar_nodes.count("Conv") >= 3 and haar_nodes.count("ConvTranspose") >= 3
    assert not {n.op_type for n in proto.graph.node} & {"DFT", "Loop", "If", "Scan"}


def test_inputs_outputs_are_named_dynamic_nchw_and_opset_17(exported):
    proto, _ = exported
    for value, name in ((proto.graph.input[0], INPUT_NAME), (proto.graph.output[0], OUTPUT_NAME)):
        dims = value.type.tensor_type.shape.dim
        assert value.name == name
        assert [d.dim_param or d.dim_value for d in dims] == ["batch", 3, "height", "width"]
        assert value.type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert {o.domain: o.version for o in proto.opset_import}[""] == 17


def test_metadata_carries_everything_the_runtime_needs(exported):
    _, path = exported
    metadata = read_metadata(onnx.load(str(path)))  # complete and valid, or it raises
    assert (metadata.width, metadata.precision, metadata.io_dtype, metadata.size_multiple) == (8, "fp32", "float32", 8)
    assert metadata.training_data == "nothing (random weights)" and metadata.scales == (1,)
    assert ModelConfig.from_json(metadata.config) == CONFIG


def test_export_onnx_keeps_its_positional_signature(model, tmp_path):
    proto = export_onnx(model, tmp_path / "a.onnx", 17, "x", (32, 32))
    assert proto.graph.node and (tmp_path / "a.onnx").is_file()
    assert [p.name for p in tmp_path.iterdir()] == ["a.onnx"]


def test_simplification_is_kept_only_because_numbers_match(model):
    traced = trace_to_onnx(model)
    slim, simplified = simplify_preserving_numbers(traced)
    assert simplified
    assert len(slim.graph.node) < len(traced.graph.node)


@pytest.mark.parametrize("opset", [16, 11, max(supported_opsets()) + 1])
def test_unsupported_opsets_are_refused(model, opset):
    with pytest.raises(OpsetError, match=f"unsupported opset {opset}"):
        trace_to_onnx(model, opset)


def test_newest_supported_opset_exports(model):
    newest = max(supported_opsets())
    proto = trace_to_onnx(model, newest)
    assert {o.domain: o.version for o in proto.opset_import}[""] == newest


def test_cli_writes_onnx_and_prints_summary(checkpoint, tmp_path):
    out = tmp_path / "deploy"
    result = runner.invoke(app, [str(checkpoint), "--output", str(out)])
    assert result.exit_code == 0, result.output
    assert (out / "small.onnx").is_file()
    assert "| small.onnx |" in result.output and "| fp32 | torch |" in result.output
    assert sorted(p.name for p in out.iterdir()) == ["small.onnx"]


def test_cli_names_each_stage_on_stderr_unless_quiet(checkpoint, tmp_path):
    result = runner.invoke(app, [str(checkpoint), "-o", str(tmp_path / "a.onnx")])
    assert result.exit_code == 0, result.output
    stages = result.stderr.splitlines()
    assert len(stages) == 1 and stages[0].endswith("] tracing small.safetensors to ONNX and checking it against torch")
    assert stages[0].startswith("[") and "| a.onnx |" in result.stdout
    quiet = runner.invoke(app, [str(checkpoint), "-o", str(tmp_path / "b.onnx"), "-q", "--no-check"])
    assert quiet.exit_code == 0 and quiet.stderr == "" and "| b.onnx |" in quiet.stdout


def test_cli_output_can_name_the_onnx_file(checkpoint, tmp_path):
    result = runner.invoke(app, [str(checkpoint), "-o", str(tmp_path / "x.onnx"), "--no-check"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "x.onnx").is_file() and "unchecked" in result.output


def test_measured_quality_and_training_data_travel_from_the_checkpoint_into_the_onnx(model, tmp_path):
    source = tmp_path / "noted.safetensors"
    save_checkpoint(model, source, extra={"training_data": "photos (CC0)", "quality": "real pairs +1.0 dB"})
    result = runner.invoke(app, [str(source), "-o", str(tmp_path / "noted.onnx"), "--no-check"])
    assert result.exit_code == 0, result.output
    metadata = read_metadata(onnx.load(str(tmp_path / "noted.onnx")))
    assert metadata.quality == "real pairs +1.0 dB" and metadata.training_data == "photos (CC0)"


def _bad_input(tmp_path, args):
    out = tmp_path / "out"
    result = runner.invoke(app, [*args, "--output", str(out)])
    assert result.exit_code == 2, result.output
    error_lines = [line for line in result.output.splitlines() if line.startswith("error:")]
    assert len(error_lines) == 1 and "Traceback" not in result.output
    assert not out.exists() or not list(out.iterdir()), "no output may be left behind"
    return error_lines[0]


def test_checkpoint_of_another_kind_is_a_clear_error(tmp_path):
    other = tmp_path / "other.safetensors"
    save_file({"w": torch.zeros(2)}, str(other), metadata={"format": "something-else"})
    assert "not a deblur checkpoint" in _bad_input(tmp_path, [str(other)])


def test_truncated_checkpoint_is_a_clear_error(checkpoint, tmp_path):
    truncated = tmp_path / "cut.safetensors"
    truncated.write_bytes(checkpoint.read_bytes()[:5000])
    assert "cut.safetensors" in _bad_input(tmp_path, [str(truncated)])


def test_a_missing_or_odd_source_is_refused_before_any_tracing(tmp_path, monkeypatch):
    import os

    from deblur.export import cli

    monkeypatch.setattr(cli, "run_export", lambda *a, **k: pytest.fail("the export ran before checking its input"))
    assert "no such file" in _bad_input(tmp_path, [str(tmp_path / "missing.safetensors")])
    fifo = tmp_path / "pipe.safetensors"
    os.mkfifo(fifo)
    assert "not a regular file" in _bad_input(tmp_path, [str(fifo)])
    assert "is a folder" in _bad_input(tmp_path, [str(tmp_path)])


def test_unsupported_opset_is_a_clear_error(checkpoint, tmp_path):
    assert "unsupported opset 13" in _bad_input(tmp_path, [str(checkpoint), "--opset", "13"])


def test_non_deblur_onnx_source_is_a_clear_error(foreign_onnx, tmp_path):
    assert "foreign.onnx: not a deblur model" in _bad_input(tmp_path, [str(foreign_onnx), "--fp16"])


def test_truncated_onnx_source_is_a_clear_error(exported, tmp_path):
    _, path = exported
    cut = tmp_path / "cut.onnx"
    cut.write_bytes(path.read_bytes()[:3000])
    assert "cut.onnx" in _bad_input(tmp_path, [str(cut), "--fp16"])


def test_failing_check_leaves_no_file_under_the_final_name(checkpoint, tmp_path, monkeypatch):
    monkeypatch.setattr(pipeline, "FP32_TOLERANCE", -1.0)  # every comparison now fails
    out = tmp_path / "out"
    result = runner.invoke(app, [str(checkpoint), "--output", str(out)])
    assert result.exit_code == 1
    assert "vs torch: max abs error above" in result.output
    assert not out.exists() or not list(out.iterdir())


def test_cli_runs_every_stage_and_stops_at_missing_tensorrt(checkpoint, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # as on any machine without TensorRT
    calib = tmp_path / "calib.npz"
    frames = [(blurry_image(64, 80, seed=i) * 255).astype(np.uint8) for i in range(3)]
    save_frames(calib, frames, ["a", "b", "c"])
    out = tmp_path / "deploy"
    args = [str(checkpoint), "-o", str(out), "--fp16", "--int8", "--calib", str(calib), "--keep-ends", "yes", "--engine"]
    result = runner.invoke(app, args)
    assert result.exit_code == 3, result.output
    assert sorted(p.name for p in out.iterdir()) == ["small.fp16.onnx", "small.int8.onnx", "small.onnx"]
    rows = [line for line in result.output.splitlines() if line.startswith("| small")]
    assert [row.split("|")[3].strip() for row in rows] == ["fp32", "fp16", "int8-qdq"]
    assert "trtexec --onnx=" + str(out / "small.int8.onnx") in result.output and "--int8" in result.output


def _one_error_line(result, code: int = 2) -> str:
    assert result.exit_code == code, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    return lines[0]


def test_existing_outputs_are_refused_before_any_work_unless_overwrite(checkpoint, exported, tmp_path):
    _, source = exported
    precious = tmp_path / "small.onnx"
    precious.write_text("precious\n")
    plain = tmp_path / "small.safetensors"
    plain.write_bytes(checkpoint.read_bytes())
    assert _one_error_line(runner.invoke(app, [str(plain)])) == f"error: {precious}: already exists; pass --overwrite to replace it"
    assert precious.read_text() == "precious\n"
    half = tmp_path / "deploy" / "m.fp16.onnx"
    half.parent.mkdir()
    half.write_text("precious\n")
    line = _one_error_line(runner.invoke(app, [str(source), "-o", str(half.parent), "--fp16", "--no-check"]))
    assert "m.fp16.onnx: already exists" in line
    assert half.read_text() == "precious\n" and not (half.parent / "m.onnx").exists()
    result = runner.invoke(app, [str(source), "-o", str(half.parent), "--fp16", "--no-check", "--overwrite"])
    assert result.exit_code == 0, result.output
    assert read_metadata(onnx.load(str(half))).precision == "fp16"


def test_an_output_equal_to_the_source_is_a_no_op_error_and_the_source_is_untouched(exported, tmp_path, monkeypatch):
    _, path = exported
    source = tmp_path / "x.onnx"
    source.write_bytes(path.read_bytes())
    monkeypatch.chdir(tmp_path)
    for args in (["x.onnx", "-o", "./x.onnx"], ["x.onnx", "-o", str(source), "--overwrite"], ["x.onnx"]):
        assert "nothing to do" in _one_error_line(runner.invoke(app, args))
    assert source.read_bytes() == path.read_bytes()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.onnx"]


def test_onnx_with_external_data_outside_its_folder_is_a_clear_error(tmp_path):
    tensor = numpy_helper.from_array(np.ones(3, np.float32), "bias")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    tensor.external_data.add(key="location", value="../secret.bin")
    tensor.ClearField("raw_data")
    shape = ["batch", 3, "height", "width"]
    graph = onnx.helper.make_graph(
        [onnx.helper.make_node("Add", ["input", "bias"], ["output"])], "g",
        [onnx.helper.make_tensor_value_info("input", onnx.TensorProto.FLOAT, shape)],
        [onnx.helper.make_tensor_value_info("output", onnx.TensorProto.FLOAT, shape)], [tensor])
    (tmp_path / "secret.bin").write_bytes(b"s" * 12)
    (tmp_path / "models").mkdir()
    model = tmp_path / "models" / "m.onnx"
    model.write_bytes(onnx.helper.make_model(graph).SerializeToString())
    line = _one_error_line(runner.invoke(app, [str(model), "--fp16", "-o", str(tmp_path / "out")]))
    assert "m.onnx" in line and "points outside" in line
