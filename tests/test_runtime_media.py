"""deblur_source end to end on generated media: videos (timing, audio), image sets, Ctrl-C, fallbacks."""

import os
import signal
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from deblur.runtime.backends.registry import load_backend
from deblur.runtime.errors import DeblurRunError, SinkError, SourceError
from deblur.runtime.runner import deblur_source
from deblur.runtime.settings import OutputSettings, RunSettings
from deblur.runtime.sources import open_source


def _probe(path: Path) -> dict:
    """Decode ``path`` fully: frame count, size, frame rate, timestamps, audio codec and duration."""
    with av.open(str(path)) as container:
        video = container.streams.video[0]
        audio = container.streams.audio[0] if container.streams.audio else None
        info = {
            "size": (video.width, video.height),
            "rate": video.average_rate,
            "codec": video.codec_context.name,
            "audio": audio.codec_context.name if audio else None,
            "audio_seconds": float(audio.duration * audio.time_base) if audio else 0.0,
        }
        frames = list(container.decode(video))
    info["frames"] = len(frames)
    info["times"] = [round(f.time, 4) for f in frames]
    info["first"] = frames[0].to_ndarray(format="bgr24")
    return info


def _run(spec, model, *, tile=0, tile_overlap=32, batch=1, **outputs):
    source = open_source(str(spec))
    settings = RunSettings(model=model, device="cpu", threads=1, tile=tile, tile_overlap=tile_overlap, batch=batch)
    try:
        return deblur_source(source, str(spec), load_backend(settings), settings,
                             OutputSettings(show_progress=False, **outputs))
    finally:
        source.close()


@pytest.mark.parametrize("audio", [False, True])
def test_video_keeps_frames_size_rate_timestamps_and_audio(tmp_path, make_video, deblur_onnx, audio):
    clip = make_video(tmp_path / "clip.mp4", frames=12, size=(64, 48), fps=10, audio=audio)
    summary = _run(clip, deblur_onnx)
    out = tmp_path / "clip_deblurred.mp4"
    assert summary.output == out and summary.frames == 12 and not summary.interrupted
    before, after = _probe(clip), _probe(out)
    for key in ("frames", "size", "rate", "times"):
        assert after[key] == before[key], key
    assert after["codec"] == "h264"
    assert after["audio"] == before["audio"] == ("aac" if audio else None)
    assert after["audio_seconds"] == pytest.approx(before["audio_seconds"])
    assert np.abs(after["first"].astype(int) - before["first"]).mean() > 10  # the network changed the pixels
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "clip_deblurred.mp4"]  # no temp file left


def test_identity_model_passes_video_through(tmp_path, make_video, identity_onnx):
    clip = make_video(tmp_path / "clip.mp4", frames=4, size=(80, 64))
    out = tmp_path / "same.mkv"
    _run(clip, identity_onnx, output=out, batch=3)
    before, after = _probe(clip), _probe(out)
    assert after["frames"] == 4 and after["size"] == (80, 64)
    assert np.abs(after["first"].astype(int) - before["first"]).mean() < 4  # only H.264 re-encoding loss


def test_compare_writes_input_and_result_side_by_side(tmp_path, make_video, identity_onnx):
    clip = make_video(tmp_path / "clip.mp4", frames=3, size=(48, 32))
    _run(clip, identity_onnx, output=tmp_path / "cmp.mp4", compare=True)
    info = _probe(tmp_path / "cmp.mp4")
    assert info["size"] == (96, 32) and info["frames"] == 3


def _interrupt_after(monkeypatch, frames: int) -> None:
    """The deblurrer raises KeyboardInterrupt (as Ctrl-C does) once ``frames`` calls have returned."""
    from deblur.runtime import deblurrer

    original, calls = deblurrer.FrameDeblurrer.__call__, {"n": 0}

    def interrupt(self, images):
        calls["n"] += 1
        if calls["n"] > frames:
            raise KeyboardInterrupt
        return original(self, images)

    monkeypatch.setattr(deblurrer.FrameDeblurrer, "__call__", interrupt)


