"""netspec-built networks against the seed's hand-written ones: training steps and inference.

For each seed network, in one process, on the same weights and the same inputs:

* a training step (forward, cross-entropy, backward, Adam step — the seed's recipe) of the
  hand-written model and of ``spec.build(fast=True)`` (netspec's fast build: in-place
  ReLUs, channels-last where it pays; same state_dict, same numbers);
* an inference batch of the hand-written model in eval mode, of what a user gets from one
  trick on it (TorchScript frozen + ``optimize_for_inference``; channels-last), and of the
  artifacts ``netspec build --optimize`` writes, loaded back as ``netspec predict`` loads
  them.

Times are the best of ``--repeats`` interleaved runs (a burst of load from other processes
hits every candidate alike; the best run is the least disturbed one). GFLOP/s count
2 FLOPs per multiply-accumulate (netspec's shape stage counts MACs) and 3× the forward
work for a training step; they are shown as a fraction of this machine's fp32 matmul peak,
measured in the same run. Run from the repository root:

    python benchmarks/inference_training.py [--networks nin googlenet] [--repeats 5]
        [--formats torchscript export onnx compiled] [--threads 1] [--parts train infer]
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import netspec  # noqa: E402
from netspec.artifacts import load_artifact  # noqa: E402
from netspec.export import export_model  # noqa: E402
from netspec.runtime import quiet_jit  # noqa: E402
from seed_models import SEED_NETWORKS  # noqa: E402

#: The networks the issue names, with the VGG the seed trains (ratio 8) by default.
DEFAULT_NETWORKS = ("lenet", "alexnet", "vgg11-small", "nin", "googlenet")


def matmul_peak(seconds: float = 1.5) -> float:
    """Best fp32 GFLOP/s of square matrix products on this machine, right now."""
    best = 0.0
    for n in (1024, 2048, 3072):
        a, b = torch.randn(n, n), torch.randn(n, n)
        a @ b
        deadline = time.perf_counter() + seconds / 3
        while time.perf_counter() < deadline:
            start = time.perf_counter()
            a @ b
            best = max(best, 2 * n**3 / (time.perf_counter() - start) / 1e9)
    return best


def best_times(
    runs: dict[str, Callable[[], object]], repeats: int, warmup: int = 2, min_seconds: float = 1.0
) -> dict[str, float]:
    """Best wall time of each run over interleaved rounds: at least ``repeats`` rounds, and
    more for fast runs until each has been timed for ``min_seconds`` (a 2 ms LeNet step
    needs hundreds of samples to find an undisturbed one)."""
    for run in runs.values():
        for _ in range(warmup):
            run()
    best = dict.fromkeys(runs, math.inf)
    spent = dict.fromkeys(runs, 0.0)
    rounds = 0
    while rounds < repeats or (min(spent.values()) < min_seconds and rounds < 100 * repeats):
        for name, run in runs.items():
            start = time.perf_counter()
            run()
            elapsed = time.perf_counter() - start
            best[name] = min(best[name], elapsed)
            spent[name] += elapsed
        rounds += 1
    return best


def training_step(model: nn.Module, x: torch.Tensor, y: torch.Tensor) -> Callable[[], object]:
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    model.train()

    def step() -> float:
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        optimizer.step()
        return float(loss)

    return step


def inference(run: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor) -> Callable[[], object]:
    def infer() -> object:
        with torch.inference_mode():
            return run(x)

    return infer


def one_trick_baselines(
    hand: nn.Module, x: torch.Tensor
) -> dict[str, Callable[[torch.Tensor], torch.Tensor]]:
    """What a user gets from one well-known trick applied to the hand-written model."""
    tricks: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {}
    with quiet_jit():
        tricks["hand+ofi"] = torch.jit.optimize_for_inference(torch.jit.script(hand.eval()))
    import copy

    channels_last = copy.deepcopy(hand).eval().to(memory_format=torch.channels_last)
    try:
        with torch.inference_mode():
            channels_last(x.contiguous(memory_format=torch.channels_last))
        tricks["hand+CL"] = lambda t: channels_last(t.contiguous(memory_format=torch.channels_last))
    except RuntimeError:  # the seed's view-based flatten fails on channels-last tensors
        pass
    return tricks


@dataclass
class Row:
    """One line of the final table: a network, a part, and a candidate against the hand model."""

    network: str
    part: str  # "train" or "infer"
    candidate: str
    hand_seconds: float
    seconds: float
    flops: float
    note: str = ""


def bench_network(name: str, args: argparse.Namespace, out_dir: Path) -> list[Row]:
    spec_file, params, factory, shape = SEED_NETWORKS[name]
    spec = netspec.load(ROOT / "specs" / spec_file, params)
    hand = factory()
    state = {k: v.clone() for k, v in hand.state_dict().items()}
    print(f"{name} ({spec.total_macs / 1e6:,.1f} MMAC/sample) ...", flush=True)
    rows: list[Row] = []
    if "train" in args.parts:
        rows += bench_training(name, spec, hand, state, shape, args)
    if "infer" in args.parts:
        rows += bench_inference(name, spec, hand, state, shape, args, out_dir)
    return rows


StateDict = dict[str, torch.Tensor]


def bench_training(
    name: str,
    spec: netspec.CompiledSpec,
    hand: nn.Module,
    state: StateDict,
    shape: tuple[int, ...],
    args: argparse.Namespace,
) -> list[Row]:
    """A training step of the hand-written model against netspec's fast build."""
    generator = torch.Generator().manual_seed(0)
    fast = spec.build(seed=0, fast=True)
    fast.load_state_dict(state, strict=True)
    x = torch.rand((args.train_batch, *shape), generator=generator)
    y = torch.randint(0, 10, (args.train_batch,), generator=generator)
    train = best_times(
        {"hand": training_step(hand, x, y), "netspec": training_step(fast, x, y)},
        args.repeats,
    )
    flops = 3 * 2 * spec.total_macs * args.train_batch
    return [
        Row(name, "train", "hand", train["hand"], train["hand"], flops),
        Row(name, "train", "build(fast=True)", train["hand"], train["netspec"], flops),
    ]


