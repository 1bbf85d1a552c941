"""INT8 ONNX for its two targets, one path: TensorRT QDQ (``--int8``: symmetric int8, float biases, only
convolutions quantized, first/last layers float where that scores higher) and ONNX Runtime's CPU kernels
(``--int8-cpu``: uint8 activations, every op type quantized but the gates, end convs and output); min/max,
percentile or entropy ranges collected tile by tile, validated, keep-float search, scored on held-out frames;
the CPU feature check behind the CPU model's note."""

import subprocess
import sys

import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from typer.testing import CliRunner

from deblur.calibration.frameset import save_frames
from deblur.calibration.tiles import center_crop
from deblur.cpu_features import cpu_flags, int8_dot_product, int8_speed_note
from deblur.export import float_search
from deblur.export.cli import app
from deblur.export.float_search import activation_groups, module_convs, search_float_activations, without_quantizers
from deblur.export.int8 import (
    ORT_CPU,
    TENSORRT,
    WEIGHT_AXIS,
    QuantizationError,
    calibration_tiles,
    cpu_float_nodes,
    end_convs,
    int8_cpu_problems,
    make_int8,
    output_nodes,
    qdq_problems,
    quantize_int8,
    require_valid_qdq,
    split_held_out,
)
from deblur.export.onnx_graph import read_metadata
from deblur.export.ort_session import cpu_session, run
from deblur.runtime.backends.onnxruntime import OnnxRuntimeBackend

runner = CliRunner()
TARGETS = {"tensorrt": (TENSORRT, qdq_problems, "int8_auto"), "cpu": (ORT_CPU, int8_cpu_problems, "int8_cpu")}


@pytest.fixture(scope="module")
def int8_auto(w8_fp32, blurry_frames):
    return make_int8(w8_fp32[0], blurry_frames(), TENSORRT, keep_ends="auto")


@pytest.fixture(scope="module")
def int8_cpu(w8_fp32, blurry_frames):
    return make_int8(w8_fp32[0], blurry_frames(), ORT_CPU)


@pytest.fixture(params=TARGETS)
def built(request):
    """``(target, its problems function, model, report)`` of the five test frames, for each target."""
    target, problems, fixture = TARGETS[request.param]
    return target, problems, *request.getfixturevalue(fixture)


def test_model_passes_its_target_check_with_weights_per_output_channel(built):
    target, problems, model, _ = built
    assert problems(model) == []
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
    assert read_metadata(model).precision == target.precision
    inits = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    producers = {out: n for n in model.graph.node for out in n.output}
    weight_dqs = [
        (node.op_type, producers[node.input[1]])
        for node in model.graph.node
        if node.op_type in WEIGHT_AXIS and node.input[1] in producers
    ]
    haar = [dq for op, dq in weight_dqs if op == "Conv" and inits[dq.input[0]].shape[1:] == (1, 2, 2)]
    assert haar  # the DWT convs share their kernel with IWT ConvTransposes in the fp32 graph, but not here
    for op, dq in weight_dqs:
        axis = next(a.i for a in dq.attribute if a.name == "axis")
        assert axis == WEIGHT_AXIS[op] and inits[dq.input[0]].dtype == np.int8
        assert inits[dq.input[1]].shape == (inits[dq.input[0]].shape[axis],)


def test_report_scores_held_out_frames_and_the_metadata_names_the_choice(built):
    target, _, model, report = built
    assert report.held_out_frames == 1 and report.calibration_tiles == 4
    assert report.score in report.alternatives.values()
    assert 20.0 < report.score.psnr < 120.0 and 0.5 < report.score.ssim <= 1.0
    assert report.fp32_ms > 0 and report.int8_ms > 0 and report.latency_shape == (1, 3, 64, 96)
    assert report.search_psnr is not None and report.search_psnr[1] >= report.search_psnr[0]
    metadata = read_metadata(model)
    assert metadata.calibration == f"4 frames, 4 tiles <= 256px, percentile, {target.calibration_note}"
    assert list(metadata.float_modules) == report.float_modules and list(metadata.float_nodes) == report.kept_float