def test_ctrl_c_leaves_a_playable_shorter_video(tmp_path, make_video, identity_onnx, monkeypatch):
    clip = make_video(tmp_path / "clip.mp4", frames=20, size=(64, 48), audio=True)
    _interrupt_after(monkeypatch, 5)
    summary = _run(clip, identity_onnx, output=tmp_path / "cut.mp4")
    assert summary.interrupted and summary.frames == 5
    info = _probe(tmp_path / "cut.mp4")
    assert info["frames"] == 5 and info["audio"] == "aac" and info["audio_seconds"] <= 0.7


def test_a_second_ctrl_c_while_the_video_is_finished_keeps_it(tmp_path, make_video, identity_onnx, monkeypatch):
    from deblur.runtime import sinks

    clip = make_video(tmp_path / "clip.mp4", frames=20, size=(64, 48))
    _interrupt_after(monkeypatch, 5)
    original_close = sinks.PyAVVideoSink.close

    def close_under_a_second_ctrl_c(self, interrupted=False):
        os.kill(os.getpid(), signal.SIGINT)
        original_close(self, interrupted)

    monkeypatch.setattr(sinks.PyAVVideoSink, "close", close_under_a_second_ctrl_c)
    summary = _run(clip, identity_onnx, output=tmp_path / "cut.mp4")
    assert summary.interrupted and summary.frames == 5
    assert _probe(tmp_path / "cut.mp4")["frames"] == 5
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "cut.mp4"]


def test_ctrl_c_before_the_first_frame_exits_130_and_writes_nothing(tmp_path, make_video, identity_onnx, monkeypatch):
    from typer.testing import CliRunner

    from deblur.runtime.cli import app

    clip = make_video(tmp_path / "clip.mp4", frames=4, size=(64, 48))
    _interrupt_after(monkeypatch, 0)
    result = CliRunner().invoke(app, [str(clip), "--model", str(identity_onnx), "--threads", "1"])
    assert result.exit_code == 130 and result.output.strip() == "error: interrupted; no output written"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]


def test_tiled_video_run_matches_whole_frames(tmp_path, make_video, deblur_onnx):
    clip = make_video(tmp_path / "clip.mp4", frames=2, size=(128, 96))
    whole = _run(clip, deblur_onnx, output=tmp_path / "whole.mkv")
    tiled = _run(clip, deblur_onnx, output=tmp_path / "tiled.mkv", tile=64, tile_overlap=32)
    assert whole.tile is None and tiled.tile == 64
    a, b = _probe(tmp_path / "whole.mkv")["first"], _probe(tmp_path / "tiled.mkv")["first"]
    assert np.abs(a.astype(int) - b).mean() < 1.0


@pytest.mark.parametrize("channels,dtype,suffix", [(3, np.uint8, ".png"), (1, np.uint8, ".png"), (4, np.uint8, ".png"),
                                                   (3, np.uint16, ".png"), (1, np.uint16, ".tif"), (3, np.uint8, ".jpg")])
def test_images_keep_size_depth_and_channels(tmp_path, make_image, identity_onnx, channels, dtype, suffix):
    path, image = make_image(tmp_path / f"odd{suffix}", 37, 53, channels, dtype)
    summary = _run(path, identity_onnx)
    result = cv2.imread(str(summary.output), cv2.IMREAD_UNCHANGED)
    assert summary.output == tmp_path / f"odd_deblurred{suffix}"
    assert result.shape == image.shape and result.dtype == image.dtype
    if suffix != ".jpg":
        assert np.array_equal(result, image)  # identity model: padding cropped exactly, alpha kept, depth kept


def test_rgba_alpha_is_passed_through_by_a_real_network(tmp_path, make_image, deblur_onnx):
    path, image = make_image(tmp_path / "a.png", 40, 24, 4)
    result = cv2.imread(str(_run(path, deblur_onnx).output), cv2.IMREAD_UNCHANGED)
    assert np.array_equal(result[..., 3], image[..., 3]) and not np.array_equal(result[..., :3], image[..., :3])


