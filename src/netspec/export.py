"""Stage 6 — write deployable artifacts, verified against the eager model, atomically.

An artifact is only published (renamed into place) after it was reloaded from disk and its
outputs matched the eager model's on a random batch; otherwise nothing is left behind.
Every artifact embeds the spec text, resolved params, input shape and versions, so a file
found on a server says what it is.
"""

from __future__ import annotations

import contextlib
import json
import os
import platform
import tempfile
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .compiler import CompiledSpec
from .errors import ExportError

#: Name of the extra files embedded in TorchScript artifacts.
SPEC_FILE = "netspec/spec.yaml"
META_FILE = "netspec/meta.json"
#: Largest acceptable difference between reloaded and eager outputs.
DEFAULT_TOLERANCE = 1e-4


@contextlib.contextmanager
def quiet_jit() -> Iterator[None]:
    """Silence torch 2.14's TorchScript deprecation warning: our users chose TorchScript."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=FutureWarning)
        warnings.filterwarnings("ignore", message=r".*TorchScript.*", category=DeprecationWarning)
        warnings.filterwarnings("ignore", message=r".*torch\.jit.*", category=DeprecationWarning)
        yield


@dataclass
class ExportReport:
    """What was written and how closely the reloaded artifact matches the eager model."""

    path: Path
    format: str
    max_abs_diff: float
    size_bytes: int


def metadata(spec: CompiledSpec, extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """What a deployer needs to know about an artifact, as JSON-ready data."""
    from . import __version__

    resize = spec.train.resize
    meta: dict[str, Any] = {
        "netspec_version": __version__,
        "torch_version": torch.__version__,
        "python_version": platform.python_version(),
        "name": spec.name,
        "input_shape": list(spec.input_shape),
        "output_shape": list(spec.output_shape),
        "params": spec.params,
        "preprocessing": {
            "resize": [resize, resize] if resize else list(spec.input_shape[1:]),
            "scale": 1.0 / 255.0,
            "channels": spec.input_shape[0],
        },
        "classes": spec.classes,
    }
    meta.update(extra or {})
    return meta


def random_batch(spec: CompiledSpec, batch: int = 2, seed: int = 0) -> torch.Tensor:
    """A reproducible random input batch of the spec's input shape."""
    generator = torch.Generator().manual_seed(seed)
    return torch.rand((batch, *spec.input_shape), generator=generator)


def atomic_write(path: Path, write: Any, verify: Any = None) -> None:
    """Write through ``write(tmp_path)``, run ``verify(tmp_path)``, then rename into place.

    A crash or a failed verification leaves no partial file under ``path``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        if verify is not None:
            verify(tmp)
        # mkstemp creates 0600 files; give the artifact the permissions of a normal file.
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def max_abs_diff(a: torch.Tensor, b: torch.Tensor) -> float:
    """Largest elementwise difference, in float64 so the report itself is exact."""
    return float((a.double() - b.double()).abs().max().item()) if a.numel() else 0.0


def export_torchscript(
    model: nn.Module,
    spec: CompiledSpec,
    out: str | Path,
    *,
    extra_meta: dict[str, Any] | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> ExportReport:
    """Script ``model`` and write it to ``out`` with the spec and metadata embedded."""
    out = Path(out)
    model = model.eval()
    batch = random_batch(spec)
    with torch.no_grad():
        expected = model(batch)
    with quiet_jit():
        try:
            scripted = torch.jit.script(model)
        except Exception as exc:  # torch raises many types; any means "cannot script"
            raise ExportError(f"TorchScript cannot compile this model: {exc}") from None
    files = {
        SPEC_FILE: spec.source_text,
        META_FILE: json.dumps(metadata(spec, extra_meta), indent=2, sort_keys=True),
    }
    diff = [float("nan")]

    def write(tmp: Path) -> None:
        with quiet_jit():
            torch.jit.save(scripted, str(tmp), _extra_files=files)

    def verify(tmp: Path) -> None:
        with quiet_jit(), torch.no_grad():
            reloaded = torch.jit.load(str(tmp), map_location="cpu")
            diff[0] = max_abs_diff(reloaded(batch), expected)
        if not diff[0] <= tolerance:
            raise ExportError(
                f"exported TorchScript differs from the eager model by {diff[0]:.3g} "
                f"(tolerance {tolerance:g}); nothing was written to {out}"
            )

    atomic_write(out, write, verify)
    return ExportReport(out, "torchscript", diff[0], out.stat().st_size)


def read_torchscript_metadata(path: str | Path) -> tuple[dict[str, Any], str]:
    """The metadata and spec text embedded in a netspec TorchScript artifact."""
    files = {SPEC_FILE: "", META_FILE: ""}
    with quiet_jit():
        torch.jit.load(str(path), map_location="cpu", _extra_files=files)

    def text(value: str | bytes) -> str:
        return value.decode("utf-8") if isinstance(value, bytes) else value

    return json.loads(text(files[META_FILE]) or "{}"), text(files[SPEC_FILE])
