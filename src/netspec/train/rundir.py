"""The run directory: everything one training run leaves behind, written by rank 0 only.

    spec.yaml     the spec exactly as compiled (what ``--resume`` rebuilds the network from)
    run.json      resolved recipe, parameters, image size, device, versions, command line
    last.pt       checkpoint after the latest epoch (the final one once the run is done)
    best.pt       checkpoint of the epoch with the best test accuracy so far
    metrics.csv   one row per epoch: epoch, loss, train_acc, test_acc, time_sec
    curves.png    loss and accuracies against epoch

Each file is rewritten whole and atomically after every epoch, so an interrupted run
leaves a consistent directory that ``netspec train --resume DIR`` continues.
"""

from __future__ import annotations

import csv
import io
import json
import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from netspec.atomic import atomic_write_text
from netspec.train.errors import TrainUsageError
from netspec.train.loop import EpochMetrics

SPEC_FILE = "spec.yaml"
RUN_FILE = "run.json"
LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "best.pt"
METRICS_FILE = "metrics.csv"
CURVES_FILE = "curves.png"
METRICS_COLUMNS = ("epoch", "loss", "train_acc", "test_acc", "time_sec")
DEFAULT_RUNS_ROOT = Path("runs")


class RunDirError(TrainUsageError):
    """A run directory is missing, incomplete, or would be overwritten."""

    default_code = "NS920"


def new_run_dir(spec_name: str, out: str | os.PathLike[str] | None) -> Path:
    """``--out`` as given, else ``runs/<spec name>-<timestamp>`` (made unique).

    An existing directory is accepted only when it holds no checkpoint yet: silently
    mixing two runs' checkpoints and metrics would make both meaningless, while a run
    stopped before its first epoch ended left nothing worth keeping.
    """
    if out is not None:
        run_dir = Path(out)
        if (run_dir / LAST_CHECKPOINT).exists():
            raise RunDirError(
                f"{run_dir} already holds a training run; continue it with "
                f"--resume {run_dir} or choose another --out"
            )
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in spec_name) or "run"
        run_dir = DEFAULT_RUNS_ROOT / f"{safe_name}-{stamp}"
        suffix = 2
        while run_dir.exists():
            run_dir = DEFAULT_RUNS_ROOT / f"{safe_name}-{stamp}-{suffix}"
            suffix += 1
    run_dir.mkdir(parents=True, exist_ok=True)
    return run_dir


def write_run_info(run_dir: Path, spec_text: str, info: Mapping[str, Any]) -> None:
    atomic_write_text(run_dir / SPEC_FILE, spec_text)
    atomic_write_text(run_dir / RUN_FILE, json.dumps(info, indent=2, sort_keys=False) + "\n")


@dataclass(frozen=True)
class RunInfo:
    """What ``--resume`` needs from a run directory."""

    run_dir: Path
    spec_path: Path
    info: dict[str, Any]

    @property
    def recipe(self) -> dict[str, Any]:
        return dict(self.info["recipe"])

    @property
    def params(self) -> dict[str, Any] | None:
        return self.info.get("params") or None


def read_run_info(run_dir: str | os.PathLike[str]) -> RunInfo:
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise RunDirError(f"--resume {run_dir}: no such run directory")
    missing = [
        name for name in (SPEC_FILE, RUN_FILE, LAST_CHECKPOINT) if not (run_dir / name).is_file()
    ]
    if missing:
        raise RunDirError(
            f"--resume {run_dir}: not a resumable run directory (missing {', '.join(missing)}; "
            f"a run can be resumed once it has finished its first epoch)"
        )
    try:
        info = json.loads((run_dir / RUN_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise RunDirError(f"{run_dir / RUN_FILE}: unreadable ({exc})") from None
    if not isinstance(info, dict) or not isinstance(info.get("recipe"), dict):
        raise RunDirError(f"{run_dir / RUN_FILE}: has no recipe")
    return RunInfo(run_dir=run_dir, spec_path=run_dir / SPEC_FILE, info=info)


def write_metrics_csv(path: str | os.PathLike[str], history: Sequence[EpochMetrics]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(METRICS_COLUMNS)
    for row in history:
        writer.writerow(
            [
                row.epoch,
                f"{row.loss:.6f}",
                f"{row.train_acc:.6f}",
                f"{row.test_acc:.6f}",
                f"{row.time_sec:.3f}",
            ]
        )
    atomic_write_text(path, buffer.getvalue())
