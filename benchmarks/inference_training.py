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
from pathlib import Path

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import netspec  # noqa: E402
from netspec.artifacts import load_artifact  # noqa: E402
from netspec.export import export_model, quiet_jit  # noqa: E402
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


def bench_network(name: str, args: argparse.Namespace, peak: float, out_dir: Path) -> None:
    spec_file, params, factory, shape = SEED_NETWORKS[name]
    spec = netspec.load(ROOT / "specs" / spec_file, params)
    macs = spec.total_macs
    hand = factory()
    state = {k: v.clone() for k, v in hand.state_dict().items()}

    print(f"\n{name}  ({macs / 1e6:,.1f} MMAC/sample)")

    def frac(flops: float, seconds: float) -> str:
        return f"{flops / seconds / 1e9 / peak * 100:5.1f}%"

    if "train" in args.parts:
        bench_training(spec, hand, state, shape, args, frac)
    if "infer" in args.parts:
        bench_inference(name, spec, hand, state, shape, args, frac, out_dir)
    sys.stdout.flush()


Fraction = Callable[[float, float], str]
StateDict = dict[str, torch.Tensor]


def bench_training(
    spec: netspec.CompiledSpec,
    hand: nn.Module,
    state: StateDict,
    shape: tuple[int, ...],
    args: argparse.Namespace,
    frac: Fraction,
) -> None:
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
    train_flops = 3 * 2 * spec.total_macs * args.train_batch
    print(
        f"  train step, batch {args.train_batch:<3}  hand {train['hand'] * 1e3:8.1f} ms "
        f"({frac(train_flops, train['hand'])} of peak)   netspec {train['netspec'] * 1e3:8.1f} "
        f"ms ({frac(train_flops, train['netspec'])})   speedup "
        f"{train['hand'] / train['netspec']:.2f}x"
    )


def bench_inference(
    name: str,
    spec: netspec.CompiledSpec,
    hand: nn.Module,
    state: StateDict,
    shape: tuple[int, ...],
    args: argparse.Namespace,
    frac: Fraction,
    out_dir: Path,
) -> None:
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
            runs[f"opt:{fmt}"] = artifact.run
            plans[fmt] = (report.optimization or {}).get("chosen", "?")
    with torch.inference_mode():
        reference = hand(xi)
        worst = max(float((run(xi) - reference).abs().max()) for run in runs.values())
    infer = best_times({k: inference(v, xi) for k, v in runs.items()}, args.repeats)
    infer_flops = 2 * spec.total_macs * args.infer_batch
    print(f"  inference, batch {args.infer_batch} (max |diff| vs hand {worst:.1e}):")
    for key, seconds in infer.items():
        plan = f"  [{plans[key[4:]]}]" if key.startswith("opt:") else ""
        print(
            f"    {key:<18} {seconds * 1e3:8.1f} ms  {frac(infer_flops, seconds)} of peak  "
            f"{infer['hand'] / seconds:5.2f}x hand{plan}"
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
    peak = matmul_peak()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads; "
        f"fp32 matmul peak {peak:.1f} GFLOP/s (measured now)"
    )
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.networks:
            bench_network(name, args, peak, Path(tmp))
    print(f"\nfp32 matmul peak at the end: {matmul_peak():.1f} GFLOP/s")


if __name__ == "__main__":
    main()
