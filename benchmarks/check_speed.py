"""How fast is ``netspec check`` compared with merely importing torch?

The issue's bar: checking GoogLeNet must take well under a quarter of ``import torch``.
Both are measured here in one run, each in fresh interpreters, best of N, so the ratio is
independent of how busy the machine is. Run from the repository root:

    python benchmarks/check_speed.py [--repeats 7] [--spec specs/googlenet.yaml]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def best_time(command: list[str], repeats: int) -> float:
    """Best wall time of ``repeats`` fresh-process runs (the least disturbed one)."""
    env = dict(os.environ, PYTHONPATH=str(ROOT / "src"))
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--spec", default=str(ROOT / "specs" / "googlenet.yaml"))
    args = parser.parse_args()
    python = sys.executable
    baseline = best_time([python, "-c", "pass"], args.repeats)
    torch_import = best_time([python, "-c", "import torch"], args.repeats)
    check = best_time([python, "-m", "netspec", "check", args.spec], args.repeats)
    print(f"python startup alone         {baseline * 1000:8.1f} ms")
    print(f"python -c 'import torch'     {torch_import * 1000:8.1f} ms")
    print(f"netspec check {Path(args.spec).name:<14} {check * 1000:8.1f} ms")
    print(f"ratio check / import torch   {check / torch_import:8.3f}  (bar: < 0.25)")


if __name__ == "__main__":
    main()
