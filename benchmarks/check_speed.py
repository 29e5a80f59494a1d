"""How fast is ``netspec check`` compared with merely importing torch?

The issue's bar: checking GoogLeNet must take well under a quarter of ``import torch``.
Both are measured here in one run, each in fresh interpreters, best of N, so the ratio is
independent of how busy the machine is. Run from the repository root:

    python benchmarks/check_speed.py [--repeats 7] [--spec specs/googlenet.yaml]

``--baseline-src DIR`` also times ``netspec check`` from another checkout's ``src`` (say, an
older commit exported with ``git archive``), interleaved with the others, so that a
change's effect on checking speed is a ratio measured under the same load.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def run_once(command: list[str], src: Path) -> float:
    """Wall time of one fresh-process run of ``command`` with ``src`` on the path."""
    env = dict(os.environ, PYTHONPATH=str(src))
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def best_times(commands: dict[str, tuple[list[str], Path]], repeats: int) -> dict[str, float]:
    """Best wall time of each command over ``repeats`` rounds, the commands interleaved
    (each round runs every command once, so load changes hit them all alike)."""
    best = dict.fromkeys(commands, float("inf"))
    for _ in range(repeats):
        for name, (command, src) in commands.items():
            best[name] = min(best[name], run_once(command, src))
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--spec", default=str(ROOT / "specs" / "googlenet.yaml"))
    parser.add_argument("--baseline-src", type=Path, help="another checkout's src folder")
    args = parser.parse_args()
    python, src = sys.executable, ROOT / "src"
    check = [python, "-m", "netspec", "check", args.spec]
    commands = {
        "startup": ([python, "-c", "pass"], src),
        "torch": ([python, "-c", "import torch"], src),
        "check": (check, src),
    }
    if args.baseline_src is not None:
        commands["baseline"] = (check, args.baseline_src.resolve())
    best = best_times(commands, args.repeats)
    torch_import = best["torch"]
    print(f"python startup alone         {best['startup'] * 1000:8.1f} ms")
    print(f"python -c 'import torch'     {torch_import * 1000:8.1f} ms")
    print(f"netspec check {Path(args.spec).name:<14} {best['check'] * 1000:8.1f} ms")
    print(f"ratio check / import torch   {best['check'] / torch_import:8.3f}  (bar: < 0.25)")
    if "baseline" in best:
        print(f"baseline check               {best['baseline'] * 1000:8.1f} ms")
        print(f"baseline / import torch      {best['baseline'] / torch_import:8.3f}")


if __name__ == "__main__":
    main()
