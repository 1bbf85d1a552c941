"""Frames in, deblurred frames out: pixel conversion, padding or tiling, batching over one backend."""

from dataclasses import dataclass, field

import numpy as np

from deblur.coarse_pass import coarse_pass, coarse_size

from .backends.base import Backend
from .frames import from_model_output, to_model_input
from .interrupts import raise_if_stop_requested
from .self_ensemble import Infer, flip_ensemble
from .settings import RunSettings
from .tiling import FRAME_BYTES_PER_PIXEL, TILED_FRAME_BYTES_PER_PIXEL, auto_tile_size, run_padded, run_tiled, tiled_bands


@dataclass
class FrameDeblurrer:
    """Deblurs lists of frames with ``backend`` as ``settings`` say (its model is ``backend``'s).

    ``settings.tile``: fixed tile side (0: pick from ``max_memory_mb`` per frame size, whole frames when they fit).
    ``settings.batch``: frames (or tiles of one frame) per backend call.
    ``settings.self_ensemble``: average over this many flips of every input (1, 2 or 4; N times slower).
    ``settings.coarse_pass``: run the model on frames shrunk by this factor and add its upsampled correction (1:
    off; ``coarse_pass`` module). Coarse-pass frames are converted to float whole; the shrunk frame is tiled as usual.
    """

    backend: Backend
    settings: RunSettings
    last_tile: int | None = field(default=None, init=False)  # tile side used for the latest frame
    infer: Infer = field(init=False, repr=False)  # the backend's infer, averaged over the self-ensemble flips

    def __post_init__(self):
        self.infer = flip_ensemble(self._infer_unless_stopped, self.settings.self_ensemble)

    def _infer_unless_stopped(self, batch: np.ndarray) -> np.ndarray:
        """The backend's infer; after a stop signal (``interrupts``) it raises KeyboardInterrupt instead."""
        raise_if_stop_requested()
        return self.backend.infer(batch)

    def tile_for(self, height: int, width: int, tiled_frame_bytes: int) -> int | None:
        """Tile side used for a frame of this size, or None for the whole frame at once (``tiled_frame_bytes``:
        what the frame itself costs per pixel when tiled, see ``auto_tile_size``).

        Tiles never exceed the backend's ``max_hw`` (a TensorRT engine's profile), so frames larger than
        the engine was built for are tiled instead of refused.
        """
        model, settings = self.backend.model, self.settings
        if settings.tile:
            tile = settings.tile if settings.tile < max(height, width) else None
        else:
            tile = auto_tile_size(height, width, model.width, settings.max_memory_mb / settings.batch,
                                  model.size_multiple, tiled_frame_bytes)
        return limit_tile(tile, height, width, self.backend.max_hw, model.size_multiple)

    def frames_at_once(self, height: int, width: int, count: int) -> int:
        """``count`` when ``count`` frames of this size each run whole on their share of the memory budget, else 1:
        a frame that its share would tile runs alone on the whole budget, exactly as one at a time would."""
        settings = self.settings
        if count < 2 or settings.batch > 1:
            return 1
        share_mb = settings.max_memory_mb / count
        if settings.coarse_pass > 1:  # the frame is held in float whole beside the shrunk frame's run
            share_mb -= FRAME_BYTES_PER_PIXEL * height * width / 2**20
            height, width = coarse_size(height, width, settings.coarse_pass)
        if share_mb <= 0 or (settings.tile and settings.tile < max(height, width)):
            return 1
        model = self.backend.model
        return count if auto_tile_size(height, width, model.width, share_mb, model.size_multiple) is None else 1

    def __call__(self, images: list[np.ndarray]) -> list[np.ndarray]:
        """OpenCV-layout frames (gray, BGR or BGRA; uint8 or uint16) -> deblurred frames of the same layout.

        Tiled frames are read tile by tile and written band by band, never converted to float whole (except with
        a coarse pass, which tiles the shrunk frame).
        """
        if len({image.shape[:2] for image in images}) > 1:
            return [out for image in images for out in self([image])]
        if self.settings.coarse_pass > 1:
            outputs = self.run_model_inputs([to_model_input(image) for image in images])
            return [from_model_output(out, like) for out, like in zip(outputs, images)]
        tile = self.last_tile = self.tile_for(*images[0].shape[:2], TILED_FRAME_BYTES_PER_PIXEL * images[0].itemsize)
        if tile is None:
            outputs = run_padded(np.stack([to_model_input(image) for image in images]), self.infer,
                                 self.backend.model.size_multiple)
            return [from_model_output(out, like) for out, like in zip(outputs, images)]
        return [self._deblur_tiled(image, tile) for image in images]

    def run_model_inputs(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """Float32 RGB CHW arrays in [0, 1] -> the model's CHW outputs (float32, not yet clipped)."""
        return coarse_pass(inputs, self.settings.coarse_pass, self._run_full_size)

    def _run_full_size(self, inputs: list[np.ndarray]) -> list[np.ndarray]:
        """``run_model_inputs`` without the coarse pass: the model on the inputs as they are."""
        if len({chw.shape[1:] for chw in inputs}) > 1:
            return [out for chw in inputs for out in self._run_full_size([chw])]
        multiple = self.backend.model.size_multiple
        tile = self.last_tile = self.tile_for(*inputs[0].shape[1:], FRAME_BYTES_PER_PIXEL)
        if tile is None:
            return list(run_padded(np.stack(inputs), self.infer, multiple))
        return [run_tiled(chw, self.infer, tile, self.tile_overlap(tile), multiple, self.settings.batch) for chw in inputs]

    def tile_overlap(self, tile: int) -> int:
        """The overlap of neighbouring tiles: ``settings.tile_overlap``, at least two size multiples (a scale-space
        model's coarsest pass needs context: 64 px at full size are 16 at 1/4), at most half the tile."""
        return min(max(self.settings.tile_overlap, 2 * self.backend.model.size_multiple), tile // 2)

    def _deblur_tiled(self, image: np.ndarray, tile: int) -> np.ndarray:
        result = np.empty_like(image)
        bands = tiled_bands(lambda rows, cols: to_model_input(np.ascontiguousarray(image[rows, cols])),
                            *image.shape[:2], self.infer, tile, self.tile_overlap(tile),
                            self.backend.model.size_multiple, self.settings.batch)
        for rows, values in bands:
            result[rows] = from_model_output(values, image[rows])
        return result


def limit_tile(tile: int | None, height: int, width: int, max_hw: tuple[int, int] | None, multiple: int) -> int | None:
    """``tile`` shrunk to fit ``max_hw``; a whole frame (None) larger than ``max_hw`` gets the largest tile that fits."""
    if max_hw is None:
        return tile
    limit = min(max_hw) // multiple * multiple
    padded_h, padded_w = height + -height % multiple, width + -width % multiple
    if tile is None:
        return None if padded_h <= max_hw[0] and padded_w <= max_hw[1] else limit
    return min(tile, limit)
