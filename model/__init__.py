"""The network and what export and training share: its config, Haar transforms, blocks, MLFF, DMRFAB, the U-Net,
complexity counts, checkpoint I/O and growing/widening a trained network.

Owns: ``config`` (torch-free), ``haar``, ``blocks``, ``mlff``, ``dmrfab``, ``unet``, ``complexity``,
``checkpoint``, ``growth``, ``widening``. May import torch, safetensors and the torch-free contract
(``deblur.contract``, ``deblur.atomic``); never ``deblur.train``, ``deblur.export`` or ``deblur.runtime``.
"""
