"""Padding, cropping and overlapped tiling: exact geometry, and no visible seams on a real network."""

import math

import numpy as np
import pytest

from deblur.runtime.backends.registry import open_backend
from deblur.runtime.tiling import (
    ACTIVATION_BYTES_PER_PIXEL_PER_WIDTH,
    BAND_BYTES_PER_PIXEL,
    FRAME_BYTES_PER_PIXEL,
    MIN_AUTO_TILE,
    TILE_BYTES_PER_PIXEL,
    TILED_FRAME_BYTES_PER_PIXEL,
    auto_tile_size,
    blend_window,
    pad_to_multiple,
    plan_tiles,
    run_padded,
    run_tiled,
    tiled_bands,
)

from benchmark_scripts import load_benchmark

peak_rss = load_benchmark("peak_rss")  # measures a child under a minimal wrapper


def _image(height, width, seed=0):
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width] / 40.0
    smooth = np.stack([np.sin(x + c) * np.cos(y - 2 * c) for c in range(3)])
    return np.clip(0.5 + 0.35 * smooth + 0.05 * rng.standard_normal(smooth.shape), 0, 1).astype(np.float32)


def _checked_identity(multiple):
    def infer(batch):
        assert batch.shape[2] % multiple == 0 and batch.shape[3] % multiple == 0
        return batch.copy()

    return infer


@pytest.mark.parametrize("height,width", [(37, 53), (8, 8), (1, 9), (64, 17), (5, 3)])
def test_padding_is_cropped_back_exactly(height, width):
    chw = _image(height, width)
    padded = pad_to_multiple(chw, 8)
    assert padded.shape[1] % 8 == 0 and padded.shape[2] % 8 == 0
    assert np.array_equal(padded[:, :height, :width], chw)
    out = run_padded(chw[None], _checked_identity(8), 8)
    assert out.shape == (1, 3, height, width) and np.array_equal(out[0], chw)


def test_tiles_cover_the_image_and_overlap():
    tiles = plan_tiles(100, 150, tile=64, overlap=16)
    cover = np.zeros((100, 150), int)
    for t in tiles:
        assert (t.bottom - t.top, t.right - t.left) == (58, 61)  # 2 x 3 tiles, as 64-px ones would need, shrunk
        cover[t.top : t.bottom, t.left : t.right] += 1
    assert cover.min() >= 1
    assert sorted({t.top for t in tiles}) == [0, 42] and sorted({t.left for t in tiles}) == [0, 44, 89]
    assert plan_tiles(30, 40, tile=64, overlap=16) == [plan_tiles(30, 40, 64, 16)[0]]
    with pytest.raises(ValueError):
        plan_tiles(10, 10, tile=16, overlap=16)


@pytest.mark.parametrize("height,width,tile,overlap", [(1080, 1920, 984, 32), (2160, 3840, 952, 32), (6000, 8000, 128, 32),
                                                       (1000, 1001, 984, 32), (37, 53, 16, 8), (97, 500, 24, 23)])
def test_tiles_are_no_larger_than_needed_and_overlap_by_at_least_the_overlap(height, width, tile, overlap):
    tiles = plan_tiles(height, width, tile, overlap, multiple=8)
    rows, cols = sorted({(t.top, t.bottom) for t in tiles}), sorted({(t.left, t.right) for t in tiles})
    for spans, length in ((rows, height), (cols, width)):
        assert spans[0][0] == 0 and spans[-1][1] == length and len({b - a for a, b in spans}) == 1
        assert all(b - a <= tile for a, b in spans)
        assert all(previous[1] - following[0] >= overlap for previous, following in zip(spans, spans[1:]))
        assert len(spans) == max(1, math.ceil((length - overlap) / (tile - overlap)))  # as many as full tiles need
    if (height, width) == (1080, 1920):  # four 560x976 tiles: 1.05x the frame's pixels, where 984x984 ones did 1.87x
        assert {(t.bottom - t.top, t.right - t.left) for t in tiles} == {(560, 976)} and len(tiles) == 4


