"""deblur: the improved U-Net of Lian & Wang (2023) and an edge inference toolkit around it.

Subpackages: ``deblur.train`` (model, data, losses, checkpoints; needs torch),
``deblur.export`` (ONNX / TensorRT), ``deblur.calibration`` (INT8 calibration data),
``deblur.runtime`` (torch-free inference CLI).
"""

__version__ = "0.1.0"
DISTRIBUTION = "deblur-edge"  # the name on the package index; "deblur" there is another project
