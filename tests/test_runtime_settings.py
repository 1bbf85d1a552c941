"""Run settings (runtime/settings.py): one checked object for deblur-run and the Deblurrer, the model resolved once."""

import dataclasses
import inspect
import re

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from deblur import Deblurrer
from deblur.runtime import model_file, settings
from deblur.runtime.cli import app
from deblur.runtime.errors import DeblurRunError
from deblur.runtime.settings import OutputSettings, RunSettings, SettingsError, option

API_NAMES = {"batch": "batch_size"}  # RunSettings field -> Deblurrer keyword, where they differ
CLI_ONLY = {"sources", "list_models", "quiet"}  # deblur-run's arguments that are neither run nor output settings


def _init_fields(cls) -> dict[str, dataclasses.Field]:
    return {field.name: field for field in dataclasses.fields(cls) if field.init}


def test_every_deblur_run_processing_option_is_a_setting_and_a_deblurrer_keyword():
    cli = {param.name: param.default for param in typer.main.get_command(app).params}
    run_fields = _init_fields(RunSettings)
    assert set(cli) - CLI_ONLY - set(_init_fields(OutputSettings)) == set(run_fields)
    keywords = inspect.signature(Deblurrer).parameters
    for name, field in run_fields.items():
        assert API_NAMES.get(name, name) in keywords, name
        assert cli[name] == field.default, name  # the CLI's defaults are the settings' defaults
    with pytest.raises(TypeError):
        RunSettings("lite")  # keyword-only


@pytest.mark.parametrize(("values", "fragment"), [
    ({"tile": 4}, "must be an integer at least 8 (0: automatic), got 4"),
    ({"tile": 16}, "16 must be larger than tile_overlap (--tile-overlap) 32"),
    ({"tile_overlap": -1}, "must be an integer at least 0, got -1"),
    ({"max_memory_mb": 0}, "must be above 0, got 0"),
    ({"batch": 0}, "must be an integer at least 1, got 0"),
    ({"self_ensemble": 3}, "must be one of 1, 2, 4, got 3"),
    ({"coarse_pass": 9}, "must be between 1 (off) and 8, got 9"),
    ({"coarse_pass": 0.5}, "must be between 1 (off) and 8, got 0.5"),
    ({"parallel_frames": 17}, "must be an integer from 0 to 16 (0: automatic), got 17"),
    ({"parallel_frames": 2, "batch": 2}, "2: choose one way to run frames together"),
    ({"threads": 0}, "must be an integer at least 1, got 0"),
    ({"backend": "tflite"}, "must be one of auto, onnxruntime, tensorrt, got 'tflite'"),
    ({"device": "npu"}, "must be one of auto, cpu, cuda, tensorrt, got 'npu'"),
])
def test_each_bad_value_is_refused_by_the_one_check_naming_the_option(values, fragment):
    message = re.escape(f"{option(next(iter(values)))} ") + ".*" + re.escape(fragment)
    with pytest.raises(SettingsError, match=message) as refused:
        RunSettings(**values)
    assert isinstance(refused.value, DeblurRunError) and isinstance(refused.value, ValueError)
    with pytest.raises(ValueError, match=message):  # before any model is opened
        Deblurrer(**{API_NAMES.get(name, name): value for name, value in values.items()})
    flags = [text for name, value in values.items() for text in (f"--{name.replace('_', '-')}", str(value))]
    result = CliRunner().invoke(app, ["missing.mp4", *flags])
    assert result.exit_code == 2 and result.output.strip() == f"error: {refused.value}", result.output


def test_bad_output_settings_are_refused_by_the_same_module():
    for values, fragment in [({"max_frames": 0}, "--max-frames must be at least 1"),
                             ({"crf": 52}, "--crf must be 0..51"), ({"suffix": "a/b"}, "cannot hold a folder separator"),
                             ({"fps": 0.0}, "--fps must be above 0"), ({"jpeg_quality": 101}, "--jpeg-quality must be 1..100")]:
        with pytest.raises(SettingsError, match=re.escape(fragment)):
            OutputSettings(**values)


@pytest.fixture
def count_resolutions(monkeypatch):
    """Counts of model resolutions: by name (``resolve_model``) and of a file path (``resolve_model_path``)."""
    counts = {"resolve_model": 0, "resolve_model_path": 0}

    def counted(module, name):
        real = getattr(module, name)

        def wrapper(*args, **kwargs):
            counts[name] += 1
            return real(*args, **kwargs)

        monkeypatch.setattr(module, name, wrapper)

    counted(settings, "resolve_model")
    counted(model_file, "resolve_model_path")
    return counts


def test_the_model_is_resolved_once_by_deblur_run(tmp_path, make_image, identity_onnx, count_resolutions):
    image, _ = make_image(tmp_path / "a.png", 24, 32)
    result = CliRunner().invoke(app, [str(image), "--model", str(identity_onnx), "--threads", "1", "-q"])
    assert result.exit_code == 0, result.output
    assert count_resolutions == {"resolve_model": 1, "resolve_model_path": 1}


def test_the_model_is_resolved_once_by_a_deblurrer(identity_onnx, count_resolutions):
    with Deblurrer(identity_onnx, threads=1) as deblur:
        deblur(np.zeros((8, 8, 3), np.uint8))
    assert count_resolutions == {"resolve_model": 1, "resolve_model_path": 1}
    assert deblur.settings.model == identity_onnx and deblur.settings.model_path == identity_onnx


def test_the_deblurrer_honours_the_memory_budget_and_the_tile_overlap(deblur_onnx):
    frame = np.random.default_rng(0).random((160, 200, 3)).astype(np.float32)
    with Deblurrer(deblur_onnx, threads=1) as deblur:
        whole = deblur(frame)
    with Deblurrer(deblur_onnx, threads=1, max_memory_mb=0.5) as deblur:  # too little for the whole frame
        tiled = deblur(frame)
        assert deblur._frames.last_tile == 128  # the smallest automatic tile
    assert not np.array_equal(tiled, whole) and np.abs(tiled - whole).max() < 1e-3  # seamless tiles
    errors = {}
    for overlap in (16, 40):
        with Deblurrer(deblur_onnx, threads=1, tile=96, tile_overlap=overlap) as deblur:
            errors[overlap] = np.abs(deblur(frame) - whole).max()
    assert errors[40] < errors[16]  # more overlap, more context at the tiles' edges


def test_ready_settings_give_the_same_deblurrer(deblur_onnx):
    frame = np.random.default_rng(1).random((40, 48, 3)).astype(np.float32)
    ready = RunSettings(model=deblur_onnx, threads=1, tile=32, tile_overlap=8, parallel_frames=1)
    with Deblurrer.from_settings(ready, color="bgr") as deblur, \
            Deblurrer(deblur_onnx, color="bgr", threads=1, tile=32, tile_overlap=8) as same:
        assert deblur.settings is ready and same.settings == ready
        np.testing.assert_array_equal(deblur(frame), same(frame))