def test_blend_weights_sum_to_one_where_ramps_meet():
    height, width, overlap = 64, 112, 16
    total = np.zeros((height, width), np.float32)
    for t in plan_tiles(height, width, tile=64, overlap=overlap):
        window = blend_window(t, height, width, overlap)
        assert window.min() > 0 and window.max() <= 1
        total[t.top : t.bottom, t.left : t.right] += window
    assert np.allclose(total, 1.0, atol=1e-6)  # tiles at 0 and 48: ramps over exactly the 16 shared columns


@pytest.mark.parametrize("height,width,tile,overlap", [(37, 53, 16, 8), (96, 80, 32, 8), (40, 200, 64, 24)])
def test_tiling_an_identity_model_reproduces_the_image(height, width, tile, overlap):
    chw = _image(height, width)
    out = run_tiled(chw, _checked_identity(8), tile, overlap, multiple=8, batch=3)
    assert out.shape == chw.shape
    assert np.allclose(out, chw, atol=1e-6)


def test_tiled_matches_untiled_on_a_real_network(deblur_onnx):
    backend = open_backend(deblur_onnx, device="cpu", threads=1)
    chw = _image(128, 192, seed=1)
    whole = run_padded(chw[None], backend.infer, 8)[0]
    assert np.abs(whole - chw).mean() > 0.05  # the network really changes the image
    blended = run_tiled(chw, backend.infer, tile=96, overlap=48, multiple=8, batch=2)
    hard = run_tiled(chw, backend.infer, tile=96, overlap=0, multiple=8)
    blended_err, hard_err = np.abs(blended - whole).max(), np.abs(hard - whole).max()
    assert blended_err < 2 / 255, blended_err
    assert hard_err > 4 * blended_err  # without overlap the tile borders show


def _tiled_estimate(height, width, tile, model_width):
    return (TILED_FRAME_BYTES_PER_PIXEL * height * width + BAND_BYTES_PER_PIXEL * tile * width
            + (ACTIVATION_BYTES_PER_PIXEL_PER_WIDTH * model_width + TILE_BYTES_PER_PIXEL) * tile * tile)


def test_auto_tile_size_follows_the_memory_budget():
    assert auto_tile_size(720, 1280, model_width=16, max_memory_mb=2048, multiple=8) is None
    tile = auto_tile_size(1080, 1920, model_width=24, max_memory_mb=1024, multiple=8)
    assert tile % 8 == 0 and _tiled_estimate(1080, 1920, tile, 24) <= 1024 * 2**20 < _tiled_estimate(1080, 1920, tile + 8, 24)
    whole = FRAME_BYTES_PER_PIXEL * 720 * 1280 + ACTIVATION_BYTES_PER_PIXEL_PER_WIDTH * 24 * 720 * 1280
    assert auto_tile_size(720, 1280, 24, whole / 2**20, 8) is None and auto_tile_size(720, 1280, 24, whole / 2**20 - 1, 8)
    assert auto_tile_size(6000, 8000, model_width=24, max_memory_mb=512, multiple=8) == MIN_AUTO_TILE  # its own bytes
    assert auto_tile_size(2160, 3840, model_width=32, max_memory_mb=1, multiple=8) == MIN_AUTO_TILE
    float_frame = auto_tile_size(2160, 3840, 24, 1024, 8, tiled_frame_bytes=FRAME_BYTES_PER_PIXEL)
    assert float_frame < auto_tile_size(2160, 3840, 24, 1024, 8)  # a frame held in float leaves less for tiles


def test_bands_come_top_to_bottom_and_cover_every_row_once():
    chw = _image(100, 70)
    bands = list(tiled_bands(lambda r, c: chw[:, r, c], 100, 70, _checked_identity(8), tile=32, overlap=8, multiple=8))
    rows = [r for r, _ in bands]
    assert rows[0].start == 0 and rows[-1].stop == 100
    assert all(a.stop == b.start for a, b in zip(rows, rows[1:]))
    assert all(values.shape == (3, r.stop - r.start, 70) for r, values in bands)
    assert np.allclose(np.concatenate([v for _, v in bands], axis=1), chw, atol=1e-6)


