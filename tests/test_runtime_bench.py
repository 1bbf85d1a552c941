"""deblur-bench: real timings of a real ONNX Runtime session, table and JSON output."""

import json

import pytest
from typer.testing import CliRunner

from deblur.runtime.backends.registry import open_backend
from deblur.runtime.bench import benchmark, machine_description, markdown_table, parse_sizes
from deblur.runtime.bench_cli import app


def test_parse_sizes():
    assert parse_sizes("640x360, 1280X720") == [(640, 360), (1280, 720)]
    for bad in ("640", "0x10", "axb", "640x"):
        with pytest.raises(ValueError, match="not WIDTHxHEIGHT"):
            parse_sizes(bad)


def test_benchmark_times_real_inference(deblur_onnx):
    backend = open_backend(deblur_onnx, device="cpu", threads=1)
    result = benchmark(backend, 60, 36, warmup=1, runs=4)  # 36 rows pad to 40
    assert (result.width, result.height, result.runs) == (60, 36, 4)
    assert 0 < result.p50_ms <= result.p95_ms and result.fps > 0
    table = markdown_table([result])
    assert "| deblur-w8.onnx (test, C=8, fp32) | onnxruntime | CPUExecutionProvider | 60x36 |" in table
    machine = machine_description()
    assert "onnxruntime 1." in machine and "cores" in machine


def test_bench_cli_writes_table_and_json(tmp_path, deblur_onnx, identity_onnx):
    out = tmp_path / "bench.json"
    result = CliRunner().invoke(app, ["--model", str(deblur_onnx), "--model", str(identity_onnx), "--device", "cpu",
                                      "--sizes", "32x32,48x40", "--warmup", "0", "--runs", "2", "--threads", "1",
                                      "--json", str(out)])
    assert result.exit_code == 0, result.output
    assert "| onnxruntime | CPUExecutionProvider | 48x40 |" in result.output and "Machine: CPU" in result.output
    data = json.loads(out.read_text())
    assert [(r["model"].split()[0], r["width"], r["height"]) for r in data["results"]] == [
        ("deblur-w8.onnx", 32, 32), ("deblur-w8.onnx", 48, 40), ("identity.onnx", 32, 32), ("identity.onnx", 48, 40)]


def test_bench_cli_bad_input_is_one_line(tmp_path, deblur_onnx):
    precious = tmp_path / "precious.json"
    precious.write_text("precious\n")
    for args, fragment in [(["--model", str(tmp_path / "x.onnx")], "no such model file"),
                           (["--model", str(deblur_onnx), "--json", str(precious)], "precious.json: already exists; pass --overwrite"),
                           (["--model", str(deblur_onnx), "--json", str(deblur_onnx), "--overwrite"], "would overwrite an input"),
                           (["--model", str(deblur_onnx), "--sizes", "big"], "not WIDTHxHEIGHT"),
                           (["--model", str(deblur_onnx), "--runs", "0"], "--runs")]:
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2 and result.output.strip().splitlines() == [result.output.strip()]
        assert result.output.startswith("error: ") and fragment in result.output
    assert precious.read_text() == "precious\n"


def test_bench_cli_times_frames_in_parallel_where_the_backend_can(tmp_path, deblur_onnx):
    out = tmp_path / "bench.json"
    args = ["--model", str(deblur_onnx), "--device", "cpu", "--sizes", "32x32", "--warmup", "0", "--runs", "2",
            "--parallel-frames", "2", "--json", str(out)]
    result = CliRunner().invoke(app, [*args, "--threads", "2"])
    assert result.exit_code == 0, result.output
    assert "fps, frames in parallel |" in result.output and "(2 at a time) |" in result.output
    (row,) = json.loads(out.read_text())["results"]
    assert row["parallel_frames"] == 2 and row["parallel_fps"] > 0
    one_thread = CliRunner().invoke(app, [*args, "--threads", "1", "--overwrite"])
    assert one_thread.exit_code == 0 and "runs one frame at a time" in one_thread.output
    assert json.loads(out.read_text())["results"][0]["parallel_fps"] is None
