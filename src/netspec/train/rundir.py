"""The run directory: everything one training run leaves behind, written by rank 0 only.

    spec.yaml     the spec exactly as compiled (what ``--resume`` rebuilds the network from)
    run.json      resolved recipe, parameters, image size, device, versions, command line
    last.pt       checkpoint after the latest epoch (the final one once the run is done)
    best.pt       checkpoint of the epoch with the best test accuracy so far
    best.safetensors  that epoch's weights alone, with the class names (safetensors)
    metrics.csv   one row per epoch: epoch, loss, train_acc, test_acc, time_sec
    curves.png    loss and accuracies against epoch

Each file is rewritten whole and atomically after every epoch, so an interrupted run
leaves a consistent directory that ``netspec train --resume DIR`` continues.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import stat
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, StrictInt, ValidationError

from netspec.atomic import atomic_write_text, safe_file_name
from netspec.errors import WriteError
from netspec.files import kind_of, read_bounded, reason
from netspec.recipe import DATA_FORMATS, TrainRecipe
from netspec.train.errors import TrainUsageError
from netspec.train.loop import EpochMetrics
from netspec.validation import first_problem

SPEC_FILE = "spec.yaml"
RUN_FILE = "run.json"
LAST_CHECKPOINT = "last.pt"
BEST_CHECKPOINT = "best.pt"
BEST_WEIGHTS = "best.safetensors"
METRICS_FILE = "metrics.csv"
CURVES_FILE = "curves.png"
METRICS_COLUMNS = ("epoch", "loss", "train_acc", "test_acc", "time_sec")
DEFAULT_RUNS_ROOT = Path("runs")


#: The files a run directory holds, which ``--force`` replaces.
RUN_FILES = (
    SPEC_FILE,
    RUN_FILE,
    LAST_CHECKPOINT,
    BEST_CHECKPOINT,
    BEST_WEIGHTS,
    METRICS_FILE,
    CURVES_FILE,
)
#: What ``run.json`` says it is (runs written before this marker are recognised by their
#: recipe and spec.yaml).
RUN_FORMAT = "netspec.run"
#: Largest ``run.json`` read (it holds a recipe, params and a few strings).
MAX_RUN_FILE_BYTES = 1 << 20


class RunDirError(TrainUsageError):
    """A run directory is missing, incomplete, or would be overwritten."""

    default_code = "NS920"


def new_run_dir(spec_name: str, out: str | os.PathLike[str] | None, *, force: bool = False) -> Path:
    """``--out`` as given, else ``runs/<spec name>-<timestamp>`` (made unique).

    A run directory is owned: an existing ``--out`` is used only when it is empty, or a
    run stopped before its first checkpoint (nothing worth keeping). Another run's
    checkpoints, or a folder that is not a run at all, are refused — silently mixing two
    runs, or overwriting someone's ``spec.yaml``, would lose work — unless ``force``,
    which replaces the run's files (and only those) in it.
    """
    if out is not None:
        run_dir = Path(out)
        _claim(run_dir, force)
    else:
        stamp = time.strftime("%Y%m%d-%H%M%S")
        safe_name = safe_file_name(spec_name, fallback="run")
        run_dir = DEFAULT_RUNS_ROOT / f"{safe_name}-{stamp}"
        suffix = 2
        while run_dir.exists():
            run_dir = DEFAULT_RUNS_ROOT / f"{safe_name}-{stamp}-{suffix}"
            suffix += 1
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise WriteError(f"cannot create run directory {run_dir}: {reason(exc)}") from None
    return run_dir


def _claim(run_dir: Path, force: bool) -> None:
    """Refuse ``--out run_dir`` unless it is free for a new run (or ``force``)."""
    try:
        mode = run_dir.stat().st_mode
    except FileNotFoundError:
        return
    except OSError as exc:
        raise RunDirError(f"--out {run_dir}: {reason(exc)}") from None
    if not stat.S_ISDIR(mode):
        raise RunDirError(
            f"--out {run_dir} is {kind_of(mode)}, not a directory; choose another --out"
        )
    if force:
        for name in RUN_FILES:  # the previous run's files: none of them may mix with the new
            if (run_dir / name).is_file():
                (run_dir / name).unlink()
        return
    if (run_dir / LAST_CHECKPOINT).exists():
        raise RunDirError(
            f"{run_dir} already holds a training run; continue it with "
            f"--resume {run_dir}, choose another --out, or start it over with --force"
        )
    if any(run_dir.iterdir()) and not is_run_dir(run_dir):
        raise RunDirError(
            f"--out {run_dir} is a folder that is not a netspec run; choose a new --out, or "
            f"--force to write the run's files ({', '.join(RUN_FILES)}) into it"
        )


def is_run_dir(run_dir: Path) -> bool:
    """Whether ``run_dir`` was made by ``netspec train`` (its run.json says so)."""
    return _run_record(run_dir) is not None


def _run_record(run_dir: Path) -> dict[str, Any] | None:
    """``run_dir``'s run.json when it is one ``netspec train`` wrote, else None."""
    try:
        info = json.loads(
            read_bounded(run_dir / RUN_FILE, RUN_FILE, RunDirError, MAX_RUN_FILE_BYTES)
        )
    except (RunDirError, ValueError):
        return None
    if not isinstance(info, dict):
        return None
    legacy = isinstance(info.get("recipe"), dict) and (run_dir / SPEC_FILE).is_file()
    return info if info.get("format") == RUN_FORMAT or legacy else None


