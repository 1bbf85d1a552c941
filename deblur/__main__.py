"""``python -m deblur``: the same as ``deblur-run`` (every option and exit status)."""

from deblur.console import deblur_run

raise SystemExit(deblur_run())
