"""Backends and model files: real ONNX Runtime sessions, metadata checks, providers, TensorRT guards."""

import logging
import sys
from pathlib import Path

import numpy as np
import pytest

from deblur.runtime.backends import cpu_fusion
from deblur.runtime.backends.cpu_fusion import fused_graph
from deblur.runtime.backends.onnxruntime import (CPU, CUDA, TENSORRT, choose_providers, cpu_speed_note, fallback_warning,
                                                 unavailable_device, with_options)
from deblur.runtime.backends.registry import open_backend
from deblur.runtime.backends.tensorrt import read_checked_sidecar
from deblur.runtime.errors import BackendError, ModelFileError
from deblur.runtime.frames import from_model_output, to_model_input
from deblur.runtime.model_file import bundled_model_path, model_kind, resolve_model_path


def test_onnxruntime_runs_the_real_network(deblur_onnx):
    backend = open_backend(deblur_onnx, device="cpu", threads=1)
    assert backend.name == "onnxruntime" and backend.provider == CPU
    assert backend.model.width == 8 and backend.model.size_multiple == 8 and backend.model.precision == "fp32"
    batch = np.random.default_rng(0).random((2, 3, 40, 56), dtype=np.float32)
    out = backend.infer(batch)
    assert out.shape == batch.shape and out.dtype == np.float32
    assert 0 <= out.min() and out.max() <= 1 and not np.allclose(out, batch)
    assert np.allclose(backend.infer(batch[1:]), out[1:], atol=1e-5)  # batching does not mix frames


def test_float16_io_is_cast_in_the_backend(identity_fp16_onnx):
    backend = open_backend(identity_fp16_onnx, device="cpu")
    batch = np.random.default_rng(1).random((1, 3, 8, 16), dtype=np.float32)
    out = backend.infer(batch)
    assert out.dtype == np.float32
    assert np.array_equal(out, batch.astype(np.float16).astype(np.float32))


def test_models_of_the_wrong_kind_are_refused(tmp_path, foreign_onnx):
    with pytest.raises(ModelFileError, match="not a deblur model"):
        open_backend(foreign_onnx)
    garbage = tmp_path / "random.onnx"
    garbage.write_bytes(np.random.default_rng(0).bytes(4096))
    with pytest.raises(ModelFileError, match="random.onnx: not a loadable ONNX model"):
        open_backend(garbage)
    with pytest.raises(ModelFileError, match="training checkpoint"):
        model_kind(tmp_path / "model.safetensors")
    with pytest.raises(ModelFileError, match="unknown model file type"):
        model_kind(tmp_path / "notes.txt")
    with pytest.raises(ModelFileError, match="no such model file"):
        resolve_model_path(tmp_path / "missing.onnx")
    with pytest.raises(BackendError, match="cannot load a onnx file"):
        open_backend(foreign_onnx, backend="tensorrt")


def test_bundled_model_lookup():
    try:
        path = bundled_model_path()
    except ModelFileError as exc:
        assert "no bundled model in this install; pass --model" in str(exc)
    else:
        assert path.name == "deblur-lite.onnx" and path.is_file()


def test_provider_choice_and_fallback_warning():
    assert choose_providers("cpu", [CUDA, CPU]) == [CPU]
    assert choose_providers("auto", [CUDA, CPU]) == [CUDA, CPU]
    assert choose_providers("auto", [CPU]) == [CPU]
    assert choose_providers("tensorrt", [TENSORRT, CUDA, CPU]) == [TENSORRT, CUDA, CPU]
    configured = with_options([TENSORRT, CUDA, CPU], Path("/cache"))
    assert configured[0][0] == TENSORRT and configured[0][1]["trt_engine_cache_path"] == "/cache"
    assert configured[1:] == [CUDA, CPU]
    assert unavailable_device("cuda", [CUDA, CPU], CUDA) is None and unavailable_device("cuda", [CUDA, CPU]) is None
    assert unavailable_device("auto", [CPU], CPU) is None and unavailable_device("cpu", [CPU]) is None
    assert "device cuda is not available: this onnxruntime build has no CUDAExecutionProvider" in \
        unavailable_device("cuda", [CPU])
    assert "failed to load" in unavailable_device("cuda", [CUDA, CPU], CPU)
    assert fallback_warning("auto", [CPU], CPU) is None and fallback_warning("cuda", [CUDA, CPU], CPU) is None
    assert "failed to load" in fallback_warning("auto", [CUDA, CPU], CPU) and "--" not in fallback_warning(
        "auto", [CUDA, CPU], CPU)


