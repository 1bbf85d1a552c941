"""FP16 ONNX: half weights and compute, selectable I/O, and the safety check that keeps overflowing nodes in fp32."""


import numpy as np
import onnx
import pytest
import torch
from onnx import numpy_helper

from deblur.export.fp16 import ACTIVATION_LIMIT, FP16_MAX, activation_peaks, convert_to_fp16, make_fp16
from deblur.export.onnx_export import export_onnx
from deblur.export.onnx_graph import read_metadata
from deblur.export.ort_session import cpu_session, run
from deblur.export.sample_images import blurry_image, to_nchw
from deblur.export.verify import check_batches
from deblur.model.config import ModelConfig
from deblur.model.unet import DeblurUNet


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def small_batches():
    """A natural-looking blurry image and a random batch: enough for the checks, quick on CPU."""
    return [("natural 1x3x64x96", to_nchw([blurry_image(64, 96, seed=3)])), check_batches()[1]]


@pytest.fixture(scope="module")
def fp32(tmp_path_factory):
    torch.manual_seed(0)
    model = DeblurUNet(ModelConfig(variant="test", width=8))
    return export_onnx(model, tmp_path_factory.mktemp("fp32") / "w8.onnx")


@pytest.fixture(scope="module")
def overflowing(tmp_path_factory):
    """A width-8 model with one depthwise conv scaled far past fp16's range and the next conv scaled back."""
    torch.manual_seed(2)
    model = DeblurUNet(ModelConfig(variant="test", width=8)).eval()
    with torch.no_grad():
        model.dec1[2].depthwise.weight.mul_(1e5)
        model.dec1[2].pointwise.weight.mul_(1e-5)
    return export_onnx(model, tmp_path_factory.mktemp("overflow") / "big.onnx")


def test_fp16_model_is_close_to_fp32_and_stores_half_weights(fp32):
    half, report = make_fp16(fp32, small_batches())
    weights = [init for init in half.graph.initializer if init.data_type in (onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16)]
    assert weights and all(init.data_type == onnx.TensorProto.FLOAT16 for init in weights)
    assert report.kept_fp32 == []
    assert all(c.psnr > 60.0 and c.max_abs_error < 5e-3 for c in report.comparisons), report.comparisons
    name, peak = report.peak_activations[0]
    assert 0.0 < peak < ACTIVATION_LIMIT and peak == max(p for _, p in report.peak_activations)
    metadata = read_metadata(half)
    assert metadata.precision == "fp16" and metadata.io_dtype == "float32" and metadata.float_nodes == ()
    assert half.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT


def test_fp16_io_can_be_half(fp32):
    half = convert_to_fp16(fp32, keep_io_types=False)
    assert half.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    assert half.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT16
    assert read_metadata(half).io_dtype == "float16"
    session = cpu_session(half)
    x = np.random.default_rng(0).random((1, 3, 32, 48), dtype=np.float32)
    assert session.run(None, {"input": x.astype(np.float16)})[0].dtype == np.float16
    assert np.abs(run(session, x) - run(cpu_session(fp32), x)).max() < 5e-3


def test_activation_peaks_cover_every_node_output(fp32):
    peaks = activation_peaks(fp32, small_batches()[:1])
    outputs = {out for node in fp32.graph.node for out in node.output}
    assert set(peaks) == outputs
    assert peaks["output"] <= 1.0


def test_naive_conversion_overflows_where_the_safety_check_does_not(overflowing):
    batches = small_batches()
    peaks = activation_peaks(overflowing, batches)
    assert max(peaks.values()) > FP16_MAX  # the test model really is out of fp16 range

    naive = activation_peaks(convert_to_fp16(overflowing), batches)
    assert naive["/dec1/dec1.2/depthwise/Conv_output_0"] == float("inf")

    half, report = make_fp16(overflowing, batches)
    # the depthwise conv overflows in fp32 terms; its consumer is found when the fp16 model gives inf
    assert report.kept_fp32 == ["/dec1/dec1.2/depthwise/Conv", "/dec1/dec1.2/pointwise/Conv"]
    assert all(c.psnr > 60.0 for c in report.comparisons), report.comparisons
    assert list(read_metadata(half).float_nodes) == report.kept_fp32
    kept = next(n for n in half.graph.node if n.name == "/dec1/dec1.2/depthwise/Conv")
    weights = {init.name: numpy_helper.to_array(init) for init in half.graph.initializer}
    assert weights[kept.input[1]].dtype == np.float32  # kept nodes keep fp32 weights
    assert max(activation_peaks(half, batches).values()) < float("inf")


def test_fp16_graph_is_valid_and_topologically_sorted(fp32):
    half = convert_to_fp16(fp32, keep_fp32=["/dec1/dec1.2/pointwise/Conv", "/Add"])
    onnx.checker.check_model(half, full_check=True)
    casts = [n for n in half.graph.node if n.op_type == "Cast"]
    # input/output casts plus one into and one out of the kept pair: no fp32->fp16->fp32 round trip between them
    producers = {out: n for n in half.graph.node for out in n.output}
    add = next(n for n in half.graph.node if n.name == "/Add")
    assert all(producers.get(i) is None or producers[i].op_type != "Cast" for i in add.input)
    assert len(casts) <= 4


def test_nodes_with_weights_beyond_fp16_stay_fp32(tmp_path):
    torch.manual_seed(4)
    model = DeblurUNet(ModelConfig(variant="test", width=8)).eval()
    with torch.no_grad():
        model.enc2[0].pointwise.weight[0, 0] = 1e5  # one huge weight, multiplied by near-zero activations
        model.enc2[0].depthwise.weight.zero_()
        model.enc2[0].depthwise.bias.zero_()
    proto = export_onnx(model, tmp_path / "w.onnx")
    _, report = make_fp16(proto, small_batches())
    assert "/enc2/enc2.0/pointwise/Conv" in report.kept_fp32


def test_an_unchecked_fp16_build_is_the_same_safe_model(overflowing):
    checked, checked_report = make_fp16(overflowing, small_batches())
    unchecked, report = make_fp16(overflowing, small_batches(), check=False)
    assert report.kept_fp32 == checked_report.kept_fp32 != [] and report.comparisons == []
    assert unchecked.SerializeToString() == checked.SerializeToString()
