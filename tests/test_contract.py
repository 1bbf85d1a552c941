"""The export/runtime contract: ModelMetadata (deblur.contract) and the engine Sidecar (deblur.engine_sidecar),
one definition that both sides write and read, its keys spelled nowhere else."""

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from deblur.contract import (FIXED_VALUES, OPTIONAL, REQUIRED, SCALE_SPACE_SCALES, SIZE_MULTIPLE, MetadataError,
                             ModelMetadata, Precision, key_of)
from deblur.engine_sidecar import REQUIRED_KEYS, ShapeProfile, Sidecar, SidecarError, gpu_name
from deblur.export.tensorrt_build import EngineOptions, engine_sidecar
from deblur.model.config import build_config
from deblur.runtime.errors import ModelFileError
from deblur.runtime.model_file import validate_metadata

ROOT = Path(__file__).resolve().parent.parent
CONTRACT_FILES = {ROOT / "deblur" / "contract.py", ROOT / "deblur" / "engine_sidecar.py", Path(__file__).resolve()}
PROFILE = ShapeProfile.parse("1x3x256x256", "1x3x720x1280", "1x3x1080x1920")

# The on-disk spelling: files written by earlier exports must stay readable, so the keys never change silently.
ON_DISK_KEYS = {
    "deblur.format", "deblur.version", "deblur.config", "deblur.variant", "deblur.width", "deblur.ablation",
    "deblur.size_multiple", "deblur.value_range", "deblur.color_order", "deblur.layout", "deblur.precision",
    "deblur.io_dtype", "deblur.training_data", "deblur.high_precision_nodes", "deblur.float_modules",
    "deblur.calibration_set", "deblur.quality", "deblur.scales",
}


def all_keys() -> set[str]:
    return {key for key, _ in (*REQUIRED.values(), *OPTIONAL.values())}


def test_the_keys_are_the_ones_on_disk():
    assert all_keys() == ON_DISK_KEYS


def test_no_metadata_or_sidecar_key_is_spelled_outside_the_contract():
    """No string constant in the project's Python files (package, benchmarks, research, tests) is a metadata key.
    (The sidecar's own keys are plain words such as "profile"; they are spelled in ``Sidecar``'s two methods.)"""
    keys = all_keys()
    spelled = {
        f"{path.relative_to(ROOT)}:{node.lineno} {node.value!r}"
        for path in ROOT.rglob("*.py")
        if not {".venv", "build", ".git"} & set(path.relative_to(ROOT).parts) and path.resolve() not in CONTRACT_FILES
        for node in ast.walk(ast.parse(path.read_text()))
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in keys
    }
    assert spelled == set()


def test_metadata_round_trips_through_props():
    config = build_config("lite", "no-mlff")
    metadata = ModelMetadata.for_config(config, "photos", quality="real +0.1 dB").replace(
        precision=Precision.INT8_QDQ, float_nodes=("b", "a"), float_modules=("/enc1",), calibration="4 frames")
    props = metadata.to_props()
    assert set(props) == ON_DISK_KEYS - {key_of("scales")}  # a single-scale model
    assert {key_of(field): value for field, value in FIXED_VALUES.items()}.items() <= props.items()
    assert json.loads(props[key_of("float_nodes")]) == ["a", "b"]  # sorted
    assert ModelMetadata.from_props(props) == metadata.replace(float_nodes=("a", "b"))
    assert metadata.config_fields["mlff"] is False and metadata.ablation == "no-mlff"


def test_optional_keys_are_written_for_the_precisions_that_have_them():
    fp32 = ModelMetadata.for_config(build_config("lite"), "photos")
    assert set(fp32.to_props()) == {key for key, _ in REQUIRED.values()}
    fp16 = fp32.replace(precision=Precision.FP16).to_props()
    assert fp16[key_of("float_nodes")] == "[]" and key_of("float_modules") not in fp16
    assert ModelMetadata.from_props(fp32.replace(precision=Precision.INT8_CPU).to_props()).float_modules == ()


