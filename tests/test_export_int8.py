"""INT8 QDQ ONNX: symmetric int8 (zero points 0), float biases, TensorRT-friendly op set, min/max, percentile or
entropy ranges collected tile by tile, scored on held-out frames."""


import numpy as np
import onnx
import pytest
from onnx import numpy_helper
from typer.testing import CliRunner

from deblur.calibration.frameset import save_frames
from deblur.export import float_search
from deblur.export.cli import app
from deblur.export.float_search import activation_groups, module_convs
from deblur.export.int8 import (
    QuantizationError,
    calibration_tiles,
    end_convs,
    make_int8,
    qdq_problems,
    quantize_int8,
    require_valid_qdq,
    split_held_out,
)
from deblur.export.onnx_graph import read_metadata

runner = CliRunner()


@pytest.fixture(scope="module")
def int8_auto(w8_fp32, blurry_frames):
    return make_int8(w8_fp32[0], blurry_frames(), keep_ends="auto")


def test_qdq_model_is_symmetric_int8_with_float_biases(int8_auto):
    model, _ = int8_auto
    assert qdq_problems(model) == []
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
    assert [(o.domain, o.version) for o in model.opset_import] == [("", 17)]
    per_channel = [inits[n.input[1]] for n in qdq if n.op_type == "DequantizeLinear" and n.input[0] in inits]
    assert any(scale.size > 1 for scale in per_channel)  # per-channel weight scales


def test_convolutions_read_int8_activations_and_weights(int8_auto):
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
    assert read_metadata(model).precision == "int8-qdq"


def test_auto_measures_both_ways_and_reports_held_out_quality(int8_auto):
    _, report = int8_auto
    assert {"all layers int8", "first+last in float"} <= set(report.alternatives)
    assert report.held_out_frames == 1 and report.calibration_tiles == 4
    assert report.score in report.alternatives.values()
    assert 25.0 < report.score.psnr < 120.0 and 0.5 < report.score.ssim <= 1.0
    assert report.fp32_ms > 0 and report.int8_ms > 0
    assert report.search_psnr is not None and report.search_psnr[1] >= report.search_psnr[0]


@pytest.fixture(scope="module")
def int8_searched(w8_fp32, blurry_frames):
    with pytest.MonkeyPatch.context() as patch:  # the search always adds its best module
        patch.setattr(float_search, "SEARCH_TARGET_DB", 1000.0)
        patch.setattr(float_search, "SEARCH_MAX_MODULES", 1)
        return make_int8(w8_fp32[0], blurry_frames(), keep_ends="auto")


@pytest.mark.slow  # 20 s: the keep-float search on a real network (make test-slow)
def test_the_search_requantizes_with_the_convolutions_of_its_modules_in_float(w8_fp32, blurry_frames, int8_searched):
    proto, _ = w8_fp32
    model, report = int8_searched
    assert qdq_problems(model) == []
    assert len(report.float_modules) == 1 and report.alternatives["searched layers float"] == report.score
    assert report.score.psnr > max(s.psnr for name, s in report.alternatives.items() if name != "searched layers float")
    before = quantize_int8(proto, calibration_tiles(split_held_out(blurry_frames())[0]), end_convs(proto))
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
    _, report = make_int8(w8_fp32[0], blurry_frames(3), keep_ends="yes")
    assert report.float_modules == [] and report.search_psnr is None
    assert set(report.alternatives) == {"first+last in float"}


def test_first_and_last_layers_are_the_input_and_output_conv_pairs(w8_fp32):
    assert end_convs(w8_fp32[0]) == [
        "/dec1/dec1.2/depthwise/Conv", "/dec1/dec1.2/pointwise/Conv",
        "/enc1/enc1.0/depthwise/Conv", "/enc1/enc1.0/pointwise/Conv",
    ]  # fmt: skip


def test_kept_layers_read_float_inputs_and_weights(w8_fp32, blurry_frames):
    proto, _ = w8_fp32
    tiles = calibration_tiles(blurry_frames(2))
    model = quantize_int8(proto, tiles, end_convs(proto))
    require_valid_qdq(model)
    producers = {out: n for n in model.graph.node for out in n.output}
    for node in (n for n in model.graph.node if n.name in end_convs(proto)):
        assert all(producers.get(i) is None or producers[i].op_type != "DequantizeLinear" for i in node.input), node.name


def test_validator_flags_nonzero_zero_points_and_int32_biases(int8_auto):
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


def test_weights_are_quantized_along_the_output_channel_axis(int8_auto):
    model, _ = int8_auto
    inits = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    producers = {out: n for n in model.graph.node for out in n.output}
    weight_dqs = [
        (node.op_type, producers[node.input[1]])
        for node in model.graph.node
        if node.op_type in ("Conv", "ConvTranspose") and node.input[1] in producers
    ]
    haar = [dq for op, dq in weight_dqs if op == "Conv" and inits[dq.input[0]].shape[1:] == (1, 2, 2)]
    assert haar  # the DWT convs share their kernel with IWT ConvTransposes in the fp32 graph, but not here
    for op, dq in weight_dqs:
        axis = next(a.i for a in dq.attribute if a.name == "axis")
        assert axis == (0 if op == "Conv" else 1)
        assert inits[dq.input[1]].shape == (inits[dq.input[0]].shape[axis],)


