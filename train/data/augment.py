"""Crops and the paper's training augmentations on numpy HxWxC images (torch-free).

Paper ("Dataset and training details"): random 256x256 crops, horizontal and vertical flips, rotations by
90/180/270 degrees (the same transform on the blurred input and its sharp target), and Gaussian noise with
mean 0 and variance 1e-4 added to the blurred input only.
"""

import numpy as np

NOISE_VARIANCE = 1e-4

Box = tuple[int, int, int, int]  # top, left, height, width


def random_box(rng: np.random.Generator, height: int, width: int, size: int) -> Box:
    """Uniformly placed ``size`` x ``size`` box inside an image of ``height`` x ``width``."""
    top = int(rng.integers(0, height - size + 1))
    left = int(rng.integers(0, width - size + 1))
    return top, left, size, size


def center_box(height: int, width: int, size: int) -> Box:
    """The centred ``size`` x ``size`` box."""
    return (height - size) // 2, (width - size) // 2, size, size


def cut(image: np.ndarray, box: Box) -> np.ndarray:
    top, left, height, width = box
    return image[top:top + height, left:left + width]


def flip_rotate(images: tuple[np.ndarray, ...], rng: np.random.Generator) -> tuple[np.ndarray, ...]:
    """Apply one random horizontal/vertical flip and 0/90/180/270 degree rotation to all ``images`` alike."""
    turns = int(rng.integers(0, 4))
    flip_h, flip_v = rng.random() < 0.5, rng.random() < 0.5
    out = []
    for image in images:
        image = np.rot90(image, turns)
        if flip_h:
            image = image[:, ::-1]
        if flip_v:
            image = image[::-1]
        out.append(image)
    return tuple(out)


def add_gaussian_noise(image: np.ndarray, rng: np.random.Generator,
                       variance: float = NOISE_VARIANCE) -> np.ndarray:
    """``image`` plus zero-mean Gaussian noise of ``variance``, clipped back to [0, 1] (float32)."""
    noise = rng.standard_normal(image.shape, dtype=np.float32) * np.float32(np.sqrt(variance))
    return np.clip(image + noise, 0.0, 1.0)


def paper_augment(blurred: np.ndarray, sharp: np.ndarray,
                  rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Same flip/rotation on both images, then Gaussian noise on the blurred input only."""
    blurred, sharp = flip_rotate((blurred, sharp), rng)
    return add_gaussian_noise(blurred, rng), sharp