def _residual_activations(proto) -> int:
    """Add -> LeakyRelu pairs of a graph: the residual block tails ``cpu_fusion`` fuses."""
    consumers = {}
    for node in proto.graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node.op_type)
    return sum(1 for node in proto.graph.node if node.op_type == "Add" and consumers.get(node.output[0]) == ["LeakyRelu"])


def test_cpu_fusion_fuses_every_residual_activation_and_keeps_the_output(deblur_onnx):
    import onnx
    import onnxruntime

    fused = onnx.load_from_string(fused_graph(onnxruntime, deblur_onnx, [CPU]))
    with_sum_and_leaky_relu = [node for node in fused.graph.node if node.op_type == "FusedConv" and len(node.input) == 4
                               and b"LeakyRelu" in [a.s for a in node.attribute if a.name == "activation"]]
    expected = _residual_activations(onnx.load(str(deblur_onnx)))
    assert expected == 21 and len(with_sum_and_leaky_relu) == expected and _residual_activations(fused) == 0
    backend = open_backend(deblur_onnx, device="cpu", threads=1)
    assert backend.cpu_fused
    plain = onnxruntime.InferenceSession(str(deblur_onnx), providers=[CPU])
    batch = np.random.default_rng(3).random((1, 3, 48, 64), dtype=np.float32)
    (reference,) = plain.run(None, {"input": batch})
    assert np.abs(backend.infer(batch) - reference).max() <= 1e-5


def test_cpu_fusion_leaves_other_precisions_and_survives_no_temporary_folder(identity_fp16_onnx, deblur_onnx,
                                                                              tmp_path, monkeypatch, caplog):
    with caplog.at_level(logging.WARNING, logger="deblur.runtime"):
        assert not open_backend(identity_fp16_onnx, device="cpu").cpu_fused
    assert "identity-fp16.onnx: fp16 ONNX files are built for TensorRT" in caplog.text  # and 2.7x slower on CPU
    caplog.clear()
    monkeypatch.setattr(cpu_fusion.tempfile, "tempdir", str(tmp_path / "missing"))
    with caplog.at_level(logging.WARNING, logger="deblur.runtime"):
        backend = open_backend(deblur_onnx, device="cpu", threads=1)
    assert not backend.cpu_fused and "running without the CPU residual fusion" in caplog.text
    assert backend.infer(np.zeros((1, 3, 16, 16), dtype=np.float32)).shape == (1, 3, 16, 16)


def _failing_graph_bytes() -> bytes:
    """A graph with the runtime's input and output whose run fails: it reshapes any frame to 1x3x5x5."""
    import onnx
    from onnx import TensorProto, helper

    shape = helper.make_tensor("shape", TensorProto.INT64, [4], [1, 3, 5, 5])
    graph = helper.make_graph([helper.make_node("Reshape", ["input", "shape"], ["output"])], "failing",
                              [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["b", 3, "h", "w"])],
                              [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 3, 5, 5])], [shape])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


@pytest.mark.parametrize(("replacement", "message"), [("identity", "differs from the plain graph by"),
                                                      ("failing", "cannot run the CPU residual fusion")])
def test_a_fused_graph_that_fails_or_differs_is_not_used(deblur_onnx, identity_onnx, monkeypatch, caplog,
                                                         replacement, message):
    # ONNX Runtime 1.17 builds the fused session but fails on its first run; another version could compute wrong.
    graph = identity_onnx.read_bytes() if replacement == "identity" else _failing_graph_bytes()
    monkeypatch.setattr(cpu_fusion, "fused_graph", lambda *args: graph)
    with caplog.at_level(logging.WARNING, logger="deblur.runtime"):
        backend = open_backend(deblur_onnx, device="cpu", threads=1)
    assert not backend.cpu_fused and message in caplog.text and "running the plain graph" in caplog.text
    batch = np.random.default_rng(4).random((1, 3, 16, 24), dtype=np.float32)
    assert not np.allclose(backend.infer(batch), batch, atol=1e-3)  # the real network, not the stand-in


