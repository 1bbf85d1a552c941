"""Coarse pass (``deblur-run --coarse-pass``): area shrink and half-pixel bilinear upsampling as torch does them,
the correction added at full size, every frame layout kept, and checked factors."""

import numpy as np
import pytest
import torch
import torch.nn.functional as functional

from deblur import Deblurrer
from deblur.coarse_pass import check_factor, coarse_pass, coarse_size
from deblur.runtime.backends.registry import load_backend, open_backend
from deblur.runtime.deblurrer import FrameDeblurrer
from deblur.runtime.settings import RunSettings


def _squared(frames: list[np.ndarray]) -> list[np.ndarray]:
    """A stand-in model whose correction depends on the content."""
    return [chw**2 for chw in frames]


@pytest.mark.parametrize("factor", [2, 4])
def test_matches_average_pooling_and_bilinear_upsampling_in_torch(factor):
    chw = np.random.default_rng(0).random((3, 24, 40), dtype=np.float32)
    (out,) = coarse_pass([chw], factor, _squared)
    with torch.no_grad():
        x = torch.from_numpy(chw)[None]
        small = functional.avg_pool2d(x, factor)
        correction = functional.interpolate(small**2 - small, scale_factor=factor, mode="bilinear", align_corners=False)
        expected = (x + correction)[0].numpy()
    np.testing.assert_allclose(out, expected, atol=1e-6)


def test_any_size_and_factor_keeps_the_frame_size_and_adds_only_the_correction():
    chw = np.random.default_rng(1).random((3, 37, 53), dtype=np.float32)
    sizes = []

    def offset(frames):
        sizes.extend(frame.shape[1:] for frame in frames)
        return [frame + 0.25 for frame in frames]

    (out,) = coarse_pass([chw], 2.5, offset)
    assert sizes == [(15, 21)] == [coarse_size(37, 53, 2.5)]
    np.testing.assert_allclose(out, chw + 0.25, atol=1e-6)  # a constant correction upsamples to itself
    (same,) = coarse_pass([chw], 3, lambda frames: frames)
    np.testing.assert_array_equal(same, chw)  # no correction, no change: finer detail is kept as it was
    assert coarse_size(3, 2, 8) == (1, 1)
    (off,) = coarse_pass([chw], 1, lambda frames: [frame * 0.5 for frame in frames])
    np.testing.assert_array_equal(off, chw * 0.5)  # factor 1: the model on the frame as it is


def test_factors_outside_one_to_eight_are_refused():
    for factor in (0, 0.5, 8.5):
        with pytest.raises(ValueError, match="--coarse-pass must be between 1"):
            check_factor(factor)
    check_factor(1)
    check_factor(8)


def test_frames_of_every_layout_through_the_real_network(deblur_onnx):
    backend = open_backend(deblur_onnx, "onnxruntime", "cpu", threads=1)
    rng = np.random.default_rng(2)
    plain = FrameDeblurrer(backend, RunSettings(model=deblur_onnx))
    coarse = FrameDeblurrer(backend, RunSettings(model=deblur_onnx, coarse_pass=2, tile=16, tile_overlap=4))
    for frame in [(rng.random((50, 70, 3)) * 255).astype(np.uint8),
                  (rng.random((50, 70)) * 255).astype(np.uint8),
                  (rng.random((33, 41, 4)) * 65535).astype(np.uint16),
                  (rng.random((3, 5, 2)) * 255).astype(np.uint8)]:
        (out,) = coarse([frame])
        assert out.shape == frame.shape and out.dtype == frame.dtype
        if frame.ndim == 3 and frame.shape[2] in (2, 4):
            np.testing.assert_array_equal(out[..., -1], frame[..., -1])  # alpha passes through
    frame = (rng.random((48, 64, 3)) * 255).astype(np.uint8)
    assert np.abs(coarse([frame])[0].astype(int) - plain([frame])[0]).max() > 1  # not the full-size model
    assert coarse.last_tile == 16  # the shrunk frame (24 x 32) is tiled as any frame is


def test_the_api_and_the_frame_deblurrer_agree(deblur_onnx):
    frame = (np.random.default_rng(3).random((40, 56, 3)) * 255).astype(np.uint8)
    with Deblurrer(deblur_onnx, color="bgr", threads=1, coarse_pass=2) as deblur:
        through_api = deblur(frame)
    settings = RunSettings(model=deblur_onnx, backend="onnxruntime", device="cpu", threads=1, coarse_pass=2)
    direct = FrameDeblurrer(load_backend(settings), settings)([frame])[0]
    assert np.abs(through_api.astype(int) - direct).max() <= 1  # one rounding step