def recorded_data(run_dir: Path) -> tuple[str, str] | None:
    """The data folder and its format a run trained on (``run.json``'s ``data``), or None
    when ``run_dir`` is no run or trained on the default data: ``netspec eval`` of the
    run's checkpoint evaluates the test split of what it trained on, not of Fashion-MNIST.
    """
    info = _run_record(run_dir)
    data = info.get("data") if info is not None else None
    if not isinstance(data, dict) or not isinstance(data.get("root"), str) or not data["root"]:
        return None
    recorded_format = data.get("format")
    return data["root"], recorded_format if recorded_format in DATA_FORMATS else "auto"


def spec_digest(text: str) -> str:
    """The SHA-256 of a spec's text: how run.json records which spec a run trains."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def write_run_info(run_dir: Path, spec_text: str, info: Mapping[str, Any]) -> None:
    """spec.yaml and run.json; run.json records the spec's digest and what the folder is."""
    record = {"format": RUN_FORMAT, **info, "spec_sha256": spec_digest(spec_text)}
    atomic_write_text(run_dir / SPEC_FILE, spec_text)
    atomic_write_text(run_dir / RUN_FILE, json.dumps(record, indent=2, sort_keys=False) + "\n")


class RunInfoContents(BaseModel):
    """What ``--resume`` uses from run.json, checked before use; other fields pass."""

    model_config = ConfigDict(extra="allow")

    format: Literal["netspec.run"] | None = None
    recipe: TrainRecipe
    params: dict[str, StrictInt | float] | None = None
    spec_sha256: str | None = None


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

    def require_spec(self, spec_text: str, shown: str | None) -> None:
        """Refuse to resume this run with a network from another spec than its own."""
        recorded = self.spec_path.read_text(encoding="utf-8")
        if spec_text != recorded:
            given = shown or "the spec given"
            raise RunDirError(
                f"--resume {self.run_dir}: {given} is not the spec this run was made from "
                f"({self.spec_path} differs); resume without SPEC to continue the recorded "
                f"one, or train {given} with a new --out",
                code="NS922",
            )


def read_run_info(run_dir: str | os.PathLike[str]) -> RunInfo:
    """A run directory's spec and run.json, both checked: ``--resume`` trusts nothing else."""
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
    path = run_dir / RUN_FILE
    try:
        info = json.loads(read_bounded(path, "run file", RunDirError, MAX_RUN_FILE_BYTES))
    except (UnicodeDecodeError, ValueError) as exc:
        raise RunDirError(f"{path}: unreadable ({exc})", code="NS921") from None
    if not isinstance(info, dict) or not isinstance(info.get("recipe"), dict):
        raise RunDirError(f"{path}: has no recipe", code="NS921")
    try:
        checked = RunInfoContents.model_validate(info)
    except ValidationError as exc:
        raise RunDirError(f"{path}: invalid: {first_problem(exc)}", code="NS921") from None
    spec_path = run_dir / SPEC_FILE
    spec_text = read_bounded(spec_path, "spec file", RunDirError, MAX_RUN_FILE_BYTES)
    if checked.spec_sha256 and checked.spec_sha256 != hashlib.sha256(spec_text).hexdigest():
        raise RunDirError(
            f"--resume {run_dir}: {spec_path} was changed after the run started (its digest "
            f"differs from the one in {RUN_FILE}); restore it, or start a new run",
            code="NS922",
        )
    return RunInfo(run_dir=run_dir, spec_path=spec_path, info=info)


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
