"""The model shipped in the package: found without --model, described by its metadata, and it deblurs."""

import numpy as np

from deblur.metrics import psnr
from deblur.runtime.backends.registry import open_backend
from deblur.runtime.model_file import bundled_model_path, resolve_model_path
from deblur.runtime.tiling import run_padded
from deblur.train.data import BlurSettings, synthesize_blur


def _coffee_crop() -> np.ndarray:
    """A 256x256 crop of scikit-image's CC0 "coffee" photograph (the demo's image), RGB float in [0, 1]."""
    from skimage.data import coffee

    return coffee()[80:336, 160:416].astype(np.float32) / 255.0


def test_the_bundled_model_is_the_default_and_is_trained():
    path = resolve_model_path(None)
    assert path == bundled_model_path() and path.name == "deblur-lite.onnx"
    backend = open_backend(path, "onnxruntime", "cpu", threads=1)
    assert backend.model.variant == "lite" and backend.model.precision == "fp32"
    assert "synthetic" in backend.model.training_data


def test_the_bundled_model_improves_camera_shake():
    sharp = _coffee_crop()
    shake = BlurSettings(length=(10.0, 14.0), shot_noise=(0.0, 0.0), read_noise=(0.0, 0.0), jpeg_probability=0.0,
                         moving_object_probability=0.0)
    backend = open_backend(bundled_model_path(), "onnxruntime", "cpu", threads=1)
    gains = []
    for seed in range(4):
        blurred = synthesize_blur(sharp, np.random.default_rng(seed), shake)
        restored = run_padded(blurred.transpose(2, 0, 1)[None].copy(), backend.infer,
                              backend.model.size_multiple)[0].transpose(1, 2, 0)
        gains.append(psnr(restored, sharp) - psnr(blurred, sharp))
    # The shipped model gains 3.2-5.8 dB on these four (MODEL.md: +2.8 dB on held-out 4-16 px shake);
    # an untrained network scores about 10 dB below its input.
    assert min(gains) > 1.5, gains


def test_the_default_is_scale_space_and_lite_1x_the_full_size_network():
    from deblur.runtime.model_registry import resolve_model

    default = open_backend(resolve_model(None), "onnxruntime", "cpu", threads=1)
    single = open_backend(resolve_model("lite-1x"), "onnxruntime", "cpu", threads=1)
    assert default.model.metadata.scales == (1, 2, 4) and default.model.size_multiple == 32
    assert not single.model.metadata.scale_space and single.model.size_multiple == 8
    assert single.model.width == default.model.width
