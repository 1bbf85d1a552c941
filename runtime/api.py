"""``Deblurrer``: the Python API for embedding the runtime in a camera pipeline (no torch).

    from deblur import Deblurrer

    with Deblurrer(color="bgr") as deblur:      # frames from OpenCV are BGR
        sharp = deblur(frame)                   # one HxWx3 uint8, uint16 or float [0, 1] array

The result has the frame's shape and dtype. Sizes need not be multiples of 8 (frames are reflect-padded
and cropped back), and large frames are tiled to fit the memory budget.
"""

import logging
import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from types import TracebackType

import numpy as np

from .backends.base import Backend, mean_blur_length
from .backends.registry import load_backend
from .deblurrer import FrameDeblurrer
from .frame_parallel import FramePool, frames_in_parallel
from .model_file import ModelInfo
from .settings import DEFAULT_MAX_MEMORY_MB, DEFAULT_OVERLAP, RunSettings

COLOR_ORDERS = ("rgb", "bgr")
INTEGER_DTYPES = (np.dtype(np.uint8), np.dtype(np.uint16))
FLOAT_DTYPES = (np.dtype(np.float16), np.dtype(np.float32), np.dtype(np.float64))


@contextmanager
def _logged_warnings() -> Iterator[list[str]]:
    """The warnings the runtime logs inside the block, as a list of messages (and not printed)."""
    logger, notes = logging.getLogger("deblur.runtime"), []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            notes.append(record.getMessage())

    handler, propagate = Collect(logging.WARNING), logger.propagate
    logger.addHandler(handler)
    logger.propagate = False
    try:
        yield notes
    finally:
        logger.removeHandler(handler)
        logger.propagate = propagate


