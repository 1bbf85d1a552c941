"""The run's metrics: one JSON object per line in ``metrics.jsonl`` and a PNG plot of loss and PSNR.

Records carry a ``kind``: ``train`` (loss parts, lr, it/s), ``val`` (PSNR/SSIM of the output on
the validation set), ``baseline`` (PSNR/SSIM of the blurred input on the same set, written once).
"""

import json
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from deblur.atomic import atomic_write


class MetricsLog:
    """Append-only JSONL file; ``rewind(step)`` drops records after a resumed checkpoint's step."""

    def __init__(self, path: Path):
        self.path = Path(path)

    def append(self, record: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a") as handle:
            handle.write(json.dumps(record, sort_keys=True) + "\n")
            handle.flush()

    def read(self) -> list[dict]:
        """All complete records; a last line without its newline (cut short by a kill) is dropped."""
        if not self.path.exists():
            return []
        lines = self.path.read_text().split("\n")[:-1]  # the piece after the last newline is "" or cut short
        return [json.loads(line) for line in lines if line]

    def rewind(self, step: int) -> None:
        """Keep only records up to ``step`` (the steps after it will be trained again)."""
        kept = [r for r in self.read() if r.get("step", 0) <= step]
        text = "".join(json.dumps(r, sort_keys=True) + "\n" for r in kept)
        atomic_write(self.path, lambda tmp: tmp.write_text(text))


def plot_metrics(records: list[dict], path: Path) -> None:
    """Training loss (log scale) and validation PSNR vs step; the blurred input's PSNR as a dashed line."""
    train = [r for r in records if r.get("kind") == "train"]
    val = [r for r in records if r.get("kind") == "val"]
    baseline = [r for r in records if r.get("kind") == "baseline"]

    fig = Figure(figsize=(11, 4))  # drawn by its own Agg canvas: no pyplot, no process-wide backend choice
    FigureCanvasAgg(fig)
    ax_loss, ax_psnr = fig.subplots(1, 2)
    if train:
        steps = [r["step"] for r in train]
        ax_loss.plot(steps, [r["loss"] for r in train], label="total")
        for part in ("mse", "l1", "frlf", "ssim"):
            if part in train[0]:
                label = part if part in ("mse", "l1") else f"{part} (before its weight)"
                ax_loss.plot(steps, [r[part] for r in train], label=label, alpha=0.7)
        ax_loss.set_yscale("log")
        ax_loss.legend()
    ax_loss.set_xlabel("step")
    ax_loss.set_title("training loss")

    if val:
        ax_psnr.plot([r["step"] for r in val], [r["psnr"] for r in val], marker="o", label="output")
    if baseline:
        ax_psnr.axhline(baseline[-1]["psnr"], linestyle="--", color="gray", label="blurred input")
    if val or baseline:
        ax_psnr.legend()
    ax_psnr.set_xlabel("step")
    ax_psnr.set_ylabel("PSNR (dB)")
    ax_psnr.set_title("validation PSNR")
    fig.tight_layout()
    atomic_write(Path(path), lambda tmp: fig.savefig(tmp, format="png", dpi=100))
