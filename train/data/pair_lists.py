"""Lists of (blurred, sharp) image file pairs for the supported layouts (torch-free).

- pairs:    ``<root>/blur/*`` and ``<root>/sharp/*`` with identical file names.
- GoPro:    ``<root>/<train|test>/<scene>/blur|sharp/*.png`` (``blur_gamma`` folders are ignored).
- RealBlur: ``<root>/RealBlur_<J|R>_<train|test>_list.txt``, lines ``gt_path blur_path`` relative to root.
"""

from pathlib import Path
from typing import NamedTuple

from .images import DataError, list_images


class ImagePair(NamedTuple):
    blurred: Path
    sharp: Path


def matched_folder_pairs(blur_dir: Path, sharp_dir: Path) -> list[ImagePair]:
    """Pairs of identically named images in ``blur_dir`` and ``sharp_dir``; any unmatched name is an error."""
    blurred = {path.name: path for path in list_images(blur_dir)}
    sharp = {path.name: path for path in list_images(sharp_dir)}
    for names, have, lack in ((blurred.keys() - sharp.keys(), blur_dir, sharp_dir),
                              (sharp.keys() - blurred.keys(), sharp_dir, blur_dir)):
        if names:
            listed = ", ".join(sorted(names)[:5]) + (" ..." if len(names) > 5 else "")
            raise DataError(f"{len(names)} image(s) in {have} have no counterpart in {lack}: {listed}")
    return [ImagePair(blurred[name], sharp[name]) for name in sorted(blurred)]


def folder_pairs(root: Path | str) -> list[ImagePair]:
    """Pairs from ``<root>/blur`` and ``<root>/sharp``."""
    root = Path(root)
    for sub in ("blur", "sharp"):
        if not (root / sub).is_dir():
            raise DataError(f"{root}: missing folder {sub}/ (expected {root}/blur and {root}/sharp)")
    return matched_folder_pairs(root / "blur", root / "sharp")


def gopro_pairs(root: Path | str, split: str) -> list[ImagePair]:
    """All pairs of a GoPro split ("train" or "test"), scene by scene in name order."""
    split_dir = Path(root) / split
    if not split_dir.is_dir():
        raise DataError(f"{split_dir}: GoPro split folder not found (expected <root>/{split}/<scene>/blur|sharp)")
    scenes = sorted(path for path in split_dir.iterdir() if path.is_dir())
    if not scenes:
        raise DataError(f"{split_dir}: no scene folders")
    pairs = []
    for scene in scenes:
        for sub in ("blur", "sharp"):
            if not (scene / sub).is_dir():
                raise DataError(f"{scene}: GoPro scene without a {sub}/ folder")
        pairs += matched_folder_pairs(scene / "blur", scene / "sharp")
    return pairs


def realblur_list_file(root: Path | str, split: str, subset: str) -> Path:
    return Path(root) / f"RealBlur_{subset}_{split}_list.txt"


def realblur_pairs(root: Path | str, split: str, subset: str = "J") -> list[ImagePair]:
    """Pairs listed in ``RealBlur_<subset>_<split>_list.txt`` (first path sharp, second blurred)."""
    if subset not in ("J", "R"):
        raise DataError(f"unknown RealBlur subset {subset!r}; expected 'J' or 'R'")
    root = Path(root)
    list_file = realblur_list_file(root, split, subset)
    if not list_file.is_file():
        raise DataError(f"{list_file}: RealBlur list file not found")
    pairs = []
    for number, line in enumerate(list_file.read_text().splitlines(), start=1):
        fields = line.split()
        if not fields:
            continue
        if len(fields) < 2:
            raise DataError(f"{list_file}:{number}: expected 'gt_path blur_path', got {line.strip()!r}")
        pair = ImagePair(blurred=root / fields[1], sharp=root / fields[0])
        for path in (pair.sharp, pair.blurred):
            if not path.is_file():
                raise DataError(f"{list_file}:{number}: file not found: {path}")
        pairs.append(pair)
    if not pairs:
        raise DataError(f"{list_file}: lists no image pairs")
    return pairs