def bench_inference(
    name: str,
    spec: netspec.CompiledSpec,
    hand: nn.Module,
    state: StateDict,
    shape: tuple[int, ...],
    args: argparse.Namespace,
    out_dir: Path,
) -> list[Row]:
    """Eager hand-written inference against one-trick baselines and --optimize artifacts."""
    generator = torch.Generator().manual_seed(1)
    hand.load_state_dict(state)
    hand.eval()
    plain = spec.build(seed=0)
    plain.load_state_dict(state, strict=True)
    xi = torch.rand((args.infer_batch, *shape), generator=generator)
    runs: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"hand": hand}
    runs.update(one_trick_baselines(hand, xi))
    plans: dict[str, str] = {}
    for fmt in args.formats:
        path = out_dir / f"{name}.{fmt}"
        compiled = fmt == "compiled"  # the export format, AOTInductor-compiled (--compile)
        report = export_model(
            plain,
            spec,
            path,
            format="export" if compiled else fmt,
            optimize=True,
            batch=args.infer_batch,
            compile=compiled,
        )
        artifact = load_artifact(path)
        if artifact.run is not None:
            runs[f"--optimize {fmt}"] = artifact.run
            plans[f"--optimize {fmt}"] = str((report.optimization or {}).get("chosen", ""))
    with torch.inference_mode():
        reference = hand(xi)
        worst = max(float((run(xi) - reference).abs().max()) for run in runs.values())
    infer = best_times({k: inference(v, xi) for k, v in runs.items()}, args.repeats)
    flops = 2 * spec.total_macs * args.infer_batch
    rows = [
        Row(name, "infer", key, infer["hand"], seconds, flops, plans.get(key, ""))
        for key, seconds in infer.items()
    ]
    rows[0].note = f"max |diff| of all vs hand {worst:.1e}"
    return rows


def print_table(rows: list[Row], peak: float, args: argparse.Namespace) -> None:
    """Both times, the ratio, and GFLOP/s as a fraction of the matmul peak, per network."""
    print(
        f"\n{'network':<12} {'part':<13} {'candidate':<22} {'hand ms':>9} {'ms':>9} "
        f"{'speedup':>8} {'% of peak':>10}  note"
    )
    for row in rows:
        part = f"train b{args.train_batch}" if row.part == "train" else f"infer b{args.infer_batch}"
        fraction = row.flops / row.seconds / 1e9 / peak * 100
        print(
            f"{row.network:<12} {part:<13} {row.candidate:<22} {row.hand_seconds * 1e3:9.1f} "
            f"{row.seconds * 1e3:9.1f} {row.hand_seconds / row.seconds:7.2f}x {fraction:9.1f}%"
            f"  {row.note}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--networks", nargs="+", default=list(DEFAULT_NETWORKS), choices=sorted(SEED_NETWORKS)
    )
    parser.add_argument("--repeats", type=int, default=5, help="timed rounds (best is kept)")
    parser.add_argument("--train-batch", type=int, default=16, help="the seed's batch_size")
    parser.add_argument("--infer-batch", type=int, default=32)
    parser.add_argument(
        "--formats",
        nargs="+",
        default=["torchscript", "export", "onnx"],
        choices=["torchscript", "export", "onnx", "compiled"],
        help="--optimize artifacts to time ('compiled': --format export --compile, which "
        "takes a minute per network)",
    )
    parser.add_argument(
        "--parts", nargs="+", default=["train", "infer"], choices=["train", "infer"]
    )
    parser.add_argument("--threads", type=int, default=None, help="torch threads")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    peaks = [matmul_peak()]
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads", flush=True)
    rows: list[Row] = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.networks:
            rows += bench_network(name, args, Path(tmp))
            peaks.append(matmul_peak(0.5))  # the least disturbed measurement counts
    peak = max(peaks)
    print(
        f"fp32 matmul peak {peak:.1f} GFLOP/s (best of {len(peaks)} measurements in this "
        f"run: {', '.join(f'{p:.0f}' for p in peaks)}); oneDNN convolutions can beat MKL's "
        "matmul on this CPU, so fractions above 100% are possible"
    )
    print_table(rows, peak, args)


if __name__ == "__main__":
    main()