@pytest.mark.parametrize("channels, dtype", [(3, np.uint8), (0, np.uint16), (4, np.uint8), (2, np.uint16)])
def test_frames_tiled_band_by_band_equal_the_float_path(deblur_onnx, channels, dtype):
    from deblur.runtime.deblurrer import FrameDeblurrer
    from deblur.runtime.frames import from_model_output, to_model_input
    from deblur.runtime.settings import RunSettings

    rng = np.random.default_rng(0)
    peak = np.iinfo(dtype).max
    shape = (90, 130) if channels == 0 else (90, 130, channels)
    frame = (rng.random(shape) * peak).astype(dtype)
    backend = open_backend(deblur_onnx, device="cpu", threads=1)
    deblurrer = FrameDeblurrer(backend, RunSettings(model=deblur_onnx, tile=48, tile_overlap=16))
    (streamed,) = deblurrer([frame])
    assert deblurrer.last_tile == 48 and streamed.shape == frame.shape and streamed.dtype == frame.dtype
    expected = from_model_output(run_tiled(to_model_input(frame), backend.infer, 48, 16, 8), frame)
    assert np.array_equal(streamed, expected)
    if channels in (2, 4):
        assert np.array_equal(streamed[..., -1], frame[..., -1])  # alpha passed through


def test_tiles_never_exceed_the_engine_profile():
    from deblur.runtime.deblurrer import limit_tile

    assert limit_tile(None, 720, 1280, None, 8) is None
    assert limit_tile(None, 1080, 1920, (1080, 1920), 8) is None  # fits the profile: whole frame
    assert limit_tile(None, 2160, 3840, (1080, 1920), 8) == 1080  # too big for the engine: tiled
    assert limit_tile(1400, 2160, 3840, (1080, 1920), 8) == 1080
    assert limit_tile(512, 2160, 3840, (1080, 1920), 8) == 512
    assert limit_tile(None, 1083, 1000, (1084, 1084), 8) == 1080  # padded to 1088 rows: over the profile


def _peak_rss_mb(*args) -> int:
    """Peak RSS (MiB) of deblur-run with ``args`` on 2 threads, measured under a minimal wrapper process."""
    import sys
    from pathlib import Path

    command = [str(Path(sys.executable).parent / "deblur-run"), *map(str, args), "--threads", "2", "--quiet"]
    return peak_rss.peak_rss_mb(command)[0]


@pytest.mark.slow
def test_peak_rss_stays_within_the_budget_plus_the_fixed_runtime_cost(tmp_path, make_image):
    """384-pixel tiles of the bundled model: ONNX Runtime's memory pattern used to double the peak."""
    small, _ = make_image(tmp_path / "small.png", 64, 64)
    large, _ = make_image(tmp_path / "large.png", 768, 1024)
    fixed = _peak_rss_mb(small, "-o", tmp_path / "small_out.png")
    budget = 320
    peak = _peak_rss_mb(large, "-o", tmp_path / "large_out.png", "--max-memory-mb", budget)
    assert auto_tile_size(768, 1024, 24, budget, 8) == 384
    assert peak <= budget + fixed, f"peak {peak} MiB > budget {budget} + fixed {fixed}"


@pytest.fixture(scope="module")
def fixed_runtime_cost(tmp_path_factory):
    """Peak RSS (MiB) of deblur-run on a 64x64 image: Python, OpenCV, ONNX Runtime and the bundled model."""
    folder = tmp_path_factory.mktemp("fixed")
    small = peak_rss.write_test_image(folder / "small.jpg", 64, 64)
    return _peak_rss_mb(small, "-o", folder / "small_out.jpg")


@pytest.mark.slow  # ~3 minutes together on 2 cores, most of it the 48-megapixel image
@pytest.mark.parametrize("width, height, budget", [(1920, 1080, 512), (3840, 2160, 1024), (8000, 6000, 2048)])
def test_large_frames_stay_within_the_budget(tmp_path, fixed_runtime_cost, width, height, budget):
    """Tiled frames are never held in float whole: 8000x6000 alone would take 3.4 GB in float copies."""
    image = peak_rss.write_test_image(tmp_path / "large.jpg", width, height)
    peak = _peak_rss_mb(image, "-o", tmp_path / "out.jpg", "--max-memory-mb", budget)
    assert peak <= budget + fixed_runtime_cost, f"peak {peak} MiB > budget {budget} + fixed {fixed_runtime_cost}"
