"""Calibration frames: videos, image folders and globs, even spacing, blur-aware selection, .npz round trip, errors."""

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from deblur.calibration.blur import sharpness, spread_by_sharpness
from deblur.calibration.cli import app
from deblur.calibration.collect import collect_frames, load_calibration
from deblur.calibration.frameset import load_frames, save_frames
from deblur.calibration.sources import CalibrationSourceError, evenly_spaced, expand_sources, frame_refs
from deblur.calibration.tiles import center_crop, frame_tiles, tile_positions

runner = CliRunner()


def test_evenly_spaced_includes_both_ends():
    assert evenly_spaced(10, 4) == [0, 3, 6, 9]
    assert evenly_spaced(3, 8) == [0, 1, 2]
    assert evenly_spaced(0, 3) == [] and evenly_spaced(5, 0) == []


def test_video_frames_are_sampled_evenly(tmp_path, make_video):
    video = make_video(tmp_path / "clip.mp4", frames=20, size=(64, 48))
    images, labels = collect_frames([str(video)], count=5)
    assert labels == [f"{video}#{i}" for i in (0, 5, 10, 14, 19)]
    assert all(img.shape == (48, 64, 3) and img.dtype == np.uint8 for img in images)
    assert len({img.tobytes() for img in images}) == 5  # distinct frames, really decoded


def test_folders_globs_and_files_combine_without_repeats(tmp_path, make_image, make_video):
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        make_image(folder / f"p{i}.png", 40, 56, seed=i)
    (folder / "notes.txt").write_text("not an image")
    make_video(folder / "v.mp4", frames=4)
    files = expand_sources([str(folder), str(folder / "*.png"), str(folder / "p1.png")])
    assert [f.name for f in files] == ["p0.png", "p1.png", "p2.png", "v.mp4"]
    assert len(frame_refs(files)) == 3 + 4


def test_blur_aware_selection_spans_sharp_to_blurry(tmp_path):
    sharp = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    for i, kernel in enumerate([1, 3, 5, 7, 9, 11, 13, 15]):
        blurred = sharp if kernel == 1 else cv2.blur(sharp, (kernel, 1))
        cv2.imwrite(str(tmp_path / f"b{i:02d}.png"), blurred)
    scores = [sharpness(cv2.imread(str(tmp_path / f"b{i:02d}.png"))) for i in range(8)]
    assert scores == sorted(scores, reverse=True)  # more blur, lower score
    assert spread_by_sharpness(scores, 3) == [0, 3, 7]  # sharpest, middle rank, blurriest
    _, labels = collect_frames([str(tmp_path)], count=2, blur_aware=True)
    assert [label.rsplit("/", 1)[1] for label in labels] == ["b00.png", "b07.png"]


def test_frames_are_shrunk_to_max_side(tmp_path, make_image):
    make_image(tmp_path / "big.png", 300, 200)
    images, _ = collect_frames([str(tmp_path)], count=1, max_side=120)
    assert images[0].shape == (120, 80, 3)


def test_npz_round_trip_and_load_calibration(tmp_path):
    frames = [np.full((16, 24, 3), i, np.uint8) for i in range(3)]
    path = tmp_path / "calib.npz"
    save_frames(path, frames, ["a", "b", "c"])
    loaded, labels = load_calibration([str(path)])
    assert labels == ["a", "b", "c"]
    assert all(np.array_equal(a, b) for a, b in zip(frames, loaded))
    assert [p.name for p in tmp_path.iterdir()] == ["calib.npz"]


def test_truncated_or_foreign_npz_is_a_clear_error(tmp_path):
    path = tmp_path / "calib.npz"
    save_frames(path, [np.zeros((16, 16, 3), np.uint8)] * 2, ["a", "b"])
    path.write_bytes(path.read_bytes()[:100])
    with pytest.raises(CalibrationSourceError, match="not a readable calibration .npz"):
        load_frames(path)
    np.savez(tmp_path / "other.npz", frame_00000=np.zeros((4, 4), np.float32))
    with pytest.raises(CalibrationSourceError, match="not an HxWx3 uint8 RGB frame"):
        load_frames(tmp_path / "other.npz")