def test_kept_nodes_have_float_weights(built, w8_fp32):
    target, _, model, report = built
    assert report.kept_float == (end_convs if target is TENSORRT else cpu_float_nodes)(w8_fp32[0])
    producers = {out: n for n in model.graph.node for out in n.output}
    kept_convs = [n for n in model.graph.node if n.name in report.kept_float and n.op_type == "Conv"]
    assert kept_convs and all(n.input[1] not in producers for n in kept_convs)  # no DequantizeLinear


@pytest.mark.parametrize("target, problems, message", [
    (TENSORRT, qdq_problems, "no QuantizeLinear/DequantizeLinear nodes"),
    (ORT_CPU, int8_cpu_problems, "no QuantizeLinear nodes"),
])  # fmt: skip
def test_validators_and_the_quantizer_refuse_what_they_cannot_use(w8_fp32, target, problems, message):
    assert problems(w8_fp32[0]) == [message]
    with pytest.raises(QuantizationError, match="not valid for TensorRT|not in ONNX Runtime's U8S8 form"):
        target.validate(w8_fp32[0])
    with pytest.raises(QuantizationError, match="no calibration tiles"):
        quantize_int8(w8_fp32[0], [], target)
    with pytest.raises(QuantizationError, match="unknown calibration method"):
        quantize_int8(w8_fp32[0], [], target, method="mse")


