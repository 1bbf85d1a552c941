"""INT8 calibration: representative frames from videos, image folders and globs.

Torch-free: may import numpy, OpenCV and the contract and helpers in ``deblur/``; never the network or training.
"""