def test_folder_and_glob_give_a_folder_of_results(tmp_path, make_image, identity_onnx):
    shots = tmp_path / "shots"
    (shots / "sub").mkdir(parents=True)
    made = [make_image(shots / "b.png", 16, 24)[1], make_image(shots / "a.png", 20, 20, seed=1)[1]]
    (shots / "notes.txt").write_text("not an image")
    summary = _run(shots, identity_onnx, batch=2)
    assert summary.output == tmp_path / "shots_deblurred" and summary.frames == 2
    assert sorted(p.name for p in summary.output.iterdir()) == ["a.png", "b.png"]
    assert np.array_equal(cv2.imread(str(summary.output / "b.png")), made[0])

    make_image(shots / "sub" / "c.png", 16, 16)
    summary = _run(str(shots / "**" / "*.png"), identity_onnx, output=tmp_path / "globbed")
    assert sorted(str(p.relative_to(tmp_path / "globbed")) for p in (tmp_path / "globbed").rglob("*.png")) == [
        "a.png", "b.png", "sub/c.png"]


def test_unreadable_images_in_a_folder_are_listed_and_the_rest_done(tmp_path, make_image, identity_onnx):
    (tmp_path / "in").mkdir()
    make_image(tmp_path / "in" / "a.png", 16, 16)
    (tmp_path / "in" / "b.png").write_bytes(b"not a png")
    make_image(tmp_path / "in" / "c.png", 16, 16, seed=2)
    summary = _run(tmp_path / "in", identity_onnx)
    assert summary.frames == 2 and summary.failures == (f"{tmp_path / 'in' / 'b.png'}: not a readable image",)
    assert "2 frames" in summary.line() and "1 failed" in summary.line()
    assert sorted(p.name for p in (tmp_path / "in_deblurred").iterdir()) == ["a.png", "c.png"]
    with pytest.raises(SourceError, match="b.png: not a readable image"):
        _run(tmp_path / "in", identity_onnx, output=tmp_path / "strict", keep_going=False)


def test_skip_existing_reruns_only_what_is_missing(tmp_path, make_image, identity_onnx):
    (tmp_path / "in").mkdir()
    for name in ("a.png", "b.png", "c.png"):
        make_image(tmp_path / "in" / name, 16, 16)
    (tmp_path / "in_deblurred").mkdir()
    (tmp_path / "in_deblurred" / "b.png").write_bytes(b"finished earlier")
    with pytest.raises(SinkError, match="b.png: already exists; pass --overwrite to replace it, or --skip-existing"):
        _run(tmp_path / "in", identity_onnx)
    summary = _run(tmp_path / "in", identity_onnx, skip_existing=True)
    assert (summary.frames, summary.skipped) == (2, 1) and "1 skipped" in summary.line()
    assert (tmp_path / "in_deblurred" / "b.png").read_bytes() == b"finished earlier"
    again = _run(tmp_path / "in", identity_onnx, skip_existing=True)
    assert (again.frames, again.skipped) == (0, 3)


def test_jpeg_results_keep_the_exif_and_quality_of_their_input(tmp_path, identity_onnx):
    from PIL import Image

    from deblur.runtime.jpeg_quality import estimate_quality

    picture = Image.fromarray(cv2.GaussianBlur((np.random.default_rng(0).random((48, 64, 3)) * 255).astype(np.uint8), (0, 0), 2))
    exif = picture.getexif()
    exif[0x010F], exif[0x0112] = "TestCam", 6
    picture.save(tmp_path / "shot.jpg", exif=exif.tobytes(), quality=72)
    summary = _run(tmp_path / "shot.jpg", identity_onnx)
    data = summary.output.read_bytes()
    with Image.open(summary.output) as result:
        assert result.size == (48, 64)  # stored upright
        assert result.getexif()[0x010F] == "TestCam" and result.getexif()[0x0112] == 1
    assert estimate_quality(data) == 72
    chosen = _run(tmp_path / "shot.jpg", identity_onnx, output=tmp_path / "q90.jpg", jpeg_quality=90)
    assert estimate_quality(chosen.output.read_bytes()) == 90