class Deblurrer:
    """Deblurs HxWx3 frames with a bundled model or a model file.

    Its keywords are ``deblur-run``'s processing options (``RunSettings``, checked there: a bad value raises
    ``deblur.runtime.settings.SettingsError``, a ValueError naming the option), plus ``color``, and ``batch_size``
    for ``--batch``. ``Deblurrer.from_settings(RunSettings(...))`` takes ready settings instead; ``.settings``
    holds them either way.

    ``model``: ``None`` or ``"lite"`` (the bundled default), another bundled name, or the path of an ONNX
    model (deblur-export) or TensorRT engine. ``device``: ``auto`` (CUDA when ONNX Runtime has it),
    ``cpu``, ``cuda`` or ``tensorrt``. ``backend``: ``auto`` (from the model file), ``onnxruntime`` or ``tensorrt``.
    ``color``: the channel order of the frames passed in and returned (``rgb`` or ``bgr``).
    ``tile``: largest tile side in pixels (None or 0: whole frames, tiled only when they exceed ``max_memory_mb``,
    the activation memory budget); ``tile_overlap``: overlap between tiles, blended smoothly.
    ``self_ensemble``: average over 1, 2 or 4 flips (that many times slower, slightly sharper).
    ``coarse_pass``: run the model on frames shrunk by this factor (1 to 8; 1: off) and add its upsampled
    correction: for blur longer than the model's 4-16 px, as in HD footage (MODEL.md, "Coarse pass").
    ``batch_size``: frames per inference call in :meth:`batch`. ``threads``: CPU threads (None: one per core).
    ``parallel_frames``: on the CPU, :meth:`batch` deblurs this many frames at the same time, each on its own
    session with its share of the threads (the same output; 1.1-1.25x the frames per second on 2 cores, that
    many frames' memory; frames too large for their share of the memory budget run one at a time); 0: as
    ``deblur-run`` does for a video (2 with ``batch_size`` 1).
    Model problems raise ``deblur.runtime.errors.DeblurRunError`` subclasses naming the file and the cause.
    """

    def __init__(self, model: str | Path | None = None, device: str = "auto", color: str = "rgb",
                 tile: int | None = None, self_ensemble: int = 1, batch_size: int = 1,
                 threads: int | None = None, coarse_pass: float = 1.0, parallel_frames: int = 1, *,
                 tile_overlap: int = DEFAULT_OVERLAP, max_memory_mb: float = DEFAULT_MAX_MEMORY_MB,
                 backend: str = "auto") -> None:
        self._start(RunSettings(model=model, backend=backend, device=device, threads=threads,
                                tile=0 if tile is None else tile, tile_overlap=tile_overlap,
                                max_memory_mb=max_memory_mb, batch=batch_size, self_ensemble=self_ensemble,
                                coarse_pass=coarse_pass, parallel_frames=parallel_frames), color)

    @classmethod
    def from_settings(cls, settings: RunSettings, color: str = "rgb") -> "Deblurrer":
        """A Deblurrer running ``settings`` (``parallel_frames`` 0, their default, as ``deblur-run`` for a video)."""
        deblurrer = cls.__new__(cls)
        deblurrer._start(settings, color)
        return deblurrer

    def _start(self, settings: RunSettings, color: str) -> None:
        """Open the backend ``settings`` name and the deblurrers that run it."""
        if color not in COLOR_ORDERS:
            raise ValueError(f"color must be one of {', '.join(COLOR_ORDERS)}, got {color!r}")
        self.settings = settings
        self.color = color
        # frames handed in one after another, as a video's: 0 (auto) runs 2 at a time where batch is 1
        parallel_frames = frames_in_parallel(settings.parallel_frames, "video", None, settings.batch, False)
        with _logged_warnings() as notes:  # the runtime logs them (deblur-run prints them); here: warnings
            self._backend: Backend | None = load_backend(settings)
            self._siblings = self._backend.for_parallel_frames(parallel_frames)
        if settings.parallel_frames > 1 and not self._siblings:
            notes.append(f"parallel_frames={settings.parallel_frames}: {self._backend.provider} runs one frame at a time")
        for note in notes:
            warnings.warn(note, RuntimeWarning, stacklevel=3)
        self._frames, *parallel = [FrameDeblurrer(backend, settings) for backend in [self._backend, *self._siblings]]
        self._pool = FramePool(partial(self._run_group, self._frames),
                               [partial(self._run_group, frames) for frames in parallel], self._frames.frames_at_once)

    @property
    def model(self) -> ModelInfo:
        """The loaded model's file and metadata."""
        return self._open_backend().model

    @property
    def estimated_blur_length(self) -> float | None:
        """Scale-space models: the mean blur length (px at full size) the model estimated over the frames so far;
        None before the first frame and for models that estimate none."""
        return mean_blur_length([self._open_backend(), *self._siblings])

    @property
    def provider(self) -> str:
        """What really runs the model, e.g. ``CPUExecutionProvider``."""
        return self._open_backend().provider

    def __call__(self, frame: np.ndarray) -> np.ndarray:
        """One HxWx3 frame -> the deblurred frame, same shape and dtype."""
        if not isinstance(frame, np.ndarray):
            raise TypeError(f"expected one frame as a numpy array (HxWx3), got {type(frame).__name__}; "
                            "use .batch(frames) for several")
        (result,) = self.batch([frame])
        return result

    def batch(self, frames: Sequence[np.ndarray] | np.ndarray) -> list[np.ndarray]:
        """Several frames (a sequence of HxWx3 arrays, or one NxHxWx3 array) -> their deblurred frames."""
        if isinstance(frames, np.ndarray) and frames.ndim != 4:
            raise TypeError(f"batch() takes a sequence of HxWx3 frames or an NxHxWx3 array, got shape {frames.shape}; "
                            "call the Deblurrer itself on one frame")
        frames = list(frames)
        for index, frame in enumerate(frames):
            check_frame(frame, f"frame {index}")
        self._open_backend()
        size = self.settings.batch
        groups = [frames[first : first + size] for first in range(0, len(frames), size)]
        return [frame for future in [self._pool.submit(group) for group in groups] for frame in future.result()]

    def _run_group(self, frames: FrameDeblurrer, group: list[np.ndarray]) -> list[np.ndarray]:
        """One list of frames through ``frames`` (one session's deblurrer): the frames' layout in and out."""
        outputs = frames.run_model_inputs([self._model_input(frame) for frame in group])
        return [self._frame_output(out, like) for out, like in zip(outputs, group)]

    def close(self) -> None:
        """Free the inference sessions; the Deblurrer cannot be used afterwards."""
        if self._backend is not None:
            self._pool.close()
            for backend in [*self._siblings, self._backend]:
                backend.close()
            self._backend = None

    def __enter__(self) -> "Deblurrer":
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.close()

    def _open_backend(self) -> Backend:
        if self._backend is None:
            raise RuntimeError("this Deblurrer is closed")
        return self._backend

    def _model_input(self, frame: np.ndarray) -> np.ndarray:
        """Float32 RGB CHW in [0, 1]."""
        rgb = frame[..., ::-1] if self.color == "bgr" else frame
        chw = rgb.transpose(2, 0, 1).astype(np.float32)
        if frame.dtype in INTEGER_DTYPES:
            chw *= np.float32(1.0 / np.iinfo(frame.dtype).max)
        return np.ascontiguousarray(chw)

    def _frame_output(self, chw: np.ndarray, like: np.ndarray) -> np.ndarray:
        """The model's CHW output as a frame with ``like``'s channel order and dtype."""
        hwc = np.clip(chw.transpose(1, 2, 0), 0.0, 1.0)
        if self.color == "bgr":
            hwc = hwc[..., ::-1]
        if like.dtype in INTEGER_DTYPES:
            return np.rint(hwc * np.float32(np.iinfo(like.dtype).max)).astype(like.dtype)
        return np.ascontiguousarray(hwc, dtype=like.dtype)


def check_frame(frame: object, name: str) -> None:
    """TypeError or ValueError unless ``frame`` is an HxWx3 uint8, uint16 or [0, 1] float array."""
    if not isinstance(frame, np.ndarray):
        raise TypeError(f"{name}: expected a numpy array, got {type(frame).__name__}")
    if frame.ndim != 3 or frame.shape[2] != 3:
        hint = ""
        if frame.ndim == 2:
            hint = " (gray: np.dstack([frame] * 3))"
        elif frame.ndim == 3 and frame.shape[2] == 4:
            hint = " (RGBA/BGRA: frame[..., :3])"
        raise ValueError(f"{name}: expected an HxWx3 frame, got shape {frame.shape}{hint}")
    if min(frame.shape[:2]) < 2:
        raise ValueError(f"{name}: a frame must be at least 2x2 pixels, got {frame.shape[0]}x{frame.shape[1]}")
    if frame.dtype in FLOAT_DTYPES:
        low, high = float(np.min(frame)), float(np.max(frame))
        if not (0.0 <= low and high <= 1.0):  # also false for NaN
            raise ValueError(f"{name}: float frames must hold values in [0, 1], got {low:g}..{high:g}")
    elif frame.dtype not in INTEGER_DTYPES:
        raise TypeError(f"{name}: unsupported dtype {frame.dtype}; expected uint8, uint16 or float in [0, 1]")

