"""``--optimize``: measure equivalent programs on the target and keep the fastest.

Which rewrite of :mod:`netspec.optimize` pays off is a property of the machine, not of the
network (channels-last makes the seed's GoogLeNet 2× faster on a CPU but not its NiN), so
the candidates are timed on the target device, as an autotuning compiler does, and the
choice is recorded in the artifact's metadata (:class:`InferencePlan`).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn

from .formats.torchscript import mkldnn_convert, script
from .optimize import has_convolutions, inception_count, prepare_for_inference

MemoryLayout = Literal["channels_last", "contiguous"]
Candidate = Callable[[torch.Tensor], object]


def measure(
    candidates: dict[str, Candidate],
    example: torch.Tensor,
    *,
    rounds: int = 5,
    warmup: int = 3,
) -> dict[str, float]:
    """Best time in seconds of each candidate on ``example``, measured in interleaved rounds.

    Interleaving means a burst of load from other processes hits every candidate alike;
    the best of several runs is the least disturbed one. Warm-up runs let TorchScript's
    profiling executor specialise and oneDNN cache its primitives before timing.
    """
    cuda = example.device.type == "cuda"

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(example.device)

    best = dict.fromkeys(candidates, float("inf"))
    with torch.inference_mode():
        for run in candidates.values():
            for _ in range(warmup):
                run(example)
        sync()
        for _ in range(rounds):
            for name, run in candidates.items():
                start = time.perf_counter()
                run(example)
                sync()
                best[name] = min(best[name], time.perf_counter() - start)
    return best


@dataclass
class InferencePlan:
    """What ``--optimize`` chose for an artifact, and the measurements behind the choice."""

    memory_format: MemoryLayout = "contiguous"
    fuse_branches: bool = False
    #: TorchScript on CPU only: convert the frozen graph to oneDNN (MKLDNN) tensors when the
    #: artifact is loaded. The conversion cannot be serialised, so it happens at load time.
    mkldnn_at_load: bool = False
    device: str = "cpu"
    batch: int = 32
    timings_ms: dict[str, float] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return _candidate_name(self.memory_format, self.fuse_branches, self.mkldnn_at_load)

    def as_metadata(self) -> dict[str, object]:
        return {
            "chosen": self.name,
            "memory_format": self.memory_format,
            "fuse_branches": self.fuse_branches,
            "mkldnn_at_load": self.mkldnn_at_load,
            "device": self.device,
            "batch": self.batch,
            "timings_ms": {k: round(v, 3) for k, v in self.timings_ms.items()},
        }


def _candidate_name(memory_format: str, fuse: bool, mkldnn: bool) -> str:
    parts = [memory_format]
    if fuse:
        parts.append("fused-branches")
    if mkldnn:
        parts.append("mkldnn")
    return "+".join(parts)


def plan_inference(
    model: nn.Module,
    example: torch.Tensor,
    *,
    torchscript: bool,
    rounds: int = 5,
) -> tuple[InferencePlan, nn.Module]:
    """Measure candidate programs on ``example``'s device and batch; pick the fastest.

    First the eager candidates: NCHW or channels-last, and Inception heads fused or not
    (when the network has Inception blocks). Then, for TorchScript on CPU, the best of them
    frozen as is against frozen and converted to oneDNN tensors at load time (from NCHW too,
    since oneDNN picks its own layout). Two stages keep the number of TorchScript
    compilations — seconds each for GoogLeNet — at three. Returns the plan and the
    prepared eager module it uses.
    """
    prepared = _eager_candidates(model, example)
    timings = _timed(
        {_candidate_name(f, u, False): m for (f, u), m in prepared.items()}, example, rounds
    )
    best_format, best_fuse = (
        _by_name(prepared)[min(timings, key=timings.__getitem__)]
        if timings
        else next(iter(prepared))
    )
    mkldnn = False
    if torchscript:
        choices = _script_choices(best_format, best_fuse, example.device)
        scripted = {
            "torchscript:" + _candidate_name(*choice): _scripted(prepared[choice[:2]], choice[2])
            for choice in choices
        }
        script_timings = _timed(scripted, example, rounds)
        timings.update(script_timings)
        if script_timings:
            best = min(script_timings, key=script_timings.__getitem__)
            best_format, best_fuse, mkldnn = choices[list(scripted).index(best)]
    plan = InferencePlan(
        memory_format=best_format,
        fuse_branches=best_fuse,
        mkldnn_at_load=mkldnn,
        device=str(example.device),
        batch=int(example.shape[0]),
        timings_ms={name: seconds * 1e3 for name, seconds in timings.items()},
    )
    return plan, prepared[(best_format, best_fuse)]


def _eager_candidates(
    model: nn.Module, example: torch.Tensor
) -> dict[tuple[MemoryLayout, bool], nn.Module]:
    """Frozen-weights copies of ``model`` in every layout and fusion worth measuring."""
    layouts: list[MemoryLayout] = ["contiguous"]
    if has_convolutions(model) and len(example.shape) == 4:
        layouts.append("channels_last")
    fusions = [False, True] if inception_count(model) else [False]
    return {
        (layout, fuse): prepare_for_inference(model, memory_format=layout, fuse=fuse)
        for layout in layouts
        for fuse in fusions
    }


def _by_name(
    prepared: dict[tuple[MemoryLayout, bool], nn.Module],
) -> dict[str, tuple[MemoryLayout, bool]]:
    return {_candidate_name(layout, fuse, False): (layout, fuse) for layout, fuse in prepared}


def _script_choices(
    layout: MemoryLayout, fuse: bool, device: torch.device
) -> list[tuple[MemoryLayout, bool, bool]]:
    """The frozen TorchScript candidates: as is, and converted to oneDNN at load (CPU)."""
    choices = [(layout, fuse, False)]
    if device.type == "cpu" and torch.backends.mkldnn.is_available():
        choices.append((layout, fuse, True))
        if layout != "contiguous":
            choices.append(("contiguous", fuse, True))
    return choices


def _scripted(module: nn.Module, mkldnn: bool) -> torch.jit.ScriptModule:
    frozen = script(module, frozen=True)
    return mkldnn_convert(frozen) if mkldnn else frozen


def _timed(
    candidates: dict[str, Candidate], example: torch.Tensor, rounds: int
) -> dict[str, float]:
    """Timings when there is a choice to make; nothing to measure for a single candidate."""
    return measure(candidates, example, rounds=rounds) if len(candidates) > 1 else {}