def quantize_scales(model: onnx.ModelProto) -> dict[str, float]:
    """Activation tensor -> its QuantizeLinear scale."""
    inits = {init.name: numpy_helper.to_array(init) for init in model.graph.initializer}
    return {n.input[0]: float(inits[n.input[1]]) for n in model.graph.node if n.op_type == "QuantizeLinear"}


def test_ranges_merge_over_all_tiles_though_collected_one_at_a_time(w8_fp32, blurry_frames):
    proto, _ = w8_fp32
    tiles = calibration_tiles(blurry_frames(2))
    tiles = [tile * factor for tile, factor in zip(tiles, [1.0, 0.25, 0.5, 0.125])]  # the largest input first
    scales = quantize_scales(quantize_int8(proto, tiles, method="minmax"))
    assert scales["input"] == pytest.approx(max(np.abs(t).max() for t in tiles) / 127, rel=1e-6)


def test_percentile_and_entropy_calibration_clip_outliers_into_valid_qdq(w8_fp32):
    proto, _ = w8_fp32
    rng = np.random.default_rng(0)
    tiles = [rng.uniform(0, 0.5, (1, 3, 128, 128)).astype(np.float32) for _ in range(4)]
    tiles[2][0, 1, 5, 5] = 1.0  # one input value in 196608 far above the rest
    minmax = quantize_scales(quantize_int8(proto, tiles, method="minmax"))
    assert minmax["input"] == pytest.approx(1 / 127)
    for method in ("percentile", "entropy"):
        model = quantize_int8(proto, tiles, method=method)
        require_valid_qdq(model)
        scales = quantize_scales(model)
        assert scales.keys() == minmax.keys()
        assert all(scales[name] <= minmax[name] * (1 + 1e-6) for name in scales), method
        assert scales["input"] < 0.6 / 127, method  # the outlier is clipped, the rest keeps its resolution
    with pytest.raises(QuantizationError, match="unknown calibration method"):
        quantize_int8(proto, tiles, method="mse")


def test_validator_rejects_a_model_without_qdq(w8_fp32):
    assert qdq_problems(w8_fp32[0]) == ["no QuantizeLinear/DequantizeLinear nodes"]


def test_one_frame_is_not_enough(blurry_frames):
    with pytest.raises(QuantizationError, match="at least 2 frames"):
        split_held_out(blurry_frames(1))


def test_cli_writes_int8_from_a_calibration_file(w8_fp32, tmp_path, blurry_frames):
    _, path = w8_fp32
    calib = tmp_path / "calib.npz"
    images = blurry_frames(3)
    save_frames(calib, images, [f"f{i}" for i in range(3)])
    out = tmp_path / "out"
    result = runner.invoke(app, [str(path), "--int8", "--calib", str(calib), "--keep-ends", "no", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in out.iterdir()) == ["w8.int8.onnx", "w8.onnx"]
    assert "| w8.int8.onnx |" in result.output and "held-out 1 frames" in result.output
    assert qdq_problems(onnx.load(str(out / "w8.int8.onnx"))) == []


def test_cli_takes_a_calibration_method(w8_fp32, tmp_path, blurry_frames):
    _, path = w8_fp32
    calib = tmp_path / "calib.npz"
    save_frames(calib, blurry_frames(3), [f"f{i}" for i in range(3)])
    args = [str(path), "--int8", "--calib", str(calib), "--keep-ends", "no", "-o", str(tmp_path / "out")]
    result = runner.invoke(app, [*args, "--int8-calibration", "percentile"])
    assert result.exit_code == 0, result.output
    assert "percentile calibration" in result.output
    assert "percentile" in read_metadata(onnx.load(str(tmp_path / "out" / "w8.int8.onnx"))).calibration
    result = runner.invoke(app, [*args, "--int8-calibration", "mse"])
    assert result.exit_code == 2 and "--int8-calibration must be one of minmax, percentile, entropy" in result.output


def test_cli_int8_without_frames_is_a_clear_error(w8_fp32, tmp_path):
    _, path = w8_fp32
    empty = tmp_path / "empty"
    empty.mkdir()
    out = tmp_path / "out"
    result = runner.invoke(app, [str(path), "--int8", "--calib", str(empty), "-o", str(out)])
    assert result.exit_code == 2
    assert "error:" in result.output and "contains no images or videos" in result.output
    assert not out.exists()
    result = runner.invoke(app, [str(path), "--int8", "-o", str(out)])
    assert result.exit_code == 2 and "--int8 needs --calib" in result.output
