"""Torch-free runtime: deblur videos, images and streams with ONNX Runtime or TensorRT.

May import numpy, OpenCV, PyAV, one inference backend and the contract and helpers in ``deblur/``; never
torch, the network, training or export code (tests/test_import_rules.py).
"""