def test_outputs_that_would_lose_data_are_refused(tmp_path, make_video, make_image, identity_onnx):
    clip = make_video(tmp_path / "clip.mp4", frames=2)
    with pytest.raises(SinkError, match="overwrite an input"):
        _run(clip, identity_onnx, output=clip, overwrite=True)
    shots = tmp_path / "shots"
    shots.mkdir()
    make_image(shots / "a.png", 16, 16)
    with pytest.raises(SinkError, match="overwrite an input"):
        _run(shots, identity_onnx, output=shots, overwrite=True)
    (tmp_path / "taken.mp4").write_bytes(b"keep me")
    with pytest.raises(SinkError, match="already exists; pass --overwrite"):
        _run(clip, identity_onnx, output=tmp_path / "taken.mp4")
    assert (tmp_path / "taken.mp4").read_bytes() == b"keep me"
    with pytest.raises(SinkError, match="video output must end in"):
        _run(clip, identity_onnx, output=tmp_path / "x.avi")


def test_without_pyav_opencv_reads_and_writes_video(tmp_path, make_video, identity_onnx, monkeypatch):
    clip = make_video(tmp_path / "clip.mp4", frames=5, size=(64, 48))
    monkeypatch.setitem(__import__("sys").modules, "av", None)
    summary = _run(clip, identity_onnx, output=tmp_path / "cv.mp4")
    monkeypatch.undo()
    info = _probe(tmp_path / "cv.mp4")
    assert summary.frames == 5 and info["frames"] == 5 and info["size"] == (64, 48) and info["codec"] == "mpeg4"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4", "cv.mp4"]


def test_jpeg_exif_orientation_is_applied_on_read(tmp_path, identity_onnx):
    from PIL import Image

    upright = np.zeros((60, 40, 3), np.uint8)
    upright[:20, :, 2] = 255  # red band at the top as a viewer shows it
    stored = np.ascontiguousarray(np.rot90(upright, 1))  # Orientation 6: stored turned 90° counter-clockwise
    picture = Image.fromarray(stored[..., ::-1])
    exif = picture.getexif()
    exif[0x0112] = 6
    picture.save(tmp_path / "phone.jpg", exif=exif.tobytes(), quality=95)
    _run(tmp_path / "phone.jpg", identity_onnx, output=tmp_path / "out.png")
    result = cv2.imread(str(tmp_path / "out.png"))
    assert result.shape == (60, 40, 3)
    assert result[:15, :, 2].min() > 200 and result[25:, :, 2].max() < 60


def test_video_display_matrix_is_copied_to_the_output(tmp_path, identity_onnx):
    clip = tmp_path / "portrait.mp4"
    with av.open(str(clip), "w") as container:
        stream = container.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 64, 48, "yuv420p"
        stream.set_display_rotation(-90)
        for index in range(3):
            frame = av.VideoFrame.from_ndarray(np.full((48, 64, 3), 40 * index, np.uint8), format="bgr24")
            frame.pts = index
            container.mux(stream.encode(frame))
        container.mux(stream.encode(None))
    _run(clip, identity_onnx, output=tmp_path / "out.mp4")
    with av.open(str(tmp_path / "out.mp4")) as container:
        frames = list(container.decode(video=0))
    assert len(frames) == 3 and all(frame.rotation == -90 for frame in frames)
    assert (frames[0].width, frames[0].height) == (64, 48)


def _mpeg2(path: Path, size: tuple[int, int], frames: int = 3, container: str = "mpeg") -> bytes:
    """An MPEG-2 clip of flat frames (MPEG-2, unlike H.264 4:2:0, stores odd sizes) and its bytes."""
    width, height = size
    with av.open(str(path), "w", format=container) as output:
        stream = output.add_stream("mpeg2video", rate=25)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for index in range(frames):
            frame = av.VideoFrame.from_ndarray(np.full((height, width, 3), 60 + 40 * index, np.uint8), format="bgr24")
            frame.pts = index
            output.mux(stream.encode(frame))
        output.mux(stream.encode(None))
    return path.read_bytes()


def test_odd_sized_video_becomes_yuv420p_h264_one_repeated_row_and_column_larger(tmp_path, identity_onnx):
    clip = tmp_path / "odd.mpg"
    _mpeg2(clip, (65, 49))
    _run(clip, identity_onnx, output=tmp_path / "out.mp4")
    with av.open(str(tmp_path / "out.mp4")) as container:
        stream = container.streams.video[0]
        assert (stream.codec_context.name, stream.codec_context.pix_fmt) == ("h264", "yuv420p")
        frames = [frame.to_ndarray(format="bgr24") for frame in container.decode(stream)]
    assert len(frames) == 3 and frames[0].shape == (50, 66, 3)
    assert abs(int(frames[1][10, 10, 0]) - 100) <= 8  # the flat grey of frame 1 (MPEG-2 and H.264 are lossy)


