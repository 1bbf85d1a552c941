"""The ``deblur-export`` pipeline: checkpoint (or exported ONNX) -> fp32 / fp16 / int8 / int8-cpu ONNX -> TensorRT engine.

Every stage is checked before its file is written, and every file is written atomically, so a
failing check leaves nothing under the final name. Torch is imported only when the source is a
checkpoint: from an exported ``.onnx`` the pipeline runs on a Jetson with no torch installed.
"""

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import onnx
from google.protobuf.message import DecodeError

from deblur.calibration.collect import DEFAULT_FRAMES, load_calibration
from deblur.contract import MetadataError, ModelMetadata, Precision
from deblur.cpu_features import int8_speed_note
from deblur.engine_sidecar import ShapeProfile, Sidecar
from deblur.output_guard import OutputRefusedError, check_outputs, is_same_file
from deblur.runtime.errors import BackendError, ModelFileError

from .engine_check import compare_engine, engine_check_batches, require_engine_psnr
from .fp16 import make_fp16
from .int8 import DEFAULT_CALIBRATION, ORT_CPU, TENSORRT, Int8Target, make_int8
from .onnx_graph import read_metadata, save_model
from .tensorrt_build import build_engine, engine_options_for, make_profile
from .verify import FP32_TOLERANCE, ExportCheckError, check_batches, require_within, worst


class ExportInputError(ValueError):
    """A source file or option the pipeline cannot use (reported as a one-line error)."""


@dataclass(frozen=True)
class Artifact:
    """One file the pipeline wrote and how it compares with its reference."""

    path: Path
    precision: str
    reference: str = ""
    max_abs_error: float | None = None
    psnr: float | None = None
    notes: str = ""

    @property
    def size_mb(self) -> float:
        return self.path.stat().st_size / 1e6


@dataclass(frozen=True)
class ExportRequest:
    """What to export and how (the CLI's options)."""

    source: Path
    output: Path | None = None
    opset: int = 17
    fp16: bool = False
    fp16_io: bool = False
    int8: bool = False
    int8_cpu: bool = False
    calib: tuple[str, ...] = ()
    calib_frames: int = DEFAULT_FRAMES
    blur_aware: bool = False
    keep_ends: str = "auto"
    calibration: str = DEFAULT_CALIBRATION
    engine: bool = False
    profile: ShapeProfile = field(default_factory=make_profile)
    engine_overrides: dict = field(default_factory=dict)  # EngineOptions fields: workspace_mb, timing_cache, strongly_typed
    check: bool = True
    training_data: str | None = None
    overwrite: bool = False


def output_base(source: Path, output: Path | None) -> Path:
    """Path of the fp32 ONNX; the others derive from it (``x.onnx`` -> ``x.fp16.onnx``, ``x.int8.onnx``, ``x.int8cpu.onnx``)."""
    if output is None:
        return source.with_suffix(".onnx")
    if output.suffix.lower() == ".onnx":
        return output
    return output / f"{source.stem}.onnx"


def sibling(base: Path, tag: str) -> Path:
    """``x.onnx`` -> ``x.<tag>.onnx``."""
    return base.with_name(f"{base.stem}.{tag}.onnx")


def engine_source(base: Path, request: ExportRequest) -> Path:
    """The ONNX the engine is built from: the lowest precision written."""
    if request.int8:
        return sibling(base, "int8")
    return sibling(base, "fp16") if request.fp16 else base


def planned_outputs(request: ExportRequest) -> list[Path]:
    """Every file ``run_export`` would write for ``request`` (the timing cache, reused on purpose, aside)."""
    base = output_base(request.source, request.output)
    from_onnx = request.source.suffix.lower() == ".onnx"
    copies_source = from_onnx and (request.output is None or is_same_file(base, request.source))
    paths = [] if copies_source else [base]
    wanted_tags = (("fp16", request.fp16), ("int8", request.int8), ("int8cpu", request.int8_cpu))
    paths += [sibling(base, tag) for tag, wanted in wanted_tags if wanted]
    if request.engine:
        engine_path = engine_source(base, request).with_suffix(".engine")
        paths += [engine_path, Sidecar.path_for(engine_path)]
    return paths


def check_request_outputs(request: ExportRequest) -> None:
    """ExportInputError for a request that writes nothing, would replace an input, or an existing file without overwrite."""
    outputs = planned_outputs(request)
    if not outputs:
        raise ExportInputError(f"{request.output or request.source}: is the source itself and no --fp16, --int8, --int8-cpu or --engine was asked; nothing to do")
    inputs = [request.source, *(Path(spec) for spec in request.calib if Path(spec).is_file())]
    try:
        check_outputs(outputs, inputs, request.overwrite)
    except OutputRefusedError as exc:
        raise ExportInputError(str(exc)) from exc


