"""Training side of deblur: data (``data/``), losses, the training loop, evaluation and baselines, and their
commands (deblur-train, deblur-eval, deblur-info, deblur-photos, deblur-pack-photos, deblur-synth-pool).

Needs torch. May import the network (``deblur.model``) and the shared helpers in ``deblur/``; never export or
the runtime. Nothing but its own commands, the demo (``deblur.train.data``), benchmarks and tests imports it.
The network itself lives in ``deblur.model``.
"""
