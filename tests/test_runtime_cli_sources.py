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
    first = _cli(shots / "a.png", shots / "b.png", *model)  # beside the inputs: marked
    assert first.exit_code == 0, first.output
    assert _names(shots) == ["a.png", "a_deblurred.png", "b.png", "b_deblurred.png"]

    expanded = sorted(shots.glob("*.png"))  # what the shell passes for shots/*.png
    second = _cli(*expanded, "-o", tmp_path / "sharp", *model)  # in an -o folder: the inputs' names
    assert second.exit_code == 0, second.output
    assert _names(tmp_path / "sharp") == ["a.png", "b.png"]

    for quoted in (str(shots / "*.png"), shots):  # deblur-run expands the glob / lists the folder itself
        result = _cli(quoted, "-o", tmp_path / "again", "--overwrite", *model)
        assert result.exit_code == 0, result.output
        assert _names(tmp_path / "again") == ["a.png", "b.png"]


def _shots_with_a_subfolder(tmp_path, make_image) -> Path:
    shots = tmp_path / "shots"
    (shots / "sub").mkdir(parents=True)
    make_image(shots / "a.png", 16, 16)
    make_image(shots / "sub" / "c.png", 16, 24, seed=1)
    return shots


def test_output_names_do_not_depend_on_how_the_sources_were_given(tmp_path, make_image, identity_onnx):
    shots = _shots_with_a_subfolder(tmp_path, make_image)
    model = ("--model", identity_onnx, "--threads", "1", "--quiet")
    ways = {"folder": [shots], "quoted glob": [str(shots / "**" / "*.png")],
            "files (zsh's shots/**/*.png)": [shots / "a.png", shots / "sub" / "c.png"],
            "file and folder (shots/*)": [shots / "a.png", shots / "sub"]}
    for index, (way, given) in enumerate(ways.items()):
        out = tmp_path / f"out{index}"
        result = _cli(*given, "-o", out, *model)
        assert result.exit_code == 0, (way, result.output)
        assert _names(out) == ["a.png", "sub/c.png"], way
    assert _names(shots) == ["a.png", "sub/c.png"]  # nothing written into the input tree

    beside = _cli(shots, *model)  # no -o: a marked folder beside the input, mirroring it
    assert beside.exit_code == 0, beside.output
    assert _names(tmp_path / "shots_deblurred") == ["a.png", "sub/c.png"]

    two_folders = _cli(shots, shots / "sub", "-o", tmp_path / "twice", *model)  # nested sources: never twice
    _one_line_error(two_folders, "an earlier source of this run wrote this result")
    assert "sub/c.png" in two_folders.output


def test_suffix_beside_the_input_and_in_an_output_folder(tmp_path, make_image, identity_onnx):
    shots = _shots_with_a_subfolder(tmp_path, make_image)
    model = ("--model", identity_onnx, "--threads", "1", "--quiet")
    one = _cli(shots / "a.png", "--suffix", "_sharp", *model)
    assert one.exit_code == 0 and (shots / "a_sharp.png").is_file(), one.output
    again = _cli(*sorted(shots.glob("*.png")), "--suffix", "_sharp", "--overwrite", *model[:-1])
    assert again.exit_code == 0, again.output  # the shell's shots/*.png: a_sharp.png is skipped, not deblurred
    assert f"warning: skipping {shots / 'a_sharp.png'}: it is a deblur-run output" in again.output
    assert not (shots / "a_sharp_sharp.png").exists()

    result = _cli(shots, "-o", tmp_path / "out", "--suffix", "_sharp", *model)
    assert result.exit_code == 0, result.output
    assert _names(tmp_path / "out") == ["a_sharp.png", "sub/c_sharp.png"]  # a_sharp.png itself left out
    result = _cli(shots, "--suffix", ".v2", *model)  # another suffix: a_sharp.png is an input like any other
    assert result.exit_code == 0 and _names(tmp_path / "shots.v2") == ["a.png", "a_sharp.png", "sub/c.png"], result.output

    empty = _cli(shots / "a.png", "-o", tmp_path / "plain", "--suffix", "", *model)  # in a folder: allowed
    assert empty.exit_code == 0 and _names(tmp_path / "plain") == ["a.png"], empty.output
    for source in (shots / "a.png", shots):  # beside the input it would replace it: refused, even with --overwrite
        _one_line_error(_cli(source, "--suffix", "", "--overwrite", *model), "--suffix '' names the result like its input")
    _one_line_error(_cli(shots, "--suffix", "x/y", *model), "cannot hold a folder separator")


def test_skip_existing_with_the_names_in_an_output_folder(tmp_path, make_image, identity_onnx):
    shots = _shots_with_a_subfolder(tmp_path, make_image)
    model = ("--model", identity_onnx, "--threads", "1")
    out = tmp_path / "out"
    first = _cli(shots / "a.png", shots / "sub" / "c.png", "-o", out, *model)
    assert first.exit_code == 0 and _names(out) == ["a.png", "sub/c.png"], first.output
    (out / "sub" / "c.png").unlink()
    _one_line_error(_cli(shots / "a.png", shots / "sub" / "c.png", "-o", out, *model), "a.png: already exists")
    rerun = _cli(shots / "a.png", shots / "sub" / "c.png", "-o", out, "--skip-existing", *model)
    assert rerun.exit_code == 0 and "1 skipped (result exists)" in rerun.output, rerun.output
    assert "deblurred 1 frame in" in rerun.output and _names(out) == ["a.png", "sub/c.png"]


def test_an_output_folder_inside_the_input_folder_is_not_read_again(tmp_path, make_image, identity_onnx):
    shots = _shots_with_a_subfolder(tmp_path, make_image)
    model = ("--model", identity_onnx, "--threads", "1")
    for args in ((), ("--overwrite",)):  # the second run would read the first one's results if it listed them
        result = _cli(shots, "-o", shots / "sharp", *args, *model)
        assert result.exit_code == 0 and "deblurred 2 frames" in result.output, result.output
    assert _names(shots) == ["a.png", "sharp/a.png", "sharp/sub/c.png", "sub/c.png"]


def test_videos_and_globs_in_the_current_folder(tmp_path, make_image, make_video, identity_onnx, monkeypatch):
    model = ("--model", identity_onnx, "--threads", "1", "--quiet")
    (tmp_path / "clips").mkdir()
    (tmp_path / "out").mkdir()
    clip = make_video(tmp_path / "clips" / "clip.mov", frames=2)
    result = _cli(clip, "-o", tmp_path / "out", *model)  # an existing folder receives a video under its name
    assert result.exit_code == 0 and (tmp_path / "out" / "clip.mov").is_file(), result.output

    here = tmp_path / "here"
    here.mkdir()
    make_image(here / "a.png", 16, 16)
    monkeypatch.chdir(here)
    result = _cli("*.png", *model)  # the results go beside the current folder, not into it
    assert result.exit_code == 0, result.output
    assert _names(tmp_path / "here_deblurred") == ["a.png"] and _names(here) == ["a.png"]


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