@pytest.mark.parametrize("source", ["missing_dir", "missing/*.png"])
def test_sources_with_no_frames_are_errors(tmp_path, source):
    with pytest.raises(CalibrationSourceError, match="no such file|contains no images"):
        collect_frames([str(tmp_path / source)])


def test_empty_folder_and_wrong_file_type_are_errors(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(CalibrationSourceError, match="contains no images or videos"):
        expand_sources([str(tmp_path / "empty")])
    (tmp_path / "a.txt").write_text("x")
    with pytest.raises(CalibrationSourceError, match="not an image or video"):
        expand_sources([str(tmp_path / "a.txt")])


def test_undecodable_image_is_an_error(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"\x89PNG not really")
    with pytest.raises(CalibrationSourceError, match="broken.png: cannot decode image"):
        collect_frames([str(tmp_path)])


def test_tiles_cover_the_frame_in_multiples_of_32_or_of_8_when_smaller():
    frame = np.arange(100 * 130 * 3, dtype=np.uint32).reshape(100, 130, 3).astype(np.uint8)
    assert tile_positions(130, 64, 2) == [0, 66]
    tiles = frame_tiles(frame, 64, per_side=2)
    assert len(tiles) == 4 and all(t.shape == (1, 3, 64, 64) and t.dtype == np.float32 for t in tiles)
    small = frame_tiles(frame[:20, :30], 64)
    assert small[0].shape == (1, 3, 16, 24)
    assert center_crop(frame, 512).shape == (1, 3, 96, 128)
    assert center_crop(np.zeros((360, 640, 3), np.uint8), 512).shape == (1, 3, 352, 512)  # scale-space models take it
    assert 0.0 <= tiles[0].min() and tiles[0].max() <= 1.0


def test_cli_writes_npz_and_reports(tmp_path, make_video):
    video = make_video(tmp_path / "clip.mp4", frames=12, size=(64, 48))
    out = tmp_path / "calib.npz"
    result = runner.invoke(app, [str(video), "--frames", "4", "--blur-aware", "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "4 frames (64x48)" in result.output
    frames, labels = load_frames(out)
    assert len(frames) == 4 and all(label.startswith(str(video)) for label in labels)


def test_cli_without_frames_exits_2_and_writes_nothing(tmp_path):
    out = tmp_path / "calib.npz"
    result = runner.invoke(app, [str(tmp_path / "*.mp4"), "-o", str(out)])
    assert result.exit_code == 2
    assert result.output.startswith("error: ") and "Traceback" not in result.output
    assert not out.exists()


def test_cli_output_must_be_npz(tmp_path, make_video):
    video = make_video(tmp_path / "clip.mp4", frames=4)
    result = runner.invoke(app, [str(video), "-o", str(tmp_path / "calib.bin")])
    assert result.exit_code == 2 and "must end in .npz" in result.output
    assert not (tmp_path / "calib.bin").exists()


def test_cli_refuses_to_replace_an_existing_file_without_overwrite(tmp_path, make_video):
    video = make_video(tmp_path / "clip.mp4", frames=4)
    out = tmp_path / "calib.npz"
    out.write_text("precious\n")
    result = runner.invoke(app, [str(video), "--frames", "2", "-o", str(out)])
    assert result.exit_code == 2 and result.output.strip() == f"error: {out}: already exists; pass --overwrite to replace it"
    assert out.read_text() == "precious\n"
    result = runner.invoke(app, [str(video), "--frames", "2", "-o", str(out), "--overwrite"])
    assert result.exit_code == 0, result.output
    assert len(load_frames(out)[0]) == 2


def test_cli_never_writes_over_an_input_npz(tmp_path):
    calib = tmp_path / "calib.npz"
    save_frames(calib, [np.zeros((16, 16, 3), np.uint8)] * 2, ["a", "b"])
    before = calib.read_bytes()
    result = runner.invoke(app, [str(calib), "-o", str(calib), "--overwrite"])
    assert result.exit_code == 2 and "would overwrite an input" in result.output
    assert calib.read_bytes() == before