def run_export(request: ExportRequest, on_artifact=lambda artifact: None, on_stage=lambda text: None) -> list[Artifact]:
    """Run the requested stages and return what was written (``on_artifact`` sees each file as it lands,
    ``on_stage`` a line as each stage starts)."""
    base = output_base(request.source, request.output)
    from_onnx = request.source.suffix.lower() == ".onnx"
    source, metadata = load_deblur_onnx(request.source) if from_onnx else (None, None)
    check_request_outputs(request)
    precision = metadata.precision if from_onnx else Precision.FP32
    if precision != Precision.FP32 and (request.fp16 or request.int8 or request.int8_cpu):
        raise ExportInputError(f"{request.source}: is {precision}; --fp16/--int8 convert from the fp32 ONNX, as does --int8-cpu")
    if precision == Precision.INT8_CPU and request.engine:
        raise ExportInputError(f"{request.source}: is {precision}, for ONNX Runtime's CPU provider; build engines from the fp32, fp16 or int8 ONNX")
    frames = []
    if request.int8 or request.int8_cpu:
        on_stage(f"reading {request.calib_frames} calibration frames from {', '.join(request.calib)}")
        frames = _calibration_frames(request)
    artifacts: list[Artifact] = []

    def add(artifact: Artifact) -> None:
        artifacts.append(artifact)
        on_artifact(artifact)

    if from_onnx:
        fp32 = source
        base = request.source if request.output is None or is_same_file(base, request.source) else base
        if base != request.source:
            save_model(fp32, base)
            add(Artifact(base, precision, notes=f"copied from {request.source.name}"))
    else:
        on_stage(f"tracing {request.source.name} to ONNX" + (" and checking it against torch" if request.check else ""))
        fp32 = _export_checkpoint(request, base, add)

    batches = check_batches(multiple=read_metadata(fp32).size_multiple)
    if request.fp16:
        on_stage("fp16: overflow search over every activation" + (", then the check against fp32" if request.check else ""))
        add(_export_fp16(fp32, sibling(base, "fp16"), batches, request))
    if request.int8:
        search = ", keep-float search" if request.keep_ends == "auto" else ""
        on_stage(f"int8 (TensorRT QDQ): {request.calibration} calibration{search}, held-out score (the longest stage)")
        add(_export_int8(fp32, sibling(base, "int8"), frames, request, TENSORRT))
    if request.int8_cpu:
        on_stage(f"int8-cpu: {request.calibration} calibration, keep-float search, held-out score and CPU timing "
                 "(the longest stage)")
        add(_export_int8(fp32, sibling(base, "int8cpu"), frames, request, ORT_CPU))
    if request.engine:
        onnx_path = engine_source(base, request)
        engine_path = onnx_path.with_suffix(".engine")
        overrides = {"timing_cache": base.parent / "tensorrt.timing.cache", **request.engine_overrides}
        options = engine_options_for(onnx_path, request.profile, **overrides)
        on_stage(f"TensorRT engine from {onnx_path.name}")
        sidecar = build_engine(onnx_path, engine_path, options)
        add(_checked_engine(onnx_path, engine_path, sidecar, options.profile, request.check))
        add(Artifact(Sidecar.path_for(engine_path), "json", notes="engine sidecar"))
    return artifacts


def _checked_engine(onnx_path: Path, engine_path: Path, sidecar: Sidecar, profile: ShapeProfile, check: bool) -> Artifact:
    """The engine compared with its ONNX through the runtime's backend; a failing engine and sidecar are removed.

    Where the runtime cannot load the engine here (no cuda-python, no GPU), the artifact says it was not checked.
    """
    notes, precision = f"TensorRT {sidecar.tensorrt_version} on {sidecar.gpu_name}", sidecar.precision
    if not check:
        return Artifact(engine_path, precision, notes=notes + ", unchecked")
    try:
        comparisons = compare_engine(onnx_path, engine_path, engine_check_batches(profile))
    except (BackendError, ModelFileError) as exc:
        return Artifact(engine_path, precision, notes=f"{notes}, not checked: {exc}")
    try:
        require_engine_psnr(comparisons, sidecar.precision, engine_path.name)
    except ExportCheckError:
        engine_path.unlink(missing_ok=True)
        Sidecar.path_for(engine_path).unlink(missing_ok=True)
        raise
    worst_case = worst(comparisons)
    return Artifact(engine_path, precision, f"{onnx_path.name} (runtime backend)", worst_case.max_abs_error,
                    worst_case.psnr, notes)