def test_onnx_runtime_before_1_27_keeps_the_plain_graph(deblur_onnx, monkeypatch, caplog):
    import onnxruntime

    assert [cpu_fusion.runs_fused_graphs(v) for v in ("1.32.0", "1.27.0+cu124", "1.26.0", "1.9.1", "2.0", "dev")] == [
        True, True, False, False, True, True]
    monkeypatch.setattr(onnxruntime, "__version__", "1.26.0")
    with caplog.at_level(logging.WARNING, logger="deblur.runtime"):
        assert not open_backend(deblur_onnx, device="cpu", threads=1).cpu_fused
    assert not caplog.text  # nothing to warn about: the session is what it was before the fusion existed


def test_cpu_speed_notes_name_the_precisions_that_run_slow_on_cpu():
    assert cpu_speed_note("fp32") is None
    assert "2.7x slower than the fp32 file" in cpu_speed_note("fp16")
    assert "1.9x slower" in cpu_speed_note("int8-qdq") and "--int8-cpu" in cpu_speed_note("int8-qdq")


def test_cuda_request_on_a_cpu_build_is_an_error_and_auto_runs_on_cpu(identity_onnx, make_image, tmp_path, caplog):
    import onnxruntime
    from typer.testing import CliRunner

    from deblur.runtime.cli import app
    from deblur.runtime.errors import BackendError

    if CUDA in onnxruntime.get_available_providers():
        pytest.skip("this onnxruntime has CUDA")
    with pytest.raises(BackendError, match="device cuda is not available: this onnxruntime build has no CUDA"):
        open_backend(identity_onnx, device="cuda", threads=1)
    with caplog.at_level(logging.WARNING, logger="deblur.runtime"):
        assert open_backend(identity_onnx, device="auto", threads=1).provider == CPU
    assert not caplog.text  # a CPU-only build: the CPU is what auto means, nothing to warn about
    image, _ = make_image(tmp_path / "a.png", 16, 16)
    result = CliRunner().invoke(app, [str(image), "--model", str(identity_onnx), "--device", "cuda"])
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: device cuda is not available")
    assert not (tmp_path / "a_deblurred.png").exists()


def test_engine_sidecar_problems_are_model_file_errors(tmp_path):
    engine = tmp_path / "lite.engine"
    engine.write_bytes(b"\0" * 16)
    with pytest.raises(ModelFileError, match="missing sidecar lite.engine.json"):
        read_checked_sidecar(engine, "10.3.0", "Orin", "8.7")


def test_missing_tensorrt_is_reported_clearly(tmp_path, monkeypatch):
    engine = tmp_path / "lite.engine"
    engine.write_bytes(b"\0" * 16)
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # an absent module, also where TensorRT is installed
    with pytest.raises(BackendError, match="`tensorrt` Python package is not installed. On Jetson TensorRT comes with"):
        open_backend(engine)


@pytest.mark.parametrize("shape,dtype", [((9, 7), np.uint8), ((9, 7, 3), np.uint8), ((9, 7, 4), np.uint8),
                                         ((9, 7, 3), np.uint16), ((9, 7), np.uint16), ((9, 7, 1), np.uint8)])
def test_frame_conversion_round_trips(shape, dtype):
    rng = np.random.default_rng(0)
    image = rng.integers(0, np.iinfo(dtype).max + 1, size=shape, dtype=dtype)
    chw = to_model_input(image)
    assert chw.shape == (3, 9, 7) and chw.dtype == np.float32 and 0 <= chw.min() and chw.max() <= 1
    back = from_model_output(chw, image)
    assert back.shape == image.shape and back.dtype == image.dtype
    assert np.array_equal(back, image)


def test_bgr_is_fed_to_the_model_as_rgb():
    bgr = np.zeros((2, 2, 3), np.uint8)
    bgr[..., 2] = 255  # red in OpenCV's BGR order
    chw = to_model_input(bgr)
    assert chw[0].min() == 1.0 and chw[1].max() == 0 and chw[2].max() == 0
