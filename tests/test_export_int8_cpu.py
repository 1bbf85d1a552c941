"""INT8 for ONNX Runtime's CPU kernels (``--int8-cpu``): uint8 activations, per-channel int8 weights, QDQ,
attention gates / end convs / output kept float, validated and scored; the CPU feature check behind its note."""

import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from typer.testing import CliRunner

from deblur.calibration.frameset import save_frames
from deblur.calibration.tiles import center_crop
from deblur.contract import Precision
from deblur.cpu_features import cpu_flags, int8_dot_product, int8_speed_note
from deblur.export.cli import app
from deblur.export.int8 import QuantizationError, calibration_tiles, end_convs
from deblur.export import float_search
from deblur.export.float_search import activation_groups, search_float_activations, without_quantizers
from deblur.export.int8_cpu import float_nodes, int8_cpu_problems, make_int8_cpu, output_nodes, quantize_int8_cpu
from deblur.export.ort_session import cpu_session, run
from deblur.export.onnx_graph import read_metadata
from deblur.runtime.backends.onnxruntime import OnnxRuntimeBackend

runner = CliRunner()


@pytest.fixture(scope="module")
def built(w8_fp32, blurry_frames):
    return make_int8_cpu(w8_fp32[0], blurry_frames())


def test_model_is_uint8_activations_and_per_channel_int8_weights(built):
    model, _ = built
    assert int8_cpu_problems(model) == []
    inits = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    zero_points = [inits[n.input[2]] for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert zero_points and {z.dtype for z in zero_points} == {np.dtype(np.uint8)}
    assert any(z.item() not in (0, 128) for z in zero_points)  # asymmetric ranges, not a symmetric model shifted
    producers = {out: n for n in model.graph.node for out in n.output}
    weight_scales = [inits[producers[n.input[1]].input[1]] for n in model.graph.node
                     if n.op_type == "Conv" and n.input[1] in producers]
    assert weight_scales and all(scale.ndim == 1 for scale in weight_scales)
    assert {o.domain for o in model.opset_import} == {""}
    assert read_metadata(model).precision == Precision.INT8_CPU == "int8-cpu"


def test_every_op_type_is_quantized_but_the_kept_nodes(built, w8_fp32):
    model, report = built
    assert report.kept_float == float_nodes(w8_fp32[0])
    producers = {out: n for n in model.graph.node for out in n.output}
    reads_int8 = {n.name for n in model.graph.node if any(producers.get(i, n).op_type == "DequantizeLinear" for i in n.input)}
    quantized = reads_int8 - set(report.kept_float)
    assert {"Conv", "LeakyRelu", "Add", "Concat"} <= {n.op_type for n in model.graph.node if n.name in quantized}
    kept_convs = [n for n in model.graph.node if n.name in report.kept_float and n.op_type == "Conv"]
    assert kept_convs and all(n.input[1] not in producers for n in kept_convs)  # float weights, no DequantizeLinear


def test_kept_nodes_are_the_gates_the_end_convs_and_the_output(w8_fp32):
    proto, _ = w8_fp32
    kept = float_nodes(proto)
    assert output_nodes(proto) == ["/Clip", "/Add"]
    assert set(end_convs(proto)) | {"/Clip", "/Add"} <= set(kept)
    gates = {n.op_type for n in proto.graph.node if n.name in kept} - {"Conv", "Add", "Clip"}
    assert {"Sigmoid", "Softmax", "GlobalAveragePool", "Mul"} <= gates


def test_report_scores_held_out_frames_and_times_both_models(built):
    model, report = built
    assert report.held_out_frames == 1 and report.calibration_tiles == 4
    assert 20.0 < report.score.psnr < 120.0 and 0.5 < report.score.ssim <= 1.0
    assert report.fp32_ms > 0 and report.int8_ms > 0 and report.latency_shape == (1, 3, 64, 96)
    assert "uint8 activations, per-channel int8 weights" in read_metadata(model).calibration


def test_float_activations_are_whole_modules_without_their_quantize_pairs(built):
    model, report = built
    assert report.search_psnr[1] >= report.search_psnr[0]
    assert list(read_metadata(model).float_modules) == report.float_activations
    groups = activation_groups(model)
    assert groups and all(key.startswith("/") or key == "input" for key in groups)
    assert not set(report.float_activations) & set(groups)  # their quantizers are gone from the model
    key, names = next(iter(groups.items()))
    lighter = without_quantizers(model, names)
    onnx.checker.check_model(lighter)
    assert key not in activation_groups(lighter) and int8_cpu_problems(lighter) == []
    removed = {n.output[0] for n in model.graph.node if n.name in names}
    assert not any(name in removed for n in lighter.graph.node for name in n.input)  # no reader left dangling
    assert len(lighter.graph.node) == len(model.graph.node) - 2 * len(names)  # one DequantizeLinear per quantizer here
    batch = np.random.default_rng(0).random((1, 3, 32, 48), dtype=np.float32)
    assert run(cpu_session(lighter), batch).shape == batch.shape


@pytest.mark.slow  # 9 s (make test-slow)
def test_the_search_stops_at_its_target_and_keeps_only_modules_that_help(w8_fp32, blurry_frames, monkeypatch):
    fp32, frames = w8_fp32[0], blurry_frames(2)
    quantized = quantize_int8_cpu(fp32, calibration_tiles(frames), float_nodes(fp32))
    crops = [center_crop(frame, 48) for frame in frames]
    monkeypatch.setattr(float_search, "SEARCH_TARGET_DB", 0.0)
    same, modules, (before, after) = search_float_activations(fp32, quantized, crops)
    assert same is quantized and modules == [] and before == after
    monkeypatch.setattr(float_search, "SEARCH_TARGET_DB", 1000.0)
    monkeypatch.setattr(float_search, "SEARCH_MAX_MODULES", 2)
    searched, modules, (before, after) = search_float_activations(fp32, quantized, crops)
    assert 0 < len(modules) <= 2 and after > before
    assert set(modules) <= set(activation_groups(quantized)) and not set(modules) & set(activation_groups(searched))


def test_validator_flags_signed_activations_and_per_tensor_weights(built):
    model, _ = built
    broken = onnx.ModelProto.FromString(model.SerializeToString())
    inits = {init.name: init for init in broken.graph.initializer}
    zero_name = next(n.input[2] for n in broken.graph.node if n.op_type == "QuantizeLinear")
    inits[zero_name].CopyFrom(numpy_helper.from_array(np.array(0, dtype=np.int8), zero_name))
    producers = {out: n for n in broken.graph.node for out in n.output}
    conv = next(n for n in broken.graph.node if n.op_type == "Conv" and n.input[1] in producers)
    scale_name = producers[conv.input[1]].input[1]
    inits[scale_name].CopyFrom(numpy_helper.from_array(np.array(0.01, dtype=np.float32), scale_name))
    problems = int8_cpu_problems(broken)
    assert any("activations must be uint8" in p for p in problems)
    assert any(conv.name in p and "per output channel" in p for p in problems)
    assert int8_cpu_problems(onnx.load_from_string(b"")) == ["no QuantizeLinear nodes"]


def test_quantizer_needs_tiles(w8_fp32, blurry_frames):
    with pytest.raises(QuantizationError, match="no calibration tiles"):
        quantize_int8_cpu(w8_fp32[0], [])
    assert calibration_tiles(blurry_frames(1))  # one frame gives tiles; make_int8_cpu still needs one to hold out


def test_cli_writes_int8cpu_and_refuses_to_overwrite(w8_fp32, tmp_path, blurry_frames):
    _, path = w8_fp32
    calib = tmp_path / "calib.npz"
    save_frames(calib, blurry_frames(3), [f"f{i}" for i in range(3)])
    out = tmp_path / "out"
    args = [str(path), "--int8-cpu", "--calib", str(calib), "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["w8.int8cpu.onnx", "w8.onnx"]
    assert "| w8.int8cpu.onnx |" in result.output and "| int8-cpu |" in result.output and "int8-cpu " in result.output
    assert int8_cpu_problems(onnx.load(str(out / "w8.int8cpu.onnx"))) == []
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "--overwrite" in again.output
    assert runner.invoke(app, [*args, "--overwrite"]).exit_code == 0


def test_cli_int8_cpu_needs_frames_and_an_fp32_source(w8_fp32, tmp_path, blurry_frames):
    _, path = w8_fp32
    result = runner.invoke(app, [str(path), "--int8-cpu", "-o", str(tmp_path / "a")])
    assert result.exit_code == 2 and "--int8-cpu needs --calib" in result.output
    model, _ = make_int8_cpu(w8_fp32[0], blurry_frames(2))
    quantized = tmp_path / "m.int8cpu.onnx"
    onnx.save(model, str(quantized))
    refused = runner.invoke(app, [str(quantized), "--engine"])
    assert refused.exit_code == 2 and "for ONNX Runtime's CPU provider" in refused.output


def test_runtime_loads_it_and_warns_only_without_int8_dot_products(built, tmp_path, monkeypatch, caplog):
    model, _ = built
    path = tmp_path / "m.int8cpu.onnx"
    onnx.save(model, str(path))
    monkeypatch.setattr("deblur.runtime.backends.onnxruntime.int8_speed_note", lambda: "no VNNI here")
    backend = OnnxRuntimeBackend(path, device="cpu", threads=1)
    batch = np.random.default_rng(0).random((1, 3, 32, 48), dtype=np.float32)
    assert backend.infer(batch).shape == batch.shape
    assert f"{path.name}: no VNNI here" in caplog.text
    backend.close()


def test_cpu_flags_name_vnni_and_arm_dot_products(tmp_path):
    x86 = tmp_path / "x86"
    x86.write_text("processor\t: 0\nflags\t\t: fpu sse2 avx2 avx512f avx512_vnni\n\nprocessor\t: 1\nflags\t\t: fpu avx2\n")
    arm = tmp_path / "arm"
    arm.write_text("processor\t: 0\nFeatures\t: fp asimd asimddp i8mm\nCPU implementer\t: 0x41\n")
    old = tmp_path / "old"
    old.write_text("flags\t\t: fpu sse2 avx2 fma\n")
    assert cpu_flags(x86.read_text()) == {"fpu", "sse2", "avx2", "avx512f", "avx512_vnni"}
    assert int8_dot_product(x86) == {"avx512_vnni"} and int8_speed_note(x86) is None
    assert int8_dot_product(arm) == {"asimddp", "i8mm"} and int8_speed_note(arm) is None
    assert int8_dot_product(old) == set() and "not expected to be faster" in int8_speed_note(old)
    assert int8_dot_product(tmp_path / "missing") is None and "cannot read" in int8_speed_note(tmp_path / "missing")


def test_int8_cpu_module_needs_no_torch():
    script = "import sys; sys.modules['torch'] = None\nimport deblur.export.int8_cpu, deblur.cpu_features\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
