"""How fast is ``netspec check`` compared with merely importing torch?

The issue's bar: checking GoogLeNet must take well under a quarter of ``import torch``.
Both are measured here in one run, each in fresh interpreters, interleaved round by round
(best, median and worst of N; the ratio also per round), so the ratio is independent of
how busy the machine is.
``--against SRC`` (repeatable) also times ``netspec check`` from another source tree (say a checkout
of main, or this tree with a command removed) in the same rounds. Run from the
repository root:

    python benchmarks/check_speed.py [--repeats 7] [--spec specs/googlenet.yaml]
    python benchmarks/check_speed.py --against ../main/src      # this tree vs main
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def one_run(command: list[str], src: Path) -> float:
    """Wall time of one fresh-process run of ``command`` with ``src`` on PYTHONPATH."""
    env = dict(os.environ, PYTHONPATH=str(src))
    start = time.perf_counter()
    subprocess.run(command, check=True, env=env, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--spec", default=str(ROOT / "specs" / "googlenet.yaml"))
    parser.add_argument(
        "--against",
        type=Path,
        action="append",
        default=[],
        help="another src/ to time netspec check from (repeatable)",
    )
    args = parser.parse_args()
    python = sys.executable
    check = [python, "-m", "netspec", "check", args.spec]
    here = ROOT / "src"
    runs = {
        "python startup alone": ([python, "-c", "pass"], here),
        "python -c 'import torch'": ([python, "-c", "import torch"], here),
        f"netspec check {Path(args.spec).name}": (check, here),
    }
    for other in args.against:
        runs[f"  ... from {other}"] = (check, other.resolve())
    times: dict[str, list[float]] = {label: [] for label in runs}
    for _ in range(args.repeats):
        for label, (command, src) in runs.items():
            times[label].append(one_run(command, src))
    for label, measured in times.items():
        print(
            f"{label:<40} best {min(measured) * 1000:7.1f} ms  "
            f"median {statistics.median(measured) * 1000:7.1f} ms  "
            f"worst {max(measured) * 1000:7.1f} ms"
        )
    torch_times = times["python -c 'import torch'"]
    for label in list(runs)[2:]:
        # Per round as well: the two ran seconds apart, so a round's ratio shares its load.
        rounds = [ours / torch for ours, torch in zip(times[label], torch_times, strict=True)]
        print(
            f"ratio {label.strip()} / import torch: best {min(times[label]) / min(torch_times):.3f}"
            f", per round median {statistics.median(rounds):.3f}"
            f" (spread {min(rounds):.3f}-{max(rounds):.3f})"
        )
    ours = times[list(runs)[2]]
    for label in list(runs)[3:]:
        rounds = [mine / theirs for mine, theirs in zip(ours, times[label], strict=True)]
        print(
            f"ratio this tree / {label.strip().removeprefix('... from ')}: per round median "
            f"{statistics.median(rounds):.3f} (spread {min(rounds):.3f}-{max(rounds):.3f})"
        )
    print("bar: < 0.25")


if __name__ == "__main__":
    main()
