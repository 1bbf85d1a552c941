"""benchmarks/real_footage.py: the before/after table and crops of the model card's real-footage section."""

import subprocess
from pathlib import Path

import cv2
import numpy as np

from deblur.export.sample_images import blurry_image

from benchmark_scripts import ROOT, benchmark_command, load_benchmark



def _motion_blurred(path: Path) -> Path:
    assert cv2.imwrite(str(path), (blurry_image(96, 128, seed=3) * 255).round().astype(np.uint8))
    return path


def _table_rows(stdout: str) -> list[list[str]]:
    lines = [line for line in stdout.splitlines() if line.startswith("| ")][2:]
    return [[cell.strip() for cell in line.strip("|").split("|")] for line in lines]


def test_table_and_crops_for_an_image_and_a_video_frame(tmp_path, make_video):
    image = _motion_blurred(tmp_path / "blurred.png")
    video = make_video(tmp_path / "clip.mp4", frames=6, size=(64, 48))
    out = tmp_path / "looks"
    done = subprocess.run([*benchmark_command("real_footage"), str(image), str(video), "--frame", "3", "--crop", "32",
                           "--out", str(out), "--threads", "1"], capture_output=True, text=True, check=True,
                          cwd=ROOT)

    rows = _table_rows(done.stdout)
    assert [row[:3] for row in rows] == [["blurred.png", "128x96", "deblur-lite"], ["clip.mp4", "64x48", "deblur-lite"]]
    image_row = rows[0]
    assert float(image_row[5]) > 1.0, "the bundled model should sharpen a motion-blurred image"
    assert float(image_row[6]) < 60.0, "the output should differ from the input"

    side = cv2.imread(str(out / "blurred.deblur-lite.png"))
    zoom = cv2.imread(str(out / "blurred.deblur-lite.zoom.png"))
    assert side.shape == (96, 256, 3)
    assert zoom.shape == (64, 128, 3)
    assert (out / "clip.deblur-lite.zoom.png").is_file()


def test_the_zoom_window_is_where_the_output_changed_most():
    real_footage = load_benchmark("real_footage")
    before = np.zeros((60, 80, 3), np.uint8)
    after = before.copy()
    after[30:40, 50:60] = 200
    y, x = real_footage.most_changed_window(before, after, 10)
    assert (y, x) == (30, 50)
    assert real_footage.most_changed_window(before[:8, :8], after[:8, :8], 10) == (0, 0)
