"""deblur-run as a shell user runs it: many sources (expanded globs), never our own results, models by name."""

from pathlib import Path

from typer.testing import CliRunner

from deblur.runtime.backends.registry import open_backend
from deblur.runtime.cli import app


def _cli(*args):
    return CliRunner().invoke(app, [str(a) for a in args])


def _one_line_error(result, fragment: str) -> None:
    lines = result.output.strip().splitlines()
    assert result.exit_code == 2 and len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert fragment in lines[0], lines[0]


def _names(folder: Path) -> list[str]:
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*.png"))


def test_many_sources_then_the_same_glob_skips_the_results(tmp_path, make_image, deblur_onnx):
    shots = tmp_path / "shots"
    shots.mkdir()
    for name in ("a", "b"):
        make_image(shots / f"{name}.png", 24, 32)
    model = ("--model", deblur_onnx, "--threads", "1", "--quiet")
    first = _cli(shots / "a.png", shots / "b.png", *model)
    assert first.exit_code == 0, first.output
    assert _names(shots) == ["a.png", "a_deblurred.png", "b.png", "b_deblurred.png"]

    expanded = sorted(shots.glob("*.png"))  # what the shell passes for shots/*.png
    second = _cli(*expanded, "-o", tmp_path / "sharp", *model)
    assert second.exit_code == 0, second.output
    assert _names(tmp_path / "sharp") == ["a_deblurred.png", "b_deblurred.png"]

    for quoted in (str(shots / "*.png"), shots):  # deblur-run expands the glob / lists the folder itself
        result = _cli(quoted, "-o", tmp_path / "again", "--overwrite", *model)
        assert result.exit_code == 0, result.output
        assert _names(tmp_path / "again") == ["a.png", "b.png"]


def test_several_sources_need_a_folder_and_outputs_alone_are_refused(tmp_path, make_image, deblur_onnx):
    a, _ = make_image(tmp_path / "a.png", 16, 16)
    b, _ = make_image(tmp_path / "b.png", 16, 16)
    done, _ = make_image(tmp_path / "a_deblurred.png", 16, 16)
    _one_line_error(_cli(a, b, "-o", tmp_path / "out.png", "--model", deblur_onnx), "need an output folder")
    _one_line_error(_cli(done, "--model", deblur_onnx), "a_deblurred.png is a deblur-run output")
    _one_line_error(_cli("--model", deblur_onnx), "no source given")


def test_models_by_name_and_the_listing(tmp_path, make_image):
    image, _ = make_image(tmp_path / "photo.png", 16, 24)
    result = _cli(image, "--model", "lite", "--threads", "1")
    assert result.exit_code == 0 and (tmp_path / "photo_deblurred.png").is_file(), result.output
    _one_line_error(_cli(image, "--model", "paper"), "model 'paper' is not bundled yet")

    listing = _cli("--list-models")
    assert listing.exit_code == 0, listing.output
    bundled = open_backend("lite", device="cpu", threads=1)
    lite_line = next(line for line in listing.output.splitlines() if line.startswith("lite (default): "))
    size_mb = bundled.model.path.stat().st_size / 2**20
    assert f"deblur-lite.onnx, {size_mb:.1f} MB" in lite_line and f"width {bundled.model.width}" in lite_line
    assert f"training data: {bundled.model.training_data}" in listing.output
    assert any(line.startswith("paper: ") and "not bundled yet" in line for line in listing.output.splitlines())
    bundled.close()


def test_bench_takes_model_names():
    from deblur.runtime.bench_cli import app as bench_app

    result = CliRunner().invoke(bench_app, ["--model", "lite", "--device", "cpu", "--threads", "1", "--sizes", "16x16",
                                            "--warmup", "0", "--runs", "1"])
    assert result.exit_code == 0, result.output
    assert "deblur-lite.onnx" in result.output
    paper = CliRunner().invoke(bench_app, ["--model", "paper", "--sizes", "16x16"])
    _one_line_error(paper, "model 'paper' is not bundled yet")


def test_one_image_is_one_frame_in_the_summary(tmp_path, make_image, identity_onnx):
    image, _ = make_image(tmp_path / "a.png", 16, 16)
    result = _cli(image, "--model", identity_onnx, "--threads", "1")
    assert result.exit_code == 0 and "deblurred 1 frame in " in result.output, result.output
