"""``--optimize``: measure equivalent programs on the target and keep the fastest.

Which rewrite of :mod:`netspec.optimize` pays off is a property of the machine, not of the
network (channels-last makes the seed's GoogLeNet 2× faster on a CPU but not its NiN), so
the candidates are timed on the target device, as an autotuning compiler does, and the
choice is recorded in the artifact's metadata (:class:`InferencePlan`).

The measurement has to hold on a busy machine, where another process may take a core at any
moment (:func:`measure`): candidates run in interleaved rounds, in a rotated order, so a
burst of load hits all of them alike; each is judged by its median, not by its luckiest
run; and rounds continue until the fastest is separated from every other candidate by a
sign test over the rounds (it won significantly more often) or is within 2% of it (then
either choice is as good). Then the two fastest meet again in a run-off (:func:`choose`),
warmed up afresh and timed alone with each other: in the first measurement a program's time
depends on which of the others ran before it (programs of three runtimes share one process
and its cores), and its ranking of formats was seen to flip when re-timed. The run-off
decides by its medians; where they are within :data:`TIE` of each other it keeps the one
listed first — the simpler program (the default format, the unrewritten module), as fast as
the other within the measurement's noise. The process that measures waits passively in
OpenMP (``OMP_WAIT_POLICY=PASSIVE``, set by ``netspec build`` before torch loads) and
onnxruntime sessions opened for timing do not spin: spinning threads of the program just
timed would otherwise take the cores from the next one, and on a loaded machine spinning
made torch's programs look 10–40× slower than onnxruntime's.
Wall time stays the measure, because it is what a deployed program is judged by (CPU time
would favour programs that leave a core idle).
"""

from __future__ import annotations

import math
import statistics
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

#: Candidates whose medians differ by less than this fraction are as good as each other.
TIE = 0.02
#: Largest probability, under "both are equally fast", of the fastest winning as often as
#: it did, for it to count as separated from a rival (one-sided sign test).
SIGNIFICANCE = 0.05
#: Shortest time one sample of a candidate spans: a program faster than this is run
#: several times per sample, so that one scheduler tick does not decide its sample.
MIN_SAMPLE = 0.02


@dataclass(frozen=True)
class Timing:
    """The wall times of one candidate over the interleaved rounds, in seconds."""

    samples: tuple[float, ...]

    @classmethod
    def constant(cls, seconds: float) -> Timing:
        return cls((seconds,))

    @property
    def median(self) -> float:
        return statistics.median(self.samples)

    @property
    def quartiles(self) -> tuple[float, float]:
        """The first and third quartile: the spread of the middle half of the rounds."""
        if len(self.samples) < 2:
            return self.samples[0], self.samples[0]
        q1, _, q3 = statistics.quantiles(self.samples, n=4, method="inclusive")
        return q1, q3


def measure(
    candidates: dict[str, Candidate],
    example: torch.Tensor,
    *,
    rounds: int = 5,
    max_rounds: int = 40,
    budget: float = 20.0,
    warmup: int = 3,
) -> dict[str, Timing]:
    """Wall times of each candidate on ``example``, from interleaved rounds.

    At least ``rounds`` rounds; then more, up to ``max_rounds`` and while less than
    ``budget`` seconds were spent, until :func:`settled` says the fastest is known. Warm-up
    runs let TorchScript's profiling executor specialise and oneDNN cache its primitives.
    A sample of a candidate faster than :data:`MIN_SAMPLE` is the mean of several calls.
    """
    cuda = example.device.type == "cuda"

    def sync() -> None:
        if cuda:
            torch.cuda.synchronize(example.device)

    names = list(candidates)
    samples: dict[str, list[float]] = {name: [] for name in names}
    calls: dict[str, int] = {}
    with torch.inference_mode():
        for _ in range(warmup):  # interleaved too: every candidate warms up in like state
            for name, run in candidates.items():
                begin = time.perf_counter()
                run(example)
                sync()
                once = max(time.perf_counter() - begin, 1e-6)
                calls[name] = min(1000, math.ceil(MIN_SAMPLE / once))
        start = time.perf_counter()
        for index in range(max_rounds):
            shift = index % len(names)
            for name in names[shift:] + names[:shift]:
                run, repeat = candidates[name], calls[name]
                begin = time.perf_counter()
                for _ in range(repeat):
                    run(example)
                sync()
                samples[name].append((time.perf_counter() - begin) / repeat)
            done = index + 1 >= rounds
            if done and (settled(samples) or time.perf_counter() - start > budget):
                break
    return {name: Timing(tuple(times)) for name, times in samples.items()}


def settled(samples: dict[str, list[float]]) -> bool:
    """Whether the candidate with the lowest median is known: against every other one it
    either won significantly more rounds (sign test) or is within :data:`TIE` of it."""
    medians = {name: statistics.median(times) for name, times in samples.items()}
    best = min(medians, key=medians.__getitem__)
    for name, times in samples.items():
        if name == best or medians[name] <= medians[best] * (1 + TIE):
            continue
        wins = sum(mine < theirs for mine, theirs in zip(samples[best], times, strict=True))
        if sign_test(wins, len(times)) > SIGNIFICANCE:
            return False
    return True


def sign_test(wins: int, rounds: int) -> float:
    """P(at least ``wins`` wins in ``rounds`` fair coin tosses): how likely the fastest
    would win this often if both candidates were equally fast."""
    return sum(math.comb(rounds, k) for k in range(wins, rounds + 1)) / 2**rounds


