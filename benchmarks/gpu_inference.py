"""Inference on a CUDA GPU: the seed's hand-written models against netspec's artifacts.

What users deploy on GPU servers are the artifacts ``netspec build --device cuda`` writes.
For each seed network, in one process, on the same weights and the same inputs, this times
an inference batch of

* the hand-written model, eager, fp32 (the baseline every ratio is relative to);
* the TorchScript artifact of ``netspec build --optimize --device cuda`` (fp32), loaded
  back as ``netspec predict`` loads it;
* the bf16 TorchScript artifact (``--precision bf16``), when the GPU supports bf16.

Each candidate is timed with CUDA events around ``--iterations`` batches, after a warm-up,
in ``--rounds`` interleaved rounds; the table shows the median and the spread (min-max) of
the rounds and the speed-up of the median over the baseline's. Run from the repository
root on a machine with CUDA:

    python benchmarks/gpu_inference.py [--networks alexnet nin googlenet] [--batches 32 256]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import warnings
from collections.abc import Callable
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

import netspec  # noqa: E402
from netspec.artifacts import load_artifact  # noqa: E402
from netspec.export import export_model  # noqa: E402
from seed_models import SEED_NETWORKS  # noqa: E402

Runner = Callable[[torch.Tensor], torch.Tensor]


def time_batches(run: Runner, x: torch.Tensor, iterations: int) -> float:
    """Milliseconds per batch over ``iterations`` batches, measured with CUDA events."""
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    with torch.inference_mode():
        start.record()
        for _ in range(iterations):
            run(x)
        end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / iterations


def candidates(name: str, folder: Path) -> dict[str, Runner]:
    """The baseline and netspec's artifacts of one seed network, on the GPU."""
    spec_file, params, make, _ = SEED_NETWORKS[name]
    spec = netspec.load(ROOT / "specs" / spec_file, params=params)
    reference = make().eval()
    built = spec.build(seed=0).eval()
    reference.load_state_dict(built.state_dict())
    runners: dict[str, Runner] = {"hand-written eager fp32": reference.cuda()}
    precisions = ["fp32"] + (["bf16"] if torch.cuda.is_bf16_supported() else [])
    for precision in precisions:
        out = folder / f"{name}-{precision}.ts.pt"
        export_model(built, spec, out, optimize=True, device="cuda", precision=precision)
        label = f"netspec TorchScript {precision}" + (" --optimize" if precision == "fp32" else "")
        runners[label] = load_artifact(out, device="cuda").run
    return runners


def bench(name: str, args: argparse.Namespace, folder: Path) -> None:
    runners = candidates(name, folder)
    shape = SEED_NETWORKS[name][3]
    for batch in args.batches:
        x = torch.randn(batch, *shape, device="cuda")
        for run in runners.values():  # warm-up: cuDNN autotuning, TorchScript profiling
            time_batches(run, x, 3)
        times: dict[str, list[float]] = {label: [] for label in runners}
        for _ in range(args.rounds):
            for label, run in runners.items():
                times[label].append(time_batches(run, x, args.iterations))
        base = statistics.median(times["hand-written eager fp32"])
        for label, measured in times.items():
            median = statistics.median(measured)
            print(
                f"{name:<12} batch {batch:<4} {label:<34} median {median:8.3f} ms "
                f"[{min(measured):.3f}-{max(measured):.3f}]  x{base / median:5.2f}",
                flush=True,
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--networks",
        nargs="+",
        default=["lenet", "alexnet", "vgg11-small", "nin", "googlenet"],
        choices=sorted(SEED_NETWORKS),
    )
    parser.add_argument("--batches", nargs="+", type=int, default=[32, 256])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--iterations", type=int, default=20, help="batches per round")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("needs a CUDA GPU")
    warnings.filterwarnings("ignore")
    torch.backends.cudnn.benchmark = True
    print(f"torch {torch.__version__}, {torch.cuda.get_device_name()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.networks:
            bench(name, args, Path(tmp))


if __name__ == "__main__":
    main()
