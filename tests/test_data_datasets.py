"""Data sets: synthetic pairs (determinism, splits, epochs), paper augmentations, GoPro/RealBlur/pair readers."""

from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from deblur.train.data import BlurSettings, build_dataset, paper_augment
from deblur.train.data.images import DataError
from deblur.train.data.photos import split_photos
from deblur.train.data.synthetic import shrink

FAST_BLUR = BlurSettings(length=(2, 6), subframes=(5, 9))


def write_image(path: Path, image: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    assert cv2.imwrite(str(path), image)
    return path


def random_photo(rng: np.random.Generator, height: int, width: int) -> np.ndarray:
    small = rng.integers(0, 256, (height // 8, width // 8, 3), dtype=np.uint8)
    return cv2.resize(small, (width, height), interpolation=cv2.INTER_LINEAR)


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    rng = np.random.default_rng(0)
    for number in range(12):
        write_image(tmp_path / "photos" / f"photo_{number:02d}.jpg", random_photo(rng, 96, 128))
    return tmp_path / "photos"


def stacked(dataset, indices=None) -> torch.Tensor:
    indices = range(len(dataset)) if indices is None else indices
    return torch.stack([torch.cat(dataset[i]) for i in indices])


def test_synthetic_items_are_rgb_tensors_in_range(photo_folder):
    dataset = build_dataset("synthetic", photo_folder, "train", crop=64, blur=FAST_BLUR)
    assert len(dataset) == 8 * len(dataset.photos)
    blurred, sharp = dataset[0]
    assert blurred.shape == sharp.shape == (3, 64, 64)
    assert blurred.dtype == sharp.dtype == torch.float32
    assert 0 <= float(blurred.min()) and float(blurred.max()) <= 1
    assert not torch.equal(blurred, sharp)


def test_synthetic_val_is_identical_across_builds_and_worker_counts(photo_folder):
    first = build_dataset("synthetic", photo_folder, "val", crop=48, seed=5, length=6, blur=FAST_BLUR)
    second = build_dataset("synthetic", photo_folder, "val", crop=48, seed=5, length=6, blur=FAST_BLUR)
    assert len(first) == 6
    reference = stacked(first)
    assert torch.equal(reference, stacked(second))
    assert torch.equal(reference[3], torch.cat(second[3]))  # any access order
    for workers in (0, 2):
        batches = list(DataLoader(second, batch_size=4, num_workers=workers))
        loaded = torch.cat([torch.cat(batch, dim=1) for batch in batches])
        assert torch.equal(loaded, reference)
    other_seed = build_dataset("synthetic", photo_folder, "val", crop=48, seed=6, length=6, blur=FAST_BLUR)
    assert not torch.equal(reference, stacked(other_seed))


def test_synthetic_train_items_depend_on_epoch_only(photo_folder):
    dataset = build_dataset("synthetic", photo_folder, "train", crop=48, seed=1, length=4, augment=True,
                            blur=FAST_BLUR)
    epoch0 = stacked(dataset)
    assert torch.equal(epoch0, stacked(dataset))
    dataset.set_epoch(1)
    epoch1 = stacked(dataset)
    assert not torch.equal(epoch0, epoch1)
    resumed = build_dataset("synthetic", photo_folder, "train", crop=48, seed=1, length=4, augment=True,
                            blur=FAST_BLUR)
    resumed.set_epoch(1)
    assert torch.equal(stacked(resumed), epoch1)


def test_set_epoch_reaches_persistent_workers(photo_folder):
    dataset = build_dataset("synthetic", photo_folder, "train", crop=32, length=2, blur=FAST_BLUR)
    loader = DataLoader(dataset, batch_size=2, num_workers=1, persistent_workers=True)
    seen = []
    for epoch in (0, 1):
        dataset.set_epoch(epoch)
        seen.append(torch.cat(next(iter(loader)), dim=1))
    for epoch, batch in enumerate(seen):
        dataset.set_epoch(epoch)
        assert torch.equal(batch, stacked(dataset))


def test_photo_split_is_stable_disjoint_and_never_empty(tmp_path):
    names = [tmp_path / f"img_{number}.png" for number in range(40)]
    train, val = split_photos(names)
    assert set(train).isdisjoint(val) and set(train) | set(val) == set(names)
    assert 1 <= len(val) <= 10
    train_more, val_more = split_photos(names + [tmp_path / "extra.png"])
    assert set(val) <= set(val_more) and set(train) <= set(train_more)
    two_train, two_val = split_photos(names[:2])
    assert len(two_train) == len(two_val) == 1
    assert split_photos(names[:1]) == (names[:1], names[:1])


def test_synthetic_full_images_without_crop(photo_folder):
    dataset = build_dataset("synthetic", photo_folder, "val", crop=None, length=2, blur=FAST_BLUR)
    blurred, sharp = dataset[1]
    assert blurred.shape == sharp.shape == (3, 96, 128)


def test_photos_are_downscaled_to_max_side(photo_folder):
    dataset = build_dataset("synthetic", photo_folder, "val", crop=None, length=1, blur=FAST_BLUR,
                            photo_max_side=64)
    assert dataset[0][0].shape == (3, 48, 64)


def test_photo_scale_shrinks_training_photos_only(photo_folder):
    def first_item_shape(split, photo_scale):
        dataset = build_dataset("synthetic", photo_folder, split, crop=None, length=1, blur=FAST_BLUR,
                                photo_scale=photo_scale)
        return tuple(dataset[0][0].shape)

    assert first_item_shape("train", None) == (3, 96, 128)
    assert first_item_shape("train", (0.5, 0.5)) == (3, 48, 64)
    assert first_item_shape("val", (0.5, 0.5)) == (3, 96, 128)  # evaluation data keeps the photos' scale
    scaled = build_dataset("synthetic", photo_folder, "train", crop=40, length=16, blur=FAST_BLUR,
                           photo_scale=(0.5, 1.0))
    assert all(tuple(scaled[index][0].shape) == (3, 40, 40) for index in range(len(scaled)))
    with pytest.raises(DataError, match="photo_scale"):
        build_dataset("synthetic", photo_folder, "train", crop=40, blur=FAST_BLUR, photo_scale=(0.0, 1.0))


def test_alternate_blur_takes_its_share_of_the_pairs(photo_folder):
    heavy = BlurSettings(length=(24, 24), subframes=(9, 9), shot_noise=(0, 0), read_noise=(0, 0), jpeg_probability=0,
                         moving_object_probability=0)
    light = BlurSettings(length=(1, 1), subframes=(3, 3), shot_noise=(0, 0), read_noise=(0, 0), jpeg_probability=0,
                         moving_object_probability=0)

    def item_blur(share):
        dataset = build_dataset("synthetic", photo_folder, "val", crop=48, length=24, blur=heavy,
                                alternate_blur=light, alternate_share=share)
        return [float((blurred - sharp).abs().mean()) for blurred, sharp in (dataset[i] for i in range(24))]

    threshold = 0.02
    assert all(error > threshold for error in item_blur(0.0))
    assert all(error < threshold for error in item_blur(1.0))
    mixed = item_blur(0.5)
    assert 6 <= sum(error < threshold for error in mixed) <= 18
    plain = build_dataset("synthetic", photo_folder, "val", crop=48, length=3, blur=heavy)
    unused = build_dataset("synthetic", photo_folder, "val", crop=48, length=3, blur=heavy, alternate_blur=light)
    assert torch.equal(stacked(plain), stacked(unused))  # share 0 draws nothing: old recipes make the same pairs
    with pytest.raises(DataError, match="alternate_share"):
        build_dataset("synthetic", photo_folder, "val", crop=48, blur=heavy, alternate_share=0.5)


def test_shrink_keeps_the_crop_size_reachable():
    photo = np.zeros((96, 128, 3), np.uint8)
    assert shrink(photo, 0.5, 32).shape == (48, 64, 3)
    assert shrink(photo, 0.1, 40).shape[0] == 40  # never below the crop
    assert shrink(photo, 1.0, 40) is photo


def test_paper_augment_transforms_both_images_alike():
    rng = np.random.default_rng(0)
    sharp = rng.random((8, 12, 3)).astype(np.float32)
    seen_shapes = set()
    for seed in range(16):
        blurred, target = paper_augment(sharp.copy(), sharp.copy(), np.random.default_rng(seed))
        seen_shapes.add(target.shape)
        assert 0.005 < float(np.std(blurred - target)) < 0.015  # noise variance 1e-4 on the input only
        dihedral = [np.rot90(flip, k) for flip in (sharp, sharp[:, ::-1]) for k in range(4)]
        assert any(view.shape == target.shape and np.array_equal(view, target) for view in dihedral)
    assert seen_shapes == {(8, 12, 3), (12, 8, 3)}


def test_input_noise_can_be_switched_off(photo_folder):
    sharp = np.random.default_rng(0).random((8, 12, 3)).astype(np.float32)
    blurred, target = paper_augment(sharp.copy(), sharp.copy(), np.random.default_rng(1), noise_variance=0.0)
    np.testing.assert_array_equal(blurred, target)
    # The data sets pass it on: the same item with and without input noise differs by the noise alone.
    noisy, quiet = (build_dataset("synthetic", photo_folder, "train", crop=48, seed=1, length=2, augment=True,
                                  blur=FAST_BLUR, noise_variance=variance)[0][0] for variance in (1e-4, 0.0))
    assert 0.005 < float((noisy - quiet).std()) < 0.015


def make_pair_tree(folder: Path, names: list[str], size=(40, 56), seed: int = 0) -> None:
    rng = np.random.default_rng(seed)
    for name in names:
        sharp = random_photo(rng, *size)
        write_image(folder / "sharp" / name, sharp)
        write_image(folder / "blur" / name, cv2.GaussianBlur(sharp, (5, 5), 2))


def test_gopro_reader(tmp_path):
    for scene in ("GOPR0001_11_00", "GOPR0002_11_01"):
        make_pair_tree(tmp_path / "train" / scene, ["000001.png", "000002.png"])
        make_pair_tree(tmp_path / "test" / scene, ["000001.png"])
    train = build_dataset("gopro", tmp_path, "train", crop=32, augment=True)
    assert len(train) == 4
    blurred, sharp = train[3]
    assert blurred.shape == sharp.shape == (3, 32, 32)
    test = build_dataset("gopro", tmp_path, "test", crop=None)
    assert len(test) == 2 and test[0][0].shape == (3, 40, 56)
    expected = cv2.imread(str(tmp_path / "test" / "GOPR0001_11_00" / "sharp" / "000001.png"))[..., ::-1]
    assert torch.allclose(test[0][1], torch.from_numpy(expected.transpose(2, 0, 1).copy()).float() / 255)
    val = build_dataset("gopro", tmp_path, "val", crop=32)
    assert len(val) == 2 and torch.equal(val[1][0], build_dataset("gopro", tmp_path, "test", crop=32)[1][0])


def test_train_crops_are_aligned_between_blurred_and_sharp(tmp_path):
    rng = np.random.default_rng(3)
    sharp = random_photo(rng, 64, 64)
    write_image(tmp_path / "sharp" / "a.png", sharp)
    write_image(tmp_path / "blur" / "a.png", sharp)  # identical pair: crops must match exactly
    dataset = build_dataset("pairs", tmp_path, "train", crop=24, length=8)
    for index in range(8):
        blurred, target = dataset[index]
        assert torch.equal(blurred, target)


def test_realblur_reader(tmp_path):
    make_pair_tree(tmp_path / "scene1", ["1.png", "2.png"])
    lines = [f"scene1/sharp/{name} scene1/blur/{name}" for name in ("1.png", "2.png")]
    (tmp_path / "RealBlur_J_test_list.txt").write_text("\n".join(lines) + "\n\n")
    (tmp_path / "RealBlur_R_test_list.txt").write_text(lines[0] + "\n")
    test_j = build_dataset("realblur", tmp_path, "test", crop=None)
    assert len(test_j) == 2
    blurred, sharp = test_j[0]
    assert blurred.shape == (3, 40, 56) and float((blurred - sharp).abs().mean()) > 0
    assert len(build_dataset("realblur", tmp_path, "test", crop=32, realblur_subset="R")) == 1


def test_pairs_reader_with_length_and_16_bit_images(tmp_path):
    rng = np.random.default_rng(1)
    for number in range(5):
        sharp = (random_photo(rng, 36, 36).astype(np.uint16) * 257)
        write_image(tmp_path / "sharp" / f"{number}.png", sharp)
        write_image(tmp_path / "blur" / f"{number}.png", sharp[..., 0])  # grayscale 16-bit input
    full = build_dataset("pairs", tmp_path, "test", crop=32)
    assert len(full) == 5
    subset = build_dataset("pairs", tmp_path, "test", crop=32, length=2)
    assert len(subset) == 2 and torch.equal(subset[1][1], full[2][1])
    blurred, sharp = full[0]
    assert torch.equal(blurred[0], blurred[1]) and sharp.dtype == torch.float32
