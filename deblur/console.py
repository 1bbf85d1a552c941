"""Console scripts: each imports its typer app only when run, so that a missing extra reads as one line.

Installing deblur-edge without an extra installs every command. Run without the packages of its extra, a
command prints ``error: deblur-run needs the [runtime] extra: pip install -e ".[runtime]"`` and exits 2 instead
of ending in a traceback; the pip command is the one that works for this copy (from its checkout, its wheel:
``deblur.install``). ``--version`` (``-V``) works on every command, extra or not,
``-h`` is ``--help``, and help is plain text (switches read as flags, not ``<bool>`` options). Ctrl-C while
the command's packages load is one line and exit status 130, as it is once the command runs.
"""

import importlib
import sys
from dataclasses import dataclass

from deblur import DISTRIBUTION, __version__
from deblur.install import install_command

MISSING_EXTRA_EXIT = 2
INTERRUPTED_EXIT = 130  # 128 + SIGINT, as shells report a command stopped by Ctrl-C
HELP_OPTIONS = ["-h", "--help"]


@dataclass(frozen=True)
class Command:
    """One console script: its name, the module holding its typer ``app`` and the extra it needs."""

    name: str
    module: str
    extra: str

    def __call__(self, argv: list[str] | None = None) -> int:
        args = sys.argv[1:] if argv is None else list(argv)
        if "--version" in args or "-V" in args:
            print(f"{DISTRIBUTION} {__version__}")
            return 0
        try:
            app = importlib.import_module(self.module).app
            app.rich_markup_mode = None  # plain help: switches shown as flags, examples kept as written
            return app(args, prog_name=self.name, help_option_names=HELP_OPTIONS)
        except ImportError as exc:
            if _is_own_module(exc.name):
                raise
            print(self._import_error_line(exc), file=sys.stderr)
            return MISSING_EXTRA_EXIT
        except KeyboardInterrupt:  # Ctrl-C while the command's packages load, before it handles signals itself
            print(f"error: {self.name} interrupted while starting; nothing done", file=sys.stderr)
            return INTERRUPTED_EXIT

    def _import_error_line(self, exc: ImportError) -> str:
        if isinstance(exc, ModuleNotFoundError):
            return f"error: {self.name} needs the [{self.extra}] extra: {install_command(self.extra)}"
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        return f"error: {self.name} cannot load a dependency of the [{self.extra}] extra: {reason}"


def _is_own_module(name: str | None) -> bool:
    """True for this package's modules: failing to import one of them is a bug, not a missing extra."""
    return name is not None and (name == "deblur" or name.startswith("deblur."))


deblur_run = Command("deblur-run", "deblur.runtime.cli", "runtime")
deblur_bench = Command("deblur-bench", "deblur.runtime.bench_cli", "runtime")
deblur_demo = Command("deblur-demo", "deblur.demo.cli", "demo")
deblur_export = Command("deblur-export", "deblur.export.cli", "export")
deblur_calibrate = Command("deblur-calibrate", "deblur.calibration.cli", "export")
deblur_train = Command("deblur-train", "deblur.train.cli", "train")
deblur_eval = Command("deblur-eval", "deblur.train.eval_cli", "train")
deblur_info = Command("deblur-info", "deblur.train.info_cli", "train")
deblur_photos = Command("deblur-photos", "deblur.train.photos_cli", "train")
deblur_pack_photos = Command("deblur-pack-photos", "deblur.train.pack_photos_cli", "train")
deblur_synth_pool = Command("deblur-synth-pool", "deblur.train.pool_cli", "train")
