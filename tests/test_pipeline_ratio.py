"""benchmarks/pipeline_ratio.py: one row per round, pipeline and inference alone measured on the same backend."""

import subprocess

from benchmark_scripts import ROOT, benchmark_command, load_benchmark


def test_first_frame_size_is_width_by_height(tmp_path, make_video):
    clip = make_video(tmp_path / "clip.mp4", frames=3, size=(64, 48))
    assert load_benchmark("pipeline_ratio").first_frame_size(str(clip)) == (64, 48)


def test_the_table_has_a_row_per_round_and_a_median(tmp_path, make_video, deblur_onnx):
    clip = make_video(tmp_path / "clip.mp4", frames=4, size=(64, 48), audio=True)
    done = subprocess.run([*benchmark_command("pipeline_ratio"), str(clip), "--model", str(deblur_onnx),
                           "--threads", "1", "--frames", "3", "--runs", "1", "--rounds", "2"],
                          capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    rows = [line.strip("|").split("|") for line in done.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    assert [row[0].strip() for row in rows[1:]] == ["1", "2"]
    for row in rows[1:]:
        alone, pipeline, ratio = (float(cell) for cell in row[1:])
        assert alone > 0 and pipeline > 0 and abs(ratio - pipeline / alone) < 0.01
    assert "clip.mp4 (64x48), deblur-w8.onnx" in done.stdout and "median ratio" in done.stdout
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.mp4"]  # nothing written beside the clip


def test_frames_in_parallel_get_their_own_columns(tmp_path, make_video, deblur_onnx):
    clip = make_video(tmp_path / "clip.mp4", frames=6, size=(64, 48))
    command = [*benchmark_command("pipeline_ratio"), str(clip), "--model", str(deblur_onnx),
               "--frames", "6", "--runs", "1", "--rounds", "1", "--parallel-frames", "2"]
    done = subprocess.run([*command, "--threads", "2"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    header, _, row = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert "2 frames in parallel" in header and len(row.strip("|").split("|")) == 6
    assert "with 1 frame at a time" in done.stdout and "with 2 frames at a time" in done.stdout
    refused = subprocess.run([*command, "--threads", "1"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert refused.returncode == 1 and "1 frame(s) at a time where 2 were asked for" in refused.stderr