def test_scale_space_models_record_their_scales():
    config = dataclasses.replace(build_config("lite"), scale_space=True)
    metadata = ModelMetadata.for_config(config, "photos")
    assert metadata.scales == SCALE_SPACE_SCALES and metadata.scale_space and metadata.size_multiple == 32
    assert ModelMetadata.from_props(metadata.to_props()).scales == (1, 2, 4)
    assert ModelMetadata.for_config(build_config("lite"), "photos").size_multiple == SIZE_MULTIPLE


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("format", "other", "not a deblur model"),
        ("io_dtype", "int8", "unsupported deblur.io_dtype"),
        ("precision", "int4", "unknown deblur.precision"),
        ("size_multiple", "eight", "malformed deblur metadata"),
        ("width", "0", "must be positive"),
        ("color_order", "BGR", "the runtime supports 'RGB'"),
        ("float_nodes", '{"a": 1}', "expected a JSON list of names"),
        ("scales", "1,x", "malformed deblur metadata"),
    ],
)
def test_bad_metadata_is_refused_naming_the_key(field, value, message):
    props = ModelMetadata.for_config(build_config("lite"), "photos").to_props() | {key_of(field): value}
    with pytest.raises(MetadataError, match=message):
        ModelMetadata.from_props(props)
    with pytest.raises(ModelFileError, match=f"m.onnx: .*{message}"):  # the runtime names the file
        validate_metadata(Path("m.onnx"), props)


def test_missing_keys_are_listed():
    props = ModelMetadata.for_config(build_config("lite"), "photos").to_props()
    del props[key_of("width")], props[key_of("variant")]
    with pytest.raises(MetadataError, match="lacks deblur.variant, deblur.width"):
        ModelMetadata.from_props(props)


def test_precision_compares_and_hashes_as_its_value():
    assert Precision("fp16") is Precision.FP16 and f"{Precision.INT8_CPU}" == str(Precision.INT8_CPU) == "int8-cpu"
    assert {Precision.FP16: 1}.get("fp16") == 1 and "int8-qdq" in {Precision.INT8_QDQ}


def test_gpu_names_are_spelled_one_way():
    assert gpu_name(b"Orin\x00\x00\x00") == gpu_name("Orin") == gpu_name(" Orin\x00 ") == "Orin"
    assert Sidecar.path_for(Path("d/m.fp16.engine")) == Path("d/m.fp16.engine.json")


def _sidecar(metadata: ModelMetadata | None = None) -> Sidecar:
    metadata = metadata or ModelMetadata.for_config(build_config("lite"), "photos").replace(precision=Precision.FP16)
    options = EngineOptions(profile=PROFILE, fp16=True)
    # cudaDeviceProp.name is a fixed-size field: the writer and the reader may see trailing NULs.
    return engine_sidecar(Path("/x/m.onnx"), "ab" * 32, metadata, options, "10.3.0", b"Orin\x00\x00", "8.7")


def test_a_sidecar_round_trips_from_the_export_writer_to_the_runtime_reader(tmp_path):
    engine = tmp_path / "m.engine"
    written = _sidecar()
    assert written.write(engine) == tmp_path / "m.engine.json"
    record = json.loads((tmp_path / "m.engine.json").read_text())
    assert set(REQUIRED_KEYS) <= set(record) and record["gpu_name"] == "Orin" and record["precision"] == "fp16"
    assert record["profile"] == {"input": {"min": "1x3x256x256", "opt": "1x3x720x1280", "max": "1x3x1080x1920"}}
    read = Sidecar.read(engine)
    assert read == written and read.max_hw == (1080, 1920) and read.onnx_file == "m.onnx"
    read.check_compatible(engine, "10.3.0", b"Orin\x00", "8.7")


def test_a_sidecar_refuses_another_tensorrt_or_gpu(tmp_path):
    sidecar = _sidecar()
    with pytest.raises(SidecarError, match="built with TensorRT 10.3.0, this machine has 10.7.0"):
        sidecar.check_compatible(tmp_path / "m.engine", "10.7.0", "Orin", "8.7")
    with pytest.raises(SidecarError, match="built for Orin .compute 8.7., this GPU is NVIDIA H100"):
        sidecar.check_compatible(tmp_path / "m.engine", "10.3.0", "NVIDIA H100 80GB HBM3", "9.0")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (None, "missing sidecar m.engine.json"),
        ("not json", "unreadable engine sidecar"),
        ({"gpu_name": None}, "lacks gpu_name"),
        ({"profile": {"input": {"min": "1x3"}}}, "no readable input min/opt/max shapes"),
        ({"metadata": {"deblur.format": "other"}}, "sidecar metadata: not a deblur model"),
    ],
)
def test_a_broken_sidecar_is_refused_naming_the_file(tmp_path, change, message):
    engine = tmp_path / "m.engine"
    if change == "not json":
        Sidecar.path_for(engine).write_text("{")
    elif change is not None:
        record = {key: value for key, value in (_sidecar().to_json() | change).items() if value is not None}
        Sidecar.path_for(engine).write_text(json.dumps(record))
    with pytest.raises(SidecarError, match=message):
        Sidecar.read(engine)
