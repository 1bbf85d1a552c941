"""Training side of deblur: the network, its checkpoints, data, losses and the training loop (needs torch)."""
