"""INT8 calibration: representative frames from videos, image folders and globs."""
