"""Torch-free runtime: deblur videos, images and streams with ONNX Runtime or TensorRT."""
