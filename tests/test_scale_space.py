"""Scale-space deblurring: the composition, its gate, checkpoints, training switches, the one-graph export
and the runtime running it (tiny random models)."""

import dataclasses

import numpy as np
import onnx
import pytest
import torch

from deblur.contract import BLUR_LENGTH_NAME, OUTPUT_NAME
from deblur.model.checkpoint import load_checkpoint, save_checkpoint
from deblur.model.config import ModelConfig
from deblur.model.growth import load_initial_weights
from deblur.model.scale_space import CANDIDATES, ScaleSpaceDeblur, build_model, candidate_corrections, down, up
from deblur.model.unet import DeblurUNet

TINY = ModelConfig(variant="lite", width=8, dmrfab_growth=8, dmrfab_branch=8, scale_space=True)


def tiny_model(seed: int = 0) -> ScaleSpaceDeblur:
    torch.manual_seed(seed)
    model = build_model(TINY).eval()
    with torch.no_grad():
        model.candidate_lengths.copy_(torch.arange(len(CANDIDATES), dtype=torch.float32) * 10)
    return model


def test_config_multiple_and_model_kind():
    assert TINY.size_multiple == 32 and dataclasses.replace(TINY, scale_space=False).size_multiple == 8
    assert isinstance(build_model(TINY), ScaleSpaceDeblur)
    assert isinstance(build_model(dataclasses.replace(TINY, scale_space=False)), DeblurUNet)


def test_band_candidates_recombine_exactly():
    """When the half-size correction is the full one shrunk, "full+half" is the full correction: the bands
    split and rejoin without loss; "half" is its low band alone."""
    c1 = torch.rand(1, 3, 32, 64)
    c2, c4 = down(c1), down(down(c1))
    full, half, full_half, three = candidate_corrections(c1, c2, c4).unbind(1)
    assert torch.equal(full, c1)
    torch.testing.assert_close(full_half, c1)
    torch.testing.assert_close(half, up(down(c1)))
    assert three.shape == c1.shape


def test_gate_weights_sum_to_one_and_sizes_are_checked(one_torch_thread):
    model = tiny_model()
    x = torch.rand(2, 3, 64, 96)
    with torch.no_grad():
        weights = model.mean_gate_weights(x)
        out, length = model.forward_with_length(x)
    assert weights.shape == (2, len(CANDIDATES))
    torch.testing.assert_close(weights.sum(1), torch.ones(2))
    assert out.shape == x.shape and 0 <= float(out.min()) and float(out.max()) <= 1
    torch.testing.assert_close(length, (weights * model.candidate_lengths).sum(1))
    with pytest.raises(ValueError, match="multiples of 32"):
        model(torch.rand(1, 3, 40, 64))


def test_a_gate_choosing_full_size_is_the_network_alone(one_torch_thread):
    model = tiny_model()
    with torch.no_grad():  # a head that always picks "full"
        head = model.gate.head[-1]
        head.weight.zero_()
        head.bias.copy_(torch.tensor([-50.0, 50.0, -50.0, -50.0, -50.0]))
        x = torch.rand(1, 3, 64, 64)
        torch.testing.assert_close(model(x), model.net(x), atol=1e-6, rtol=0)


def test_frozen_network_trains_the_gate_only(one_torch_thread):
    model = tiny_model().train()
    model.freeze_network()
    loss = model(torch.rand(1, 3, 64, 64)).square().mean()
    loss.backward()
    assert all(p.grad is None for p in model.net.parameters())
    assert all(p.grad is not None for p in model.gate.parameters())


def test_checkpoint_round_trip_and_start_from_a_single_scale_network(tmp_path, one_torch_thread):
    model = tiny_model()
    save_checkpoint(model, tmp_path / "ss.safetensors")
    loaded = load_checkpoint(tmp_path / "ss.safetensors")
    assert isinstance(loaded, ScaleSpaceDeblur)
    torch.testing.assert_close(loaded.candidate_lengths, model.candidate_lengths)
    single = model.net
    save_checkpoint(single, tmp_path / "single.safetensors")
    started = load_initial_weights(tmp_path / "single.safetensors", TINY)
    assert isinstance(started, ScaleSpaceDeblur)
    for key, value in single.state_dict().items():
        assert torch.equal(started.net.state_dict()[key], value)


