"""Old path of :mod:`deblur.model.checkpoint`, kept for one release: import from ``deblur.model.checkpoint``."""

from deblur.model.checkpoint import (  # noqa: F401
    CHECKPOINT_FORMAT,
    CheckpointError,
    load_checkpoint,
    load_training_state,
    read_checkpoint_config,
    read_checkpoint_metadata,
    save_checkpoint,
    save_training_state,
)
