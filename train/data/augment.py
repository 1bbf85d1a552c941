"""Crops and the paper's training augmentations on numpy HxWxC images (torch-free).

Paper ("Dataset and training details"): random 256x256 crops, horizontal and vertical flips, rotations by
90/180/270 degrees (the same transform on the blurred input and its sharp target), and Gaussian noise with
mean 0 and variance 1e-4 added to the blurred input only.
"""

import cv2
import numpy as np

from .images import to_float

NOISE_VARIANCE = 1e-4

Box = tuple[int, int, int, int]  # top, left, height, width


def random_box(rng: np.random.Generator, height: int, width: int, size: int) -> Box:
    """Uniformly placed ``size`` x ``size`` box inside an image of ``height`` x ``width``."""
    top = int(rng.integers(0, height - size + 1))
    left = int(rng.integers(0, width - size + 1))
    return top, left, size, size


def gradient_magnitude(image: np.ndarray) -> np.ndarray:
    """Sobel gradient magnitude of the grey image (float RGB in [0, 1])."""
    grey = cv2.cvtColor(image, cv2.COLOR_RGB2GRAY)
    return cv2.magnitude(cv2.Sobel(grey, cv2.CV_32F, 1, 0), cv2.Sobel(grey, cv2.CV_32F, 0, 1))


def texture(image: np.ndarray) -> float:
    """Mean Sobel gradient magnitude of the grey image (float RGB in [0, 1]): ~0.01 for sky, ~0.3 for foliage."""
    return float(np.mean(gradient_magnitude(image)))


def textured_box(rng: np.random.Generator, image: np.ndarray, size: int, min_texture: float, tries: int = 8) -> Box:
    """A random box whose content has at least ``min_texture`` (see :func:`texture`).

    Flat crops (sky, fog, defocused backgrounds) carry no blur to learn from. Up to ``tries`` boxes are
    drawn from ``rng``; the first textured enough wins, else the most textured of them.
    """
    height, width = image.shape[:2]
    if min_texture <= 0:
        return random_box(rng, height, width, size)
    best, best_texture = None, -1.0
    for _ in range(tries):
        box = random_box(rng, height, width, size)
        value = texture(to_float(cut(image, box)))
        if value >= min_texture:
            return box
        if value > best_texture:
            best, best_texture = box, value
    return best


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


def paper_augment(blurred: np.ndarray, sharp: np.ndarray, rng: np.random.Generator,
                  noise_variance: float = NOISE_VARIANCE) -> tuple[np.ndarray, np.ndarray]:
    """Same flip/rotation on both images, then Gaussian noise on the blurred input only (none if variance 0)."""
    blurred, sharp = flip_rotate((blurred, sharp), rng)
    return (add_gaussian_noise(blurred, rng, noise_variance) if noise_variance else blurred), sharp
