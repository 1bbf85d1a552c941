"""An optional live preview window (needs a display and an OpenCV build with GUI support)."""

import logging
import os
import sys

import cv2
import numpy as np

log = logging.getLogger(__name__)

QUIT_KEYS = (ord("q"), 27)  # q or Esc


def display_available() -> bool:
    """Whether a window could appear: on Linux a DISPLAY or WAYLAND_DISPLAY must be set."""
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


class Preview:
    """Shows frames in a window; ``show`` returns False once the user pressed q or Esc."""

    def __init__(self, title: str = "deblur"):
        self.title = title
        self.enabled = display_available()
        if not self.enabled:
            log.warning("no display found: --preview disabled")
            return
        try:
            cv2.namedWindow(title, cv2.WINDOW_NORMAL)
        except cv2.error:
            log.warning("this OpenCV build has no GUI support (opencv-python-headless): --preview disabled")
            self.enabled = False

    def show(self, image: np.ndarray) -> bool:
        if not self.enabled:
            return True
        cv2.imshow(self.title, image)
        return (cv2.waitKey(1) & 0xFF) not in QUIT_KEYS

    def close(self) -> None:
        if self.enabled:
            cv2.destroyWindow(self.title)