def fastest(timings: dict[str, Timing]) -> str:
    return min(timings, key=lambda name: timings[name].median)


#: Fewest rounds of the run-off between the two fastest candidates.
RUNOFF_ROUNDS = 8


@dataclass(frozen=True)
class Choice:
    """The candidate :func:`choose` picked, the first measurement of all of them and the
    run-off of the two fastest (empty when there were fewer than two)."""

    name: str
    timings: dict[str, Timing]
    runoff: dict[str, Timing] = field(default_factory=dict)


def choose(candidates: dict[str, Candidate], example: torch.Tensor, *, rounds: int) -> Choice:
    """The fastest of ``candidates`` (listed simplest first): every candidate measured in
    interleaved rounds, then the two fastest re-timed alone in a run-off that decides."""
    names = list(candidates)
    if len(names) == 1:
        return Choice(names[0], {})
    timings = measure(candidates, example, rounds=rounds)
    finalists = sorted(sorted(timings, key=lambda n: timings[n].median)[:2], key=names.index)
    runoff = measure(
        {name: candidates[name] for name in finalists},
        example,
        rounds=max(rounds, RUNOFF_ROUNDS),
    )
    return Choice(runoff_winner(runoff), timings, runoff)


def runoff_winner(runoff: dict[str, Timing]) -> str:
    """The finalist with the lower run-off median; the first-listed (simpler) one when the
    other's median is not more than :data:`TIE` lower.

    No significance is asked of a larger difference: the run-off of two slow programs ends
    at its time budget after few rounds, and on a busy machine a real 20% difference then
    need not pass a sign test — keeping the simpler one there cost more than trusting the
    medians (issue 11, NiN at batch 32)."""
    simpler, other = runoff
    return other if runoff[other].median < runoff[simpler].median * (1 - TIE) else simpler


def timings_metadata(timings: dict[str, Timing]) -> dict[str, dict[str, object]]:
    """``timings_ms`` (medians), ``spread_ms`` (quartiles) and ``rounds`` of a measurement."""
    return {
        "timings_ms": {name: round(t.median * 1e3, 3) for name, t in timings.items()},
        "spread_ms": {
            name: [round(q * 1e3, 3) for q in t.quartiles] for name, t in timings.items()
        },
        "rounds": {name: len(t.samples) for name, t in timings.items()},
    }


def runoff_metadata(runoff: dict[str, Timing]) -> dict[str, object]:
    """``runoff_ms``: the finalists' medians in the run-off that decided (when there was one)."""
    if not runoff:
        return {}
    return {"runoff_ms": {name: round(t.median * 1e3, 3) for name, t in runoff.items()}}


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
    timings: dict[str, Timing] = field(default_factory=dict)
    #: The run-offs of the two fastest in each stage (:func:`choose`), which decided.
    runoff: dict[str, Timing] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return candidate_name(self.memory_format, self.fuse_branches, self.mkldnn_at_load)

    def as_metadata(self) -> dict[str, object]:
        return {
            "chosen": self.name,
            "memory_format": self.memory_format,
            "fuse_branches": self.fuse_branches,
            "mkldnn_at_load": self.mkldnn_at_load,
            "device": self.device,
            "batch": self.batch,
            **timings_metadata(self.timings),
            **runoff_metadata(self.runoff),
        }


#: How a frozen TorchScript candidate's name starts (eager candidates have no prefix).
SCRIPTED = "torchscript:"


def candidate_name(memory_format: str, fuse: bool, mkldnn: bool) -> str:
    parts = [memory_format]
    if fuse:
        parts.append("fused-branches")
    if mkldnn:
        parts.append("mkldnn")
    return "+".join(parts)


def candidate(model: nn.Module, name: str) -> Candidate:
    """The program a candidate name stands for (as in an artifact's ``timings_ms``), built
    again from ``model``: a benchmark re-times the tuner's choice against them."""
    scripted = name.startswith(SCRIPTED)
    parts = name.removeprefix(SCRIPTED).split("+")
    layout: MemoryLayout = "channels_last" if parts[0] == "channels_last" else "contiguous"
    prepared = prepare_for_inference(model, memory_format=layout, fuse="fused-branches" in parts)
    return _scripted(prepared, "mkldnn" in parts) if scripted else prepared


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
    eager = choose(
        {candidate_name(f, u, False): m for (f, u), m in prepared.items()}, example, rounds=rounds
    )
    best_format, best_fuse = _by_name(prepared)[eager.name]
    timings, runoff, mkldnn = dict(eager.timings), dict(eager.runoff), False
    if torchscript:
        choices = _script_choices(best_format, best_fuse, example.device)
        scripted = {
            SCRIPTED + candidate_name(*choice): _scripted(prepared[choice[:2]], choice[2])
            for choice in choices
        }
        frozen = choose(scripted, example, rounds=rounds)
        timings.update(frozen.timings)
        runoff.update(frozen.runoff)
        best_format, best_fuse, mkldnn = choices[list(scripted).index(frozen.name)]
    plan = InferencePlan(
        memory_format=best_format,
        fuse_branches=best_fuse,
        mkldnn_at_load=mkldnn,
        device=str(example.device),
        batch=int(example.shape[0]),
        timings=timings,
        runoff=runoff,
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
    return {candidate_name(layout, fuse, False): (layout, fuse) for layout, fuse in prepared}


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