def load_deblur_onnx(path: Path) -> tuple[onnx.ModelProto, ModelMetadata]:
    """A deblur ONNX file (any precision) and its metadata, or ExportInputError naming the problem."""
    try:
        proto = onnx.load(str(path))
    except FileNotFoundError as exc:
        raise ExportInputError(f"{path}: no such file") from exc
    except (DecodeError, OSError, ValueError) as exc:
        raise ExportInputError(f"{path}: not a readable ONNX file ({exc})") from exc
    except onnx.checker.ValidationError as exc:  # e.g. external data that points outside the model's folder
        raise ExportInputError(f"{path}: unsafe or broken ONNX file ({exc})") from exc
    try:
        return proto, read_metadata(proto)
    except MetadataError as exc:
        raise ExportInputError(f"{path}: {exc}") from exc


def _calibration_frames(request: ExportRequest) -> list[np.ndarray]:
    if not request.calib:
        flag = "--int8" if request.int8 else "--int8-cpu"
        raise ExportInputError(f"{flag} needs --calib SRC (videos, images, folders, globs or a deblur-calibrate .npz)")
    frames, _ = load_calibration(list(request.calib), request.calib_frames, request.blur_aware)
    return frames


def _export_checkpoint(request: ExportRequest, path: Path, add) -> onnx.ModelProto:
    # torch (via deblur.model) is needed only here: ONNX sources skip this stage
    from deblur.model.checkpoint import CheckpointError, load_checkpoint, read_checkpoint_metadata  # noqa: PLC0415

    from .onnx_export import OpsetError, check_opset, compare_with_torch, finish_onnx, trace_to_onnx  # noqa: PLC0415

    try:
        check_opset(request.opset)
        model = load_checkpoint(request.source)
        recorded = read_checkpoint_metadata(request.source)
        training_data = request.training_data or recorded.get("training_data", "unspecified")
    except (CheckpointError, OpsetError) as exc:
        raise ExportInputError(str(exc)) from exc
    proto, simplified = finish_onnx(model, trace_to_onnx(model, request.opset), training_data,
                                    quality=recorded.get("quality"))
    notes = f"opset {request.opset}, {'simplified' if simplified else 'not simplified'}"
    if not request.check:
        save_model(proto, path)
        add(Artifact(path, Precision.FP32, notes=notes + ", unchecked"))
        return proto
    comparisons = compare_with_torch(model, proto, check_batches(multiple=model.config.size_multiple))
    require_within(comparisons, FP32_TOLERANCE, f"{path.name} vs torch")
    save_model(proto, path)
    worst_case = worst(comparisons)
    add(Artifact(path, Precision.FP32, "torch", worst_case.max_abs_error, worst_case.psnr, notes))
    return proto


def _export_fp16(fp32: onnx.ModelProto, path: Path, batches, request: ExportRequest) -> Artifact:
    io = "fp16 I/O" if request.fp16_io else "fp32 I/O"
    half, report = make_fp16(fp32, batches, keep_io_types=not request.fp16_io, check=request.check)
    save_model(half, path)
    name, peak = report.peak_activations[0]
    notes = f"{io}, {len(report.kept_fp32)} nodes kept fp32, peak activation {peak:.3g} (limit {report.limit:.0f})"
    if not request.check:
        return Artifact(path, Precision.FP16, notes=notes + ", unchecked")
    worst_case = worst(report.comparisons)
    return Artifact(path, Precision.FP16, "fp32 ONNX", worst_case.max_abs_error, worst_case.psnr, notes)


def _export_int8(
    fp32: onnx.ModelProto, path: Path, frames: list[np.ndarray], request: ExportRequest, target: Int8Target
) -> Artifact:
    # The held-out scores are part of the build (``--keep-ends auto`` picks the layers by them) and the latency
    # takes seconds next to the calibration: --no-check keeps them, so that it never changes which model is written.
    model, report = make_int8(fp32, frames, target, request.keep_ends, request.calibration)
    save_model(model, path)
    score = report.score
    kept = f"{len(report.kept_float)} nodes float" if report.kept_float else "all nodes int8"
    if report.float_modules:
        kept += f"; keep-float search: the {target.search_toggles} of {', '.join(report.float_modules)}"
    others = "; ".join(f"{name}: {s.psnr:.1f} dB" for name, s in report.alternatives.items())
    notes = (
        f"{request.calibration} calibration; held-out {report.held_out_frames} frames: SSIM {score.ssim:.4f}, {kept} ({others}); "
        f"CPU {'x'.join(map(str, report.latency_shape[2:]))}: fp32 {report.fp32_ms:.0f} ms, {target.precision} {report.int8_ms:.0f} ms"
    )
    speed_note = int8_speed_note() if target is ORT_CPU else None
    if speed_note:
        notes += f"; note: {speed_note}"
    return Artifact(path, target.precision, "fp32 ONNX (held-out frames)", None, score.psnr, notes)
