"""Open a netspec artifact of any format: what it is, what it says about itself, and a runner.

Recognising an artifact never runs it: each format of :data:`netspec.formats.FORMATS`
looks at the file's structure (TorchScript and ``.pt2`` are zip archives with different
layouts, ONNX is a protobuf), and the netspec metadata must be present before anything is
loaded — a file netspec did not write is refused with one line, not deserialised.
``netspec predict`` and the export verification both load artifacts through
:func:`load_artifact`, so what was verified at export time is exactly what runs at
prediction time.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .errors import ArtifactError
from .formats import FORMATS, join_or
from .formats.base import ArtifactFile, Format, OpenOptions, Recognised, Runner
from .formats.metadata import check_metadata
from .runtime import quiet_torch_logs, resolve_device


@dataclass
class Artifact:
    """An opened artifact; ``run`` maps an input batch to outputs on ``device``.

    ``run`` is None only when the format's runtime is missing and the caller allowed that
    (ONNX without onnxruntime during export: the model is then checked structurally).
    """

    path: Path
    format: str
    meta: dict[str, Any]
    spec_text: str
    device: torch.device
    run: Runner | None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.meta.get("input_shape") or ())

    @property
    def classes(self) -> list[str] | None:
        return self.meta.get("classes")


def inspect_artifact(path: str | Path) -> tuple[str, dict[str, Any], str]:
    """(format, metadata, spec text) of an artifact, read without loading its program.

    The metadata is checked against :class:`netspec.formats.metadata.ArtifactMeta` here,
    once, before any field of it is used.
    """
    name, meta, spec_text, _ = _recognise(ArtifactFile(Path(path)))
    return name, meta, spec_text


def _recognise(file: ArtifactFile) -> tuple[str, dict[str, Any], str, ArtifactFile]:
    """Ask each format of the table whether ``file`` is its own; check what it says."""
    unreadable: list[Format] = []
    for entry in FORMATS.values():
        try:
            found: Recognised | None = entry.read(file)
        except ImportError:  # the library that reads this format is not installed
            unreadable.append(entry)
            continue
        if found is not None:
            meta = check_metadata(found.meta, file.path, entry.name)
            return entry.name, meta, found.spec_text, file
    raise ArtifactError(_unrecognised(file, unreadable))


def _unrecognised(file: ArtifactFile, unreadable: list[Format]) -> str:
    """Why no format took the file, as precisely as its structure tells."""
    path = file.path
    if file.zip_names is not None:
        if any(n.endswith("/data.pkl") for n in file.zip_names):
            return f"{path} is not a netspec artifact (a torch.save file: weights, not a model)"
        return f"{path} is not a netspec artifact (a zip file of another kind)"
    if unreadable:
        readable = [entry.short for entry in FORMATS.values() if entry not in unreadable]
        hint = next(
            (
                f" (reading {entry.short} needs: {entry.install})"
                for entry in unreadable
                if path.name.endswith(entry.suffix)
            ),
            "",
        )
        return f"{path} is not a {join_or(readable)} artifact{hint}"
    return f"{path} is not a netspec artifact (not {join_or([e.short for e in FORMATS.values()])})"


def load_artifact(
    path: str | Path,
    device: str | torch.device = "cpu",
    *,
    compile: bool = False,
    require_runtime: bool = True,
    trust: bool = False,
    measuring: bool = False,
) -> Artifact:
    """Open ``path`` and make it runnable on ``device``.

    ``compile`` wraps ``.pt2`` programs in ``torch.compile`` (TorchScript and ONNX are
    compiled by their own runtimes; for them it changes nothing). Unless ``trust``, a file
    whose opening would run code from it — pickles, native libraries, Python source, file
    operators; :mod:`netspec.formats.safety` lists them — is refused before anything in it
    runs (``predict --trust-artifact`` sets ``trust``). ``measuring`` opens it
    to be timed against other programs (no spin-waiting runtime threads).
    """
    quiet_torch_logs()
    name, meta, spec_text, file = _recognise(ArtifactFile(Path(path)))
    target = resolve_device(device)
    options = OpenOptions(
        compile=compile, require_runtime=require_runtime, trust=trust, measuring=measuring
    )
    run = FORMATS[name].open(file, target, meta, options)
    return Artifact(file.path, name, meta, spec_text, target, run)
