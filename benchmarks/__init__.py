"""The maintained benchmark tools: each prints a Markdown table that docs/ quotes and has a test in tests/.

Run them from the repository root as modules, e.g. ``python -m benchmarks.peak_rss --help``; they import each
other as ``benchmarks.NAME``. Not installed with deblur-edge. One-off experiments live in ``research/``.
"""
