"""Shared fixtures: small deblur ONNX models and generated videos and images (tests make their own data)."""

from pathlib import Path

import cv2
import numpy as np
import pytest

from deblur.clip_writer import write_h264_clip
from deblur.contract import ModelMetadata, Precision
from deblur.model.config import ModelConfig


def deblur_metadata(width: int = 8, io_dtype: str = "float32", precision: str = "fp32") -> dict[str, str]:
    """A complete deblur metadata set for hand-built test models, built by the export/runtime contract."""
    return (ModelMetadata.for_config(ModelConfig(variant="test", width=width), "none (test model)")
            .replace(precision=Precision(precision), io_dtype=io_dtype).to_props())


def _identity_onnx(path: Path, io_dtype: str, metadata: dict[str, str] | None) -> Path:
    import onnx
    from onnx import TensorProto, helper

    elem = TensorProto.FLOAT16 if io_dtype == "float16" else TensorProto.FLOAT
    shape = ["batch", 3, "height", "width"]
    graph = helper.make_graph(
        [helper.make_node("Identity", ["input"], ["output"])],
        "identity",
        [helper.make_tensor_value_info("input", elem, shape)],
        [helper.make_tensor_value_info("output", elem, shape)],
    )
    proto = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    proto.ir_version = 8
    for key, value in (metadata or {}).items():
        proto.metadata_props.add(key=key, value=value)
    onnx.save(proto, str(path))
    return path


@pytest.fixture
def one_torch_thread():
    """One torch intra-op thread for tiny models: on the shared 2-core CI machine more threads mostly wait."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def random_weight_model(config, seed: int = 0):
    """A DeblurUNet of ``config`` whose every weight, biases included, is random (as after training), so that
    layers initialised at zero are not zero."""
    import torch

    from deblur.model.unet import DeblurUNet

    torch.manual_seed(seed)
    model = DeblurUNet(config).eval()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.normal_(0.0, 0.05)
    return model


@pytest.fixture
def trained_like():
    """``trained_like(config, seed=0) -> DeblurUNet``: every weight random, in eval mode."""
    return random_weight_model


@pytest.fixture
def make_metadata():
    """``make_metadata(width=8, io_dtype="float32", precision="fp32")``: complete deblur metadata."""
    return deblur_metadata


@pytest.fixture(scope="session")
def deblur_onnx(tmp_path_factory) -> Path:
    """A real width-8 deblur network (random weights, fixed seed) exported to ONNX."""
    import torch

    from deblur.export.onnx_export import export_onnx
    from deblur.model.unet import DeblurUNet

    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("models") / "deblur-w8.onnx"
    export_onnx(DeblurUNet(ModelConfig(variant="test", width=8)), path)
    return path


def _blurry_frames(count: int = 5, height: int = 64, width: int = 96) -> list[np.ndarray]:
    from deblur.export.sample_images import blurry_image

    return [(blurry_image(height, width, seed=i, length=3 + 2 * i) * 255).round().astype(np.uint8) for i in range(count)]


@pytest.fixture(scope="session")
def blurry_frames():
    """``blurry_frames(count=5, height=64, width=96)``: uint8 RGB frames, each blurred more (calibration data)."""
    return _blurry_frames


@pytest.fixture(scope="session")
def w8_fp32(tmp_path_factory):
    """``(proto, path)`` of the width-8 network (seed 0) exported with one torch thread to ``w8.onnx``."""
    import torch

    from deblur.export.onnx_export import export_onnx
    from deblur.model.unet import DeblurUNet

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("w8") / "w8.onnx"
    proto = export_onnx(DeblurUNet(ModelConfig(variant="test", width=8)), path)
    torch.set_num_threads(threads)
    return proto, path


@pytest.fixture(scope="session")
def identity_onnx(tmp_path_factory) -> Path:
    """A deblur-labelled ONNX whose output equals its input: checks pixel handling exactly."""
    return _identity_onnx(tmp_path_factory.mktemp("models") / "identity.onnx", "float32", deblur_metadata())


@pytest.fixture(scope="session")
def identity_fp16_onnx(tmp_path_factory) -> Path:
    """Identity with float16 input and output (``deblur.io_dtype`` float16)."""
    path = tmp_path_factory.mktemp("models") / "identity-fp16.onnx"
    return _identity_onnx(path, "float16", deblur_metadata(io_dtype="float16", precision="fp16"))


@pytest.fixture(scope="session")
def foreign_onnx(tmp_path_factory) -> Path:
    """A valid ONNX model without deblur metadata."""
    return _identity_onnx(tmp_path_factory.mktemp("models") / "foreign.onnx", "float32", None)


def _video_frame(index: int, width: int, height: int) -> np.ndarray:
    """A moving gradient with a bright square: different content on every frame."""
    y, x = np.mgrid[0:height, 0:width]
    image = np.stack([(x * 255 // max(width - 1, 1)), (y * 255 // max(height - 1, 1)), np.full_like(x, 96)], axis=-1)
    image = image.astype(np.uint8)
    top, left = (3 * index) % max(height - 8, 1), (5 * index) % max(width - 8, 1)
    image[top : top + 8, left : left + 8] = 250
    return image


def write_test_video(path: Path, frames: int = 10, size: tuple[int, int] = (64, 48), fps: int = 10,
                     audio: bool = False, sample_rate: int = 16000) -> Path:
    """An H.264 video of moving test content (plus an AAC 440 Hz tone as long as the video when ``audio``)."""
    width, height = size
    pictures = [_video_frame(index, width, height) for index in range(frames)]
    return write_h264_clip(path, pictures, fps, audio_rate=sample_rate if audio else None)


@pytest.fixture
def make_video():
    """``make_video(path, frames=10, size=(64, 48), fps=10, audio=False) -> path``."""
    return write_test_video


@pytest.fixture
def make_image():
    """``make_image(path, height, width, channels=3, dtype=np.uint8, seed=0) -> (path, array)``: smooth content + noise."""

    def make(path: Path, height: int, width: int, channels: int = 3, dtype=np.uint8, seed: int = 0):
        rng = np.random.default_rng(seed)
        peak = np.iinfo(dtype).max
        y, x = np.mgrid[0:height, 0:width] / max(height, width)
        base = np.stack([np.sin(5 * x + c) * np.cos(3 * y - c) for c in range(max(channels, 1))], axis=-1)
        image = np.clip((0.5 + 0.4 * base + 0.05 * rng.standard_normal(base.shape)) * peak, 0, peak).astype(dtype)
        image = image[..., 0] if channels == 1 else image
        assert cv2.imwrite(str(path), image)
        return path, image

    return make
