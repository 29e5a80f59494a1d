"""How fast is ``netspec check`` compared with merely importing torch?

The issue's bar: checking a spec must take under a quarter of ``import torch`` — GoogLeNet
for issue 1, the largest torchvision family members (efficientnet_v2_l, efficientnet_b7)
for issue 9. Both are measured here in one run, each in fresh interpreters, interleaved
round by round (best, median and spread of N, after one warm-up round that is not
counted), so the ratio is independent of how busy the machine is. Python writes its
bytecode caches as usual (``PYTHONDONTWRITEBYTECODE`` is dropped), as an installed netspec
and torch have them. ``--variant`` (repeatable) checks members of a family spec, one row each;
``--against SRC`` (repeatable) also times ``netspec check`` from another source tree (say
a checkout of main, or this tree with a command removed) in the same rounds. Run from the
repository root:

    python benchmarks/check_speed.py [--repeats 7] [--spec specs/googlenet.yaml]
    python benchmarks/check_speed.py --spec specs/torchvision/efficientnet.yaml \\
        --variant efficientnet_v2_l --variant efficientnet_b7
    python benchmarks/check_speed.py --against ../main/src      # this tree vs main
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
IMPORT_TORCH = "python -c 'import torch'"


def one_run(command: list[str], src: Path) -> tuple[float, float]:
    """Wall and CPU (user + system) time of one fresh-process run of ``command`` with
    ``src`` on PYTHONPATH; CPU time is less disturbed by other work on a shared machine."""
    env = dict(os.environ, PYTHONPATH=str(src))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime


Runs = dict[str, tuple[list[str], Path]]


def checks(spec: str, variants: list[str], against: list[Path]) -> Runs:
    """The ``netspec check`` runs to time: one per variant (or the spec), per source tree."""
    python = sys.executable
    runs: Runs = {}
    for variant in variants or [None]:
        command = [python, "-m", "netspec", "check", spec]
        label = f"netspec check {Path(spec).name}"
        if variant is not None:
            command += ["--variant", variant]
            label += f" --variant {variant}"
        runs[label] = (command, ROOT / "src")
        for other in against:
            runs[f"  ... from {other}"] = (command, other.resolve())
    return runs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--spec", default=str(ROOT / "specs" / "googlenet.yaml"))
    parser.add_argument(
        "--variant", action="append", default=[], help="a variant of the spec (repeatable)"
    )
    parser.add_argument(
        "--against",
        type=Path,
        action="append",
        default=[],
        help="another src/ to time netspec check from (repeatable)",
    )
    args = parser.parse_args()
    python = sys.executable
    runs = {
        "python startup alone": ([python, "-c", "pass"], ROOT / "src"),
        IMPORT_TORCH: ([python, "-c", "import torch"], ROOT / "src"),
        **checks(args.spec, args.variant, args.against),
    }
    times: dict[str, list[float]] = {label: [] for label in runs}
    cpu: dict[str, list[float]] = {label: [] for label in runs}
    for round_number in range(args.repeats + 1):
        for label, (command, src) in runs.items():
            wall, used = one_run(command, src)
            if round_number:  # round 0 warms caches: bytecode, the OS's file cache
                times[label].append(wall)
                cpu[label].append(used)
    width = max(len(label) for label in runs)
    for label, measured in times.items():
        print(
            f"{label:<{width}}  best {min(measured) * 1000:7.1f} ms  "
            f"median {statistics.median(measured) * 1000:7.1f} ms  "
            f"range {min(measured) * 1000:.0f}-{max(measured) * 1000:.0f} ms  "
            f"CPU median {statistics.median(cpu[label]) * 1000:.0f} ms"
        )
    median = statistics.median
    for label in list(runs)[2:]:
        best_ratio = min(times[label]) / min(times[IMPORT_TORCH])
        median_ratio = median(times[label]) / median(times[IMPORT_TORCH])
        cpu_ratio = median(cpu[label]) / median(cpu[IMPORT_TORCH])
        # Per round as well: the two ran seconds apart, so a round's ratio shares its load.
        rounds = [
            ours / torch for ours, torch in zip(times[label], times[IMPORT_TORCH], strict=True)
        ]
        print(
            f"ratio {label.strip()} / import torch: best {best_ratio:.3f}, "
            f"median {median_ratio:.3f}, CPU median {cpu_ratio:.3f}, per round median "
            f"{median(rounds):.3f} (spread {min(rounds):.3f}-{max(rounds):.3f})"
        )
    print(f"bar: < 0.25 ({args.repeats} interleaved rounds)")


if __name__ == "__main__":
    main()
