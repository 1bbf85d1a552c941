"""Old path of the backend interface and ``open_backend``, kept one release: use ``deblur.runtime.backends``."""

from .backends.base import Backend
from .backends.registry import BACKENDS, DEVICES, open_backend

__all__ = ["BACKENDS", "DEVICES", "Backend", "open_backend"]
