"""benchmarks/peak_rss.py: each deblur-run's own peak RSS, the tile it used, and a row per size and budget."""

import subprocess
import sys

import cv2
import numpy as np

from benchmark_scripts import ROOT, benchmark_command, load_benchmark

peak_rss = load_benchmark("peak_rss")


def test_summary_lines_give_the_tile():
    assert peak_rss.tile_of("deblurred 1 frames in 2.0 s (0.50 fps) | onnxruntime on CPU | tile 480 | -> a.jpg") == "tile 480"
    assert peak_rss.tile_of("deblurred 1 frames in 2.0 s (0.50 fps) | onnxruntime on CPU | whole frames | -> a.jpg") == "whole frame"


def test_the_peak_is_the_child_s_own_not_this_process_s(tmp_path):
    image = peak_rss.write_test_image(tmp_path / "x.jpg", 48, 32)
    assert cv2.imread(str(image)).shape == (32, 48, 3)
    held = np.ones(600 * 2**20 // 8)  # this process's high-water mark must not show in the child's
    allocate = [sys.executable, "-c", "import numpy; a = numpy.ones(200 * 2**20 // 8); print(a.sum(), file=__import__('sys').stderr)"]
    peak, stderr = peak_rss.peak_rss_mb(allocate)
    assert 200 <= peak < 400 and stderr.strip() and held.sum() > 0


def test_the_table_has_a_row_per_size_and_budget(deblur_onnx):
    done = subprocess.run([*benchmark_command("peak_rss"), "--sizes", "96x64", "--budgets", "1,512",
                           "--model", str(deblur_onnx), "--threads", "1"], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    rows = [line.split("|")[1:-1] for line in done.stdout.splitlines() if line.startswith("| 96x64")]
    assert [(row[1].strip(), row[2].strip()) for row in rows] == [("1", "tile 128"), ("512", "whole frame")]
    assert all(int(row[3]) > 0 for row in rows)
