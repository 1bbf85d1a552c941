"""The ``deblur-demo`` app (``cli``): a sample blurry clip with known sharp frames, and its score.

Owns the demo only; kept out of the shared helpers in ``deblur/``. May import the runtime-side helpers
(``deblur.atomic``, ``deblur.clip_writer``, ``deblur.metrics``) and, for its synthetic camera shake, the
torch-free ``deblur.train.data``; never torch.
"""