def test_tensorrt_model_is_symmetric_int8_with_float_biases(int8_auto):
    model, _ = int8_auto
    inits = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    qdq = [n for n in model.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    assert qdq
    for node in qdq:
        zero = inits[node.input[2]]
        assert zero.dtype == np.int8 and not zero.any()
        assert (inits[node.input[1]] > 0).all()
    dq_sources = [inits[n.input[0]].dtype for n in qdq if n.op_type == "DequantizeLinear" and n.input[0] in inits]
    assert dq_sources and set(dq_sources) == {np.dtype(np.int8)}  # weights int8, no int32 bias
    for conv in (n for n in model.graph.node if n.op_type == "Conv" and len(n.input) == 3):
        assert inits[conv.input[2]].dtype == np.float32  # bias stays a float initializer


def test_tensorrt_convolutions_read_int8_activations_and_weights_but_the_kept_ones(int8_auto):
    model, report = int8_auto
    producers = {out: n for n in model.graph.node for out in n.output}
    inits = {init.name for init in model.graph.initializer}
    quantized = [n for n in model.graph.node if n.op_type in ("Conv", "ConvTranspose") and n.name not in report.kept_float]
    assert quantized
    for conv in quantized:
        activation, weight = (producers.get(name) for name in conv.input[:2])
        assert activation.op_type == "DequantizeLinear" and weight.op_type == "DequantizeLinear", conv.name
        assert weight.input[0] in inits  # weights stored as int8 initializers
    weight_dq = {n.output[0] for n in model.graph.node if n.op_type == "DequantizeLinear" and n.input[0] in inits}
    weight_users = {n.op_type for n in model.graph.node if set(n.input) & weight_dq}
    assert weight_users <= {"Conv", "ConvTranspose"}
    for node in (n for n in model.graph.node if n.name in report.kept_float):
        assert all(producers.get(i) is None or producers[i].op_type != "DequantizeLinear" for i in node.input), node.name


def test_tensorrt_auto_measures_both_ways(int8_auto):
    _, report = int8_auto
    assert {"all layers int8", "first+last in float"} <= set(report.alternatives)


@pytest.fixture(scope="module")
def int8_searched(w8_fp32, blurry_frames):
    with pytest.MonkeyPatch.context() as patch:  # the search always adds its best module
        patch.setattr(float_search, "SEARCH_TARGET_DB", 1000.0)
        patch.setattr(float_search, "SEARCH_MAX_MODULES", 1)
        return make_int8(w8_fp32[0], blurry_frames(), TENSORRT, keep_ends="auto")


@pytest.mark.slow  # 20 s: the keep-float search on a real network (make test-slow)
def test_the_search_requantizes_with_the_convolutions_of_its_modules_in_float(w8_fp32, blurry_frames, int8_searched):
    proto, _ = w8_fp32
    model, report = int8_searched
    assert qdq_problems(model) == []
    assert len(report.float_modules) == 1 and report.alternatives["searched layers float"] == report.score
    assert report.score.psnr > max(s.psnr for name, s in report.alternatives.items() if name != "searched layers float")
    before = quantize_int8(proto, calibration_tiles(split_held_out(blurry_frames())[0]), TENSORRT, end_convs(proto))
    convs = module_convs(before, report.float_modules)
    assert convs and set(convs) <= set(report.kept_float)
    float_tensors = {next(n for n in before.graph.node if n.name == q).input[0]
                     for q in activation_groups(before)[report.float_modules[0]]}
    assert not float_tensors & {n.input[0] for n in model.graph.node if n.op_type == "QuantizeLinear"}
    producers = {out: n for n in model.graph.node for out in n.output}
    for node in (n for n in model.graph.node if n.name in report.kept_float):
        assert node.input[1] not in producers, node.name  # float weights: an initializer, no DequantizeLinear
    assert list(read_metadata(model).float_modules) == report.float_modules
    assert sorted(read_metadata(model).float_nodes) == report.kept_float


def test_module_convs_write_or_read_its_quantized_activations(int8_auto):
    model, _ = int8_auto
    producers = {out: n for n in model.graph.node for out in n.output}
    for module, quantizers in activation_groups(model).items():
        tensors = {n.input[0] for n in model.graph.node if n.name in quantizers}
        for name in module_convs(model, [module]):
            node = next(n for n in model.graph.node if n.name == name)
            reads = {producers[producers[i].input[0]].input[0] for i in node.input
                     if i in producers and producers[i].op_type == "DequantizeLinear" and producers[i].input[0] in producers}
            assert node.op_type in ("Conv", "ConvTranspose") and (reads | set(node.output)) & tensors, name
    assert module_convs(model, []) == []


def test_explicit_ends_choice_runs_no_search(w8_fp32, blurry_frames):
    _, report = make_int8(w8_fp32[0], blurry_frames(3), TENSORRT, keep_ends="yes")
    assert report.float_modules == [] and report.search_psnr is None
    assert set(report.alternatives) == {"first+last in float"}


def test_first_and_last_layers_are_the_input_and_output_conv_pairs(w8_fp32):
    assert end_convs(w8_fp32[0]) == [
        "/dec1/dec1.2/depthwise/Conv", "/dec1/dec1.2/pointwise/Conv",
        "/enc1/enc1.0/depthwise/Conv", "/enc1/enc1.0/pointwise/Conv",
    ]  # fmt: skip


def test_tensorrt_validator_flags_nonzero_zero_points_and_int32_biases(int8_auto):
    model, _ = int8_auto
    broken = onnx.ModelProto.FromString(model.SerializeToString())
    zero_name = next(n.input[2] for n in broken.graph.node if n.op_type == "QuantizeLinear")
    zero = next(i for i in broken.graph.initializer if i.name == zero_name)
    zero.CopyFrom(numpy_helper.from_array(np.array(3, dtype=np.int8), zero_name))
    bias = numpy_helper.from_array(np.zeros(4, dtype=np.int32), "bias_q")
    scale = numpy_helper.from_array(np.ones(4, dtype=np.float32), "bias_scale")
    broken.graph.initializer.extend([bias, scale, numpy_helper.from_array(np.zeros(4, np.int32), "bias_zero")])
    broken.graph.node.append(onnx.helper.make_node("DequantizeLinear", ["bias_q", "bias_scale", "bias_zero"], ["b"], name="bias_dq"))
    problems = qdq_problems(broken)
    assert any("zero point must be a constant int8 0" in p for p in problems)
    assert any("bias_dq" in p and "int32" in p for p in problems)
    with pytest.raises(QuantizationError, match="not valid for TensorRT"):
        require_valid_qdq(broken)


def quantize_scales(model: onnx.ModelProto) -> dict[str, float]:
    """Activation tensor -> its QuantizeLinear scale."""
    inits = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    return {n.input[0]: float(inits[n.input[1]]) for n in model.graph.node if n.op_type == "QuantizeLinear"}


def test_ranges_merge_over_all_tiles_though_collected_one_at_a_time(w8_fp32, blurry_frames):
    proto, _ = w8_fp32
    tiles = calibration_tiles(blurry_frames(2))
    tiles = [tile * factor for tile, factor in zip(tiles, [1.0, 0.25, 0.5, 0.125])]  # the largest input first
    scales = quantize_scales(quantize_int8(proto, tiles, TENSORRT, method="minmax"))
    assert scales["input"] == pytest.approx(max(np.abs(t).max() for t in tiles) / 127, rel=1e-6)


def test_percentile_and_entropy_calibration_clip_outliers_into_valid_qdq(w8_fp32):
    proto, _ = w8_fp32
    rng = np.random.default_rng(0)
    tiles = [rng.uniform(0, 0.5, (1, 3, 128, 128)).astype(np.float32) for _ in range(4)]
    tiles[2][0, 1, 5, 5] = 1.0  # one input value in 196608 far above the rest
    minmax = quantize_scales(quantize_int8(proto, tiles, TENSORRT, method="minmax"))
    assert minmax["input"] == pytest.approx(1 / 127)
    for method in ("percentile", "entropy"):
        model = quantize_int8(proto, tiles, TENSORRT, method=method)
        require_valid_qdq(model)
        scales = quantize_scales(model)
        assert scales.keys() == minmax.keys()
        assert all(scales[name] <= minmax[name] * (1 + 1e-6) for name in scales), method
        assert scales["input"] < 0.6 / 127, method  # the outlier is clipped, the rest keeps its resolution


def test_one_frame_gives_tiles_but_is_not_enough(blurry_frames):
    assert calibration_tiles(blurry_frames(1))
    with pytest.raises(QuantizationError, match="at least 2 frames"):
        split_held_out(blurry_frames(1))


def test_cpu_model_is_uint8_activations_with_zero_points(int8_cpu):
    model, _ = int8_cpu
    inits = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    zero_points = [inits[n.input[2]] for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert zero_points and {z.dtype for z in zero_points} == {np.dtype(np.uint8)}
    assert any(z.item() not in (0, 128) for z in zero_points)  # asymmetric ranges, not a symmetric model shifted


def test_cpu_model_quantizes_every_op_type_but_the_kept_nodes(int8_cpu):
    model, report = int8_cpu
    producers = {out: n for n in model.graph.node for out in n.output}
    reads_int8 = {n.name for n in model.graph.node if any(producers.get(i, n).op_type == "DequantizeLinear" for i in n.input)}
    quantized = reads_int8 - set(report.kept_float)
    assert {"Conv", "LeakyRelu", "Add", "Concat"} <= {n.op_type for n in model.graph.node if n.name in quantized}


def test_cpu_kept_nodes_are_the_gates_the_end_convs_and_the_output(w8_fp32):
    proto, _ = w8_fp32
    kept = cpu_float_nodes(proto)
    assert output_nodes(proto) == ["/Clip", "/Add"]
    assert set(end_convs(proto)) | {"/Clip", "/Add"} <= set(kept)
    gates = {n.op_type for n in proto.graph.node if n.name in kept} - {"Conv", "Add", "Clip"}
    assert {"Sigmoid", "Softmax", "GlobalAveragePool", "Mul"} <= gates


def test_cpu_searched_modules_lose_their_activation_quantize_pairs(int8_cpu):
    model, report = int8_cpu
    groups = activation_groups(model)
    assert groups and all(key.startswith("/") or key == "input" for key in groups)
    assert not set(report.float_modules) & set(groups)  # their quantizers are gone from the model
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
    quantized = quantize_int8(fp32, calibration_tiles(frames), ORT_CPU, cpu_float_nodes(fp32))
    crops = [center_crop(frame, 48) for frame in frames]
    monkeypatch.setattr(float_search, "SEARCH_TARGET_DB", 0.0)
    same, modules, (before, after) = search_float_activations(fp32, quantized, crops)
    assert same is quantized and modules == [] and before == after
    monkeypatch.setattr(float_search, "SEARCH_TARGET_DB", 1000.0)
    monkeypatch.setattr(float_search, "SEARCH_MAX_MODULES", 2)
    searched, modules, (before, after) = search_float_activations(fp32, quantized, crops)
    assert 0 < len(modules) <= 2 and after > before
    assert set(modules) <= set(activation_groups(quantized)) and not set(modules) & set(activation_groups(searched))


def test_cpu_validator_flags_signed_activations_and_per_tensor_weights(int8_cpu):
    model, _ = int8_cpu
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


@pytest.mark.parametrize("flag, name, precision, problems", [
    ("--int8", "w8.int8.onnx", "int8-qdq", qdq_problems),
    ("--int8-cpu", "w8.int8cpu.onnx", "int8-cpu", int8_cpu_problems),  # --keep-ends is --int8's alone
])  # fmt: skip
def test_cli_writes_int8_with_the_calibration_asked_and_refuses_to_overwrite(
    w8_fp32, tmp_path, blurry_frames, flag, name, precision, problems
):
    _, path = w8_fp32
    calib = tmp_path / "calib.npz"
    save_frames(calib, blurry_frames(3), [f"f{i}" for i in range(3)])
    out = tmp_path / "out"
    args = [str(path), flag, "--calib", str(calib), "--keep-ends", "no", "--int8-calibration", "minmax", "-o", str(out)]
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == [name, "w8.onnx"]
    assert f"| {name} |" in result.output and f"| {precision} |" in result.output and f"{precision} " in result.output
    assert "minmax calibration; held-out 1 frames" in result.output
    model = onnx.load(str(out / name))
    assert problems(model) == [] and "minmax" in read_metadata(model).calibration
    again = runner.invoke(app, args)
    assert again.exit_code == 2 and "--overwrite" in again.output


@pytest.mark.parametrize("flag", ["--int8", "--int8-cpu"])
def test_cli_int8_without_frames_or_with_an_unknown_method_is_a_clear_error(w8_fp32, tmp_path, flag):
    _, path = w8_fp32
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "out"
    result = runner.invoke(app, [str(path), flag, "--calib", str(empty), "-o", str(out)])
    assert result.exit_code == 2
    assert "error:" in result.output and "contains no images or videos" in result.output
    assert not out.exists()
    result = runner.invoke(app, [str(path), flag, "-o", str(out)])
    assert result.exit_code == 2 and f"{flag} needs --calib" in result.output
    result = runner.invoke(app, [str(path), flag, "--calib", str(empty), "--int8-calibration", "mse"])
    assert result.exit_code == 2 and "--int8-calibration must be one of minmax, percentile, entropy" in result.output


def test_cli_refuses_an_engine_from_a_cpu_model(int8_cpu, tmp_path):
    quantized = tmp_path / "m.int8cpu.onnx"
    onnx.save(int8_cpu[0], str(quantized))
    refused = runner.invoke(app, [str(quantized), "--engine"])
    assert refused.exit_code == 2 and "for ONNX Runtime's CPU provider" in refused.output


def test_runtime_loads_a_cpu_model_and_warns_only_without_int8_dot_products(int8_cpu, tmp_path, monkeypatch, caplog):
    model, _ = int8_cpu
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


def test_int8_module_needs_no_torch():
    script = "import sys; sys.modules['torch'] = None\nimport deblur.export.int8, deblur.cpu_features\n"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