def test_nonnegative_least_squares():
    from deblur.train.blur_length import nonnegative_least_squares

    a = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    np.testing.assert_allclose(nonnegative_least_squares(a, a @ np.array([2.0, 3.0])), [2.0, 3.0], atol=1e-9)
    assert (nonnegative_least_squares(a, np.array([5.0, -4.0, 1.0])) >= 0).all()


@pytest.fixture(scope="module")
def scale_space_onnx(tmp_path_factory):
    from deblur.export.onnx_export import compare_with_torch, export_onnx
    from deblur.export.verify import check_batches

    path = tmp_path_factory.mktemp("scale_space") / "ss.onnx"
    model = tiny_model()
    proto = export_onnx(model, path)
    return path, proto, compare_with_torch(model, proto, check_batches(multiple=32))


def test_export_holds_the_whole_pyramid(scale_space_onnx):
    from deblur.export.onnx_graph import read_metadata

    _, proto, comparisons = scale_space_onnx
    assert [o.name for o in proto.graph.output] == [OUTPUT_NAME, BLUR_LENGTH_NAME]
    ops = {node.op_type for node in proto.graph.node}
    assert {"AveragePool", "Resize", "Softmax"} <= ops and not ops & {"Loop", "If", "DFT"}
    metadata = read_metadata(proto)
    assert metadata.size_multiple == 32 and metadata.scales == (1, 2, 4)
    assert all(c.max_abs_error < 1e-4 for c in comparisons)
    assert any("x3x160x" in c.label for c in comparisons)  # the 136-row check shape rounded up to 32
    onnx.checker.check_model(proto, full_check=True)


def test_runtime_pads_runs_tiles_and_reports_the_blur_length(scale_space_onnx, make_image, tmp_path):
    from deblur.runtime.deblurrer import FrameDeblurrer
    from deblur.runtime.backends.registry import open_backend
    from deblur.runtime.runner import RunSummary
    from deblur.runtime.settings import RunSettings

    path, _, _ = scale_space_onnx
    backend = open_backend(path, "onnxruntime", "cpu", 1)
    assert backend.model.size_multiple == 32
    frame = (np.random.default_rng(0).random((75, 101, 3)) * 255).astype(np.uint8)
    whole = FrameDeblurrer(backend, RunSettings(model=path))([frame])[0]
    tiled_deblurrer = FrameDeblurrer(backend, RunSettings(model=path, tile=64))
    tiled = tiled_deblurrer([frame])[0]
    assert whole.shape == tiled.shape == frame.shape and whole.dtype == np.uint8
    assert tiled_deblurrer.tile_overlap(64) == 32  # two size multiples, at most half the tile
    assert backend.blur_length_count >= 1 + 4  # the whole frame, then at least four tiles
    summary = RunSummary(tmp_path / "o.png", 1, 1.0, "onnxruntime", "CPU", None, False, blur_length=17.4)
    assert "estimated blur 17 px" in summary.line()
    backend.close()


def test_api_reports_the_estimated_blur_length(scale_space_onnx):
    from deblur import Deblurrer

    path, _, _ = scale_space_onnx
    with Deblurrer(model=str(path), threads=1) as deblur:
        assert deblur.estimated_blur_length is None
        deblur(np.zeros((40, 50, 3), np.uint8))
        assert deblur.estimated_blur_length is not None and deblur.estimated_blur_length >= 0


def test_engine_profile_rounds_up_to_the_model_multiple(scale_space_onnx):
    from deblur.export.tensorrt_build import engine_options_for, make_profile

    path, _, _ = scale_space_onnx
    options = engine_options_for(path, make_profile("1x3x256x256", "1x3x720x1280", "1x3x1080x1920"))
    assert options.profile.opt == (1, 3, 736, 1280) and options.profile.max == (1, 3, 1088, 1920)
