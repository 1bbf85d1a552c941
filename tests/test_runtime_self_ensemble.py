"""Flip self-ensemble: exactly the mean of the flipped runs, on tiles too, and checked options."""

import numpy as np
import pytest

from deblur.runtime.backends.registry import open_backend
from deblur.runtime.deblurrer import FrameDeblurrer
from deblur.runtime.self_ensemble import FLIPS, flip_ensemble
from deblur.runtime.settings import RunSettings


def _position_dependent(batch: np.ndarray) -> np.ndarray:
    """Not flip-equivariant: adds a ramp along x and a smaller one along y."""
    _, _, height, width = batch.shape
    return batch + np.arange(width, dtype=np.float32) + 100 * np.arange(height, dtype=np.float32)[:, None]


@pytest.mark.parametrize("passes", sorted(FLIPS))
def test_mean_of_the_unflipped_outputs(passes):
    batch = np.random.default_rng(0).random((2, 3, 4, 6), dtype=np.float32)
    flipped_runs = [np.flip(_position_dependent(np.flip(batch, axes)), axes) for axes in FLIPS[passes]]
    out = flip_ensemble(_position_dependent, passes)(batch)
    assert out.shape == batch.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, np.mean(flipped_runs, axis=0), rtol=1e-6)
    # The ramps cancel to their mean over the flipped axes: 4 passes make the output flip-symmetric.
    if passes == 4:
        np.testing.assert_allclose(out - batch, np.flip(out - batch, (2, 3)), rtol=1e-6)


def test_one_pass_is_the_plain_model():
    assert flip_ensemble(_position_dependent, 1) is _position_dependent


def test_real_network_whole_frames_and_tiles(deblur_onnx):
    backend = open_backend(deblur_onnx, "onnxruntime", "cpu", threads=1)
    rng = np.random.default_rng(1)
    frame = (rng.random((48, 64, 3)) * 255).astype(np.uint8)  # multiples of 8: no padding to mirror
    deblurrer = FrameDeblurrer(backend, RunSettings(model=deblur_onnx))
    plain = deblurrer([frame])[0].astype(np.float32)
    mirrored = np.flip(deblurrer([np.ascontiguousarray(frame[:, ::-1])])[0], 1).astype(np.float32)
    ensembled = FrameDeblurrer(backend, RunSettings(model=deblur_onnx, self_ensemble=2))([frame])[0].astype(np.float32)
    assert np.abs(ensembled - (plain + mirrored) / 2).max() <= 1  # one 8-bit rounding step
    assert np.abs(ensembled - plain).max() > 1  # random weights are not mirror-symmetric
    tiled = FrameDeblurrer(backend, RunSettings(model=deblur_onnx, tile=32, tile_overlap=8, self_ensemble=4))([frame])[0]
    assert tiled.shape == frame.shape and tiled.dtype == np.uint8
