"""The export/runtime contract (deblur.contract): one definition that both sides write and read."""

import json
from pathlib import Path

from deblur.contract import FIXED_VALUES, KEYS, SIDECAR_KEYS, SIZE_MULTIPLE, gpu_name, model_metadata, sidecar_path
from deblur.export.tensorrt_build import EngineOptions, make_profile, sidecar_record, write_sidecar
from deblur.model.config import build_config
from deblur.runtime.backends.tensorrt import check_engine_compatible, read_sidecar
from deblur.runtime.model_file import validate_metadata


def test_metadata_built_from_a_config_is_what_the_runtime_accepts():
    config = build_config("lite", "no-mlff")
    metadata = model_metadata(config, "photos", precision="fp16", io_dtype="float16", quality="real +0.1 dB")
    assert set(KEYS) <= set(metadata) and metadata["deblur.quality"] == "real +0.1 dB"
    assert FIXED_VALUES.items() <= metadata.items()
    info = validate_metadata(Path("m.onnx"), metadata)
    assert (info.width, info.variant, info.size_multiple, info.io_dtype) == (16, "lite", SIZE_MULTIPLE, "float16")
    assert metadata["deblur.ablation"] == "no-mlff" and json.loads(metadata["deblur.config"])["mlff"] is False


def test_gpu_names_are_spelled_one_way():
    assert gpu_name(b"Orin\x00\x00\x00") == gpu_name("Orin") == gpu_name(" Orin\x00 ") == "Orin"
    assert sidecar_path(Path("d/m.fp16.engine")) == Path("d/m.fp16.engine.json")


def test_a_fake_sidecar_round_trips_from_the_export_writer_to_the_runtime_reader(tmp_path):
    engine = tmp_path / "m.engine"
    engine.write_bytes(b"not a real engine")
    options = EngineOptions(profile=make_profile("1x3x256x256", "1x3x720x1280", "1x3x1080x1920"), fp16=True)
    metadata = model_metadata(build_config("lite"), "photos", precision="fp16")
    # cudaDeviceProp.name is a fixed-size field: the writer and the reader may see trailing NULs.
    record = sidecar_record(tmp_path / "m.onnx", "ab" * 32, metadata, options, "10.3.0", b"Orin\x00\x00", "8.7")
    write_sidecar(sidecar_path(engine), record)
    sidecar = read_sidecar(engine)
    assert set(SIDECAR_KEYS) <= set(sidecar) and sidecar["gpu_name"] == "Orin"
    check_engine_compatible(engine, sidecar, "10.3.0", gpu_name(b"Orin\x00"), "8.7")
    assert validate_metadata(engine, sidecar["metadata"]).precision == "fp16"
