"""Read weights files and load them into a compiled model, safely and with a readable report.

:func:`read_weights_file` is netspec's one ``torch.load``: ``build --weights``, ``eval
--weights``, ``train --init-from`` and ``train --resume`` all read through it, so they
accept and refuse the same files with the same words. Two kinds of file are read, told
apart by their content, not their name: ``torch.save`` files (``.pt``: a ``state_dict`` or
a netspec checkpoint), loaded with ``weights_only=True``, and **safetensors** files
(``.safetensors``), which hold tensors and string metadata only — no code can be in them.

Loading is strict for ``build`` and ``eval`` (:func:`load_weights`: every tensor must fit)
and partial for fine-tuning (:func:`load_matching`: what fits is loaded, the rest is
re-initialised, and a table says which is which).
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

from .atomic import atomic_write_bytes
from .errors import BuildError
from .files import open_regular
from .limits import ENV, human_bytes, memory_limit
from .patterns import Rename
from .schema import WeightsKeys

#: The metadata ``format`` of the safetensors files netspec writes.
SAFETENSORS_FORMAT = "netspec.weights"
#: Largest safetensors header netspec reads (the safetensors library's own limit).
_MAX_SAFETENSORS_HEADER = 100 << 20


def is_safetensors(path: str | os.PathLike[str]) -> bool:
    """Whether a file is in the safetensors format: an 8-byte header length, then JSON."""
    with open(path, "rb") as stream:
        head = stream.read(9)
    if len(head) < 9 or head[8:9] != b"{":
        return False
    return 2 <= int.from_bytes(head[:8], "little") <= _MAX_SAFETENSORS_HEADER


def read_weights_file(path: str | os.PathLike[str]) -> Any:
    """Whatever a weights or checkpoint file holds, loaded onto the CPU.

    ``weights_only=True``: a weights file is data and must never run code when loaded. A
    safetensors file gives ``{"model": tensors, **its metadata}``, the shape of a netspec
    checkpoint's weights. Only a regular file is read (:mod:`netspec.files`), and only one
    that fits the memory limit (:mod:`netspec.limits`): loading materialises every tensor
    it holds.
    """
    with open_regular(path, "weights file", BuildError) as (stream, size):
        if size == 0:
            raise BuildError(f"cannot read weights from {path}: the file is empty (0 bytes)")
        limit = memory_limit()
        if size > limit:
            raise BuildError(
                f"cannot read weights from {path}: the file holds {human_bytes(size)}, more "
                f"than the memory limit of {human_bytes(limit)} (set {ENV} to raise it)"
            )
        if is_safetensors(path):
            return _read_safetensors(Path(path))
        try:
            return torch.load(stream, map_location="cpu", weights_only=True)
        except Exception as exc:  # unpickling refuses code, a truncated zip, not a torch file...
            reason = str(exc).strip() or type(exc).__name__
            raise BuildError(f"cannot read weights from {path}: {reason}".splitlines()[0]) from None


def _read_safetensors(path: Path) -> dict[str, Any]:
    from safetensors import SafetensorError, safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as reader:
            tensors = {name: reader.get_tensor(name) for name in reader.keys()}  # noqa: SIM118
            metadata = reader.metadata() or {}
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        reason = str(exc).strip() or type(exc).__name__
        raise BuildError(f"cannot read weights from {path}: {reason}".splitlines()[0]) from None
    info: dict[str, Any] = {"model": tensors}
    for key, text in metadata.items():
        try:
            info[key] = json.loads(text)
        except ValueError:
            info[key] = text
    return info


def save_safetensors(
    path: str | os.PathLike[str],
    state: Mapping[str, torch.Tensor],
    metadata: Mapping[str, Any] | None = None,
) -> None:
    """Write weights as safetensors, atomically; ``metadata`` values are stored as JSON.

    Tensors are copied to contiguous CPU memory first (safetensors refuses views and
    shared storage, which a state_dict may hold).
    """
    from safetensors.torch import save

    tensors = {name: tensor.detach().cpu().contiguous().clone() for name, tensor in state.items()}
    texts = {"format": json.dumps(SAFETENSORS_FORMAT)}
    texts.update({key: json.dumps(value) for key, value in (metadata or {}).items()})
    atomic_write_bytes(path, save(tensors, metadata=texts))


def read_state_dict(
    path: str | os.PathLike[str], info: dict[str, Any] | None = None
) -> dict[str, torch.Tensor]:
    """Read a state_dict, or the model weights of a netspec training checkpoint.

    For a training checkpoint, ``info`` (if given) receives its plain-data fields besides
    the weights — format, epoch, best test accuracy — so an export can say where the
    weights came from.
    """
    data = read_weights_file(path)
    if isinstance(data, dict) and isinstance(data.get("model"), dict):
        if info is not None:
            info.update(
                (key, value)
                for key, value in data.items()
                if isinstance(value, str | int | float) and not isinstance(value, bool)
            )
            names = data.get("classes")
            if isinstance(names, list) and all(isinstance(n, str) for n in names):
                info["classes"] = list(names)
        data = data["model"]
    if not isinstance(data, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in data.items()
    ):
        raise BuildError(f"{path} does not hold a state_dict (a mapping of names to tensors)")
    if data and all(key.startswith("module.") for key in data):
        # Saved from a DistributedDataParallel wrapper directly: the keys are the model's.
        data = {key.removeprefix("module."): value for key, value in data.items()}
    return data


def load_weights(
    model: nn.Module, path: str | os.PathLike[str], keys: WeightsKeys | None = None
) -> dict[str, Any]:
    """Load weights with ``strict=True``; report every missing, extra or misshapen key.

    ``keys`` (the spec's ``weights:`` section) renames and drops the file's keys first, so
    that torchvision's own files load as they are. Returns what the file says about the
    weights besides the weights (empty for a plain state_dict; format, epoch... for a
    training checkpoint).
    """
    info: dict[str, Any] = {}
    state = read_state_dict(path, info)
    if keys is not None:
        state = {new: state[old] for old, new in keys.apply(list(state)).items()}
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    misshapen = [
        f"{k} (file {tuple(state[k].shape)}, model {tuple(own[k].shape)})"
        for k in own
        if k in state and state[k].shape != own[k].shape
    ]
    problems = []
    if missing:
        shown = [_with_suggestion(key, unexpected) for key in missing[:5]]
        problems.append("missing " + ", ".join(shown) + (" ..." if len(missing) > 5 else ""))
    if unexpected:
        problems.append(
            "unexpected " + ", ".join(unexpected[:5]) + (" ..." if len(unexpected) > 5 else "")
        )
    if misshapen:
        problems.append("shape mismatch for " + ", ".join(misshapen[:5]))
    if problems:
        raise BuildError(
            f"weights in {path} do not fit this spec: " + "; ".join(problems),
            hint=_KEYS_HINT if missing and unexpected else None,
        )
    model.load_state_dict(state, strict=True)
    return info


_KEYS_HINT = (
    "when the file names its tensors differently, the spec can say how to read it: "
    "weights: {rename: {OLD: NEW}, ignore: [PREFIX]}"
)


def _with_suggestion(key: str, candidates: list[str]) -> str:
    """``a.norm1.weight (the file has a.norm.1.weight)`` when a file key is close."""
    close = difflib.get_close_matches(key, candidates, n=1, cutoff=0.8)
    return f"{key} (the file has {close[0]})" if close else key


@dataclass
class InitReport:
    """What ``--init-from`` did with each tensor: the table it prints."""

    source: str
    loaded: list[str] = field(default_factory=list)
    #: The network's tensors that kept their fresh initialisation, with the reason.
    reinitialised: list[tuple[str, str]] = field(default_factory=list)
    #: The file's tensors (after renaming) the network has no place for.
    unused: list[str] = field(default_factory=list)

    def table(self) -> str:
        total = len(self.loaded) + len(self.reinitialised)
        rows = [
            ("loaded", self.loaded),
            ("re-initialised", [f"{name} ({why})" for name, why in self.reinitialised]),
            ("unused in file", self.unused),
        ]
        lines = [
            f"--init-from {self.source}: {len(self.loaded)} of the network's {total} tensors "
            f"loaded, {len(self.reinitialised)} re-initialised, {len(self.unused)} in the "
            f"file unused"
        ]
        lines += [f"  {label:<15}{len(names):>5}  {_some(names)}".rstrip() for label, names in rows]
        return "\n".join(lines)

    def as_record(self) -> dict[str, Any]:
        """For run.json: the file and every name, by what happened to it."""
        return {
            "file": self.source,
            "loaded": self.loaded,
            "reinitialised": [name for name, _ in self.reinitialised],
            "unused": self.unused,
        }


def _some(names: list[str], shown: int = 6) -> str:
    more = len(names) - shown
    return ", ".join(names[:shown]) + (f", ... and {more} more" if more > 0 else "")


def load_matching(
    model: nn.Module,
    path: str | os.PathLike[str],
    renames: list[Rename] | None = None,
    keys: WeightsKeys | None = None,
) -> InitReport:
    """Load every tensor of ``path`` whose name (after ``keys``, then ``renames``) and shape
    match.

    ``keys`` is the spec's ``weights:`` section, applied first as :func:`load_weights`
    applies it, so a file the spec says how to read (torchvision's DenseNet with its legacy
    key names) fine-tunes as it builds. The network's other tensors keep their fresh
    initialisation; the report says which were loaded, which were not and why, and which
    of the file's were unused. A file of which nothing fits is an error: that is a wrong
    file, not a fine-tuning.
    """
    state = read_state_dict(path)
    if keys is not None:
        state = {new: state[old] for old, new in keys.apply(list(state)).items()}
    state = _renamed(state, renames or [], path)
    own = model.state_dict()
    report = InitReport(str(path))
    fitting: dict[str, torch.Tensor] = {}
    for name, tensor in own.items():
        if name not in state:
            report.reinitialised.append((name, "not in the file"))
        elif state[name].shape != tensor.shape:
            report.reinitialised.append(
                (name, f"file {tuple(state[name].shape)}, network {tuple(tensor.shape)}")
            )
        else:
            fitting[name] = state[name]
            report.loaded.append(name)
    report.unused = [name for name in state if name not in own]
    if not fitting:
        raise BuildError(
            f"--init-from {path}: none of its {len(state)} tensors fits this network "
            f"(names such as {_some(list(state), 3)}; the network's: {_some(list(own), 3)}); "
            f"rename them with --init-map 'FILE_PATTERN=NETWORK_PATTERN'"
        )
    with torch.no_grad():
        for name, tensor in fitting.items():
            own[name].copy_(tensor)
    return report


def _renamed(
    state: dict[str, torch.Tensor], renames: list[Rename], path: str | os.PathLike[str]
) -> dict[str, torch.Tensor]:
    """The file's tensors under the names ``renames`` give them (the first that matches)."""
    result: dict[str, torch.Tensor] = {}
    for name, tensor in state.items():
        target = next((new for rule in renames if (new := rule.apply(name)) is not None), name)
        if target in result:
            raise BuildError(
                f"--init-map: two tensors of {path} are renamed to '{target}'; make the "
                f"patterns more specific"
            )
        result[target] = tensor
    return result