def test_max_frames_trims_the_audio_to_the_video(tmp_path, make_video, identity_onnx):
    clip = make_video(tmp_path / "clip.mp4", frames=20, size=(64, 48), audio=True)  # 2 s of video and audio
    _run(clip, identity_onnx, output=tmp_path / "short.mp4", max_frames=3)
    info = _probe(tmp_path / "short.mp4")
    assert info["frames"] == 3 and info["audio"] == "aac" and info["audio_seconds"] <= 0.5


def test_crf_sets_the_h264_quality(tmp_path, make_video, identity_onnx):
    clip = make_video(tmp_path / "clip.mp4", frames=10, size=(128, 96))
    sizes = {}
    for crf in (4, 40):
        out = tmp_path / f"crf{crf}.mp4"
        _run(clip, identity_onnx, output=out, crf=crf)
        sizes[crf] = out.stat().st_size
        assert _probe(out)["frames"] == 10
    assert sizes[40] < sizes[4] / 2
    with pytest.raises(DeblurRunError, match="--crf must be 0..51"):
        _run(clip, identity_onnx, output=tmp_path / "bad.mp4", crf=52)


def test_fps_retimes_the_video_and_drops_audio_that_would_drift(tmp_path, make_video, identity_onnx, caplog):
    clip = make_video(tmp_path / "clip.mp4", frames=10, size=(64, 48), fps=10, audio=True)
    _run(clip, identity_onnx, output=tmp_path / "slow.mp4", fps=5)
    slow = _probe(tmp_path / "slow.mp4")
    assert slow["frames"] == 10 and slow["rate"] == 5 and slow["audio"] is None
    assert slow["times"] == [i / 5 for i in range(10)]
    assert "--fps 5 retimes the video" in caplog.text
    _run(clip, identity_onnx, output=tmp_path / "same.mp4", fps=10)
    same = _probe(tmp_path / "same.mp4")
    assert same["rate"] == 10 and same["audio"] == "aac" and same["times"] == _probe(clip)["times"]
    with pytest.raises(DeblurRunError, match="--fps must be above 0"):
        _run(clip, identity_onnx, output=tmp_path / "bad.mp4", fps=0)


def test_a_frame_size_change_mid_stream_is_an_error_not_a_stretch(tmp_path, identity_onnx):
    changing = tmp_path / "changing.ts"
    changing.write_bytes(_mpeg2(tmp_path / "a.ts", (64, 48), container="mpegts") + _mpeg2(tmp_path / "b.ts", (80, 48), container="mpegts"))
    with pytest.raises(SourceError, match=r"changing.ts: frame 2 is 80x48 after 64x48"):
        _run(changing, identity_onnx, output=tmp_path / "out.mp4")
    assert not (tmp_path / "out.mp4").exists()


def test_gray_alpha_png_stays_gray_alpha(tmp_path, identity_onnx):
    from PIL import Image

    gray_alpha = np.dstack([np.tile(np.arange(0, 240, 10, dtype=np.uint8), (16, 1)), np.full((16, 24), 77, np.uint8)])
    Image.fromarray(gray_alpha, "LA").save(tmp_path / "la.png")
    summary = _run(tmp_path / "la.png", identity_onnx)
    with Image.open(summary.output) as result:
        assert result.mode == "LA"
        assert np.array_equal(np.asarray(result), gray_alpha)


@pytest.mark.parametrize("kind", ["image", "video"])
def test_a_full_disk_names_the_output(tmp_path, make_image, make_video, identity_onnx, monkeypatch, kind):
    from deblur.runtime import runner, sinks

    def full_disk(path, write):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(sinks if kind == "image" else runner, "atomic_write", full_disk)
    source = make_image(tmp_path / "a.png", 16, 16)[0] if kind == "image" else make_video(tmp_path / "a.mp4", frames=2)
    output = tmp_path / f"out{source.suffix}"
    with pytest.raises(SinkError, match=f"{output}: cannot write \\(No space left on device\\)"):
        _run(source, identity_onnx, output=output)
