"""Precision table: hand-written fp32 against netspec's --optimize fp32, bf16 and int8 artifacts.

For each network, in one process, on the same weights:

* **speed** at each batch size (default 1 and 32): the hand-written eager model
  (``tests/seed_models.py``; for ResNet-18, which has no hand-written copy, the plain
  netspec build — d2l's module tree), the artifact ``netspec build --format auto --optimize``
  writes for that batch (the fastest fp32 format), the bf16 TorchScript artifact, and the
  int8 artifacts (ONNX and TorchScript), each loaded as ``netspec predict`` loads it, timed
  in interleaved rounds (rotated order, ``OMP_WAIT_POLICY=PASSIVE``, onnxruntime not
  spinning): median and interquartile range, speed-up over the hand-written model and over
  ``--optimize`` fp32;
* **the tuner re-timed**: the program ``--format auto --optimize`` chose against every
  candidate it considered — each format's artifact, and the in-format candidates of the
  chosen format rebuilt by name — in a fresh interleaved measurement (``--retime-rounds``):
  how much slower than the fastest the choice is (the issue's bar: never more than 5%), as
  the ratio of medians and as the median of per-round ratios against the fastest *other*
  program; the candidates that are the chosen program under another name give the noise;
* **accuracy**, for networks given trained weights (``--weights NAME=RUN_DIR``): fp32, bf16
  and int8 top-1 accuracy on the test split of ``--data``, as the build's verification
  measured it (the same numbers the artifacts' metadata records).

Calibration: 256 seeded training images of ``--data`` (Fashion-MNIST, resized as training
does); without ``--data``, random images (speed only). Run from the repository root; on a
quiet machine one network takes a few minutes:

    python benchmarks/precision.py --data ../shared/data/fashion-mnist \\
        --weights lenet=runs/lenet resnet18-28=runs/resnet18_28 [--networks alexnet nin] \\
        [--batches 1 32] [--rounds 7] [--json results.json]

``resnet18-28`` is ``specs/resnet18.yaml`` at a 28×28 input (the issue's accuracy network).
``--tuner-only`` skips the bf16 and int8 artifacts: a quicker repeat of the tuner check;
``--summarize run1.json run2.json run3.json`` prints the tuner check over several runs.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads: see netspec.tuning

import argparse
import json
import statistics
import sys
import tempfile
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import nn

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "tests"))

from netspec.artifacts import load_artifact  # noqa: E402
from netspec.compiler import compile_document, read_spec  # noqa: E402
from netspec.datasets import Dataset  # noqa: E402
from netspec.evaluation import EvaluationSet, evaluation_images  # noqa: E402
from netspec.export import export_model  # noqa: E402
from netspec.spec import Spec  # noqa: E402
from netspec.tuning import SCRIPTED, Timing, candidate, fastest, measure  # noqa: E402
from netspec.weights import load_weights  # noqa: E402
from seed_models import SEED_NETWORKS  # noqa: E402

#: name -> (spec file, params, hand-written factory or None, input shape override or None)
NETWORKS: dict[str, tuple[str, dict[str, Any], Any, tuple[int, ...] | None]] = {
    **{
        name: (SEED_NETWORKS[name][0], SEED_NETWORKS[name][1], SEED_NETWORKS[name][2], None)
        for name in ("lenet", "alexnet", "nin", "googlenet", "vgg11-small")
    },
    "resnet18": ("resnet18.yaml", {}, None, None),
    "resnet18-28": ("resnet18.yaml", {}, None, (1, 28, 28)),
}
DEFAULT_NETWORKS = ("lenet", "alexnet", "nin", "googlenet", "vgg11-small", "resnet18")


@dataclass
class Network:
    name: str
    spec: Spec
    hand: nn.Module
    plain: nn.Module
    trained: bool


@dataclass
class Result:
    """Everything measured for one network."""

    network: str
    speed: dict[int, dict[str, dict[str, float]]] = field(default_factory=dict)
    chosen: dict[int, str] = field(default_factory=dict)
    retime: dict[int, dict[str, Any]] = field(default_factory=dict)
    accuracy: dict[str, dict[str, float]] = field(default_factory=dict)
    build_seconds: dict[str, float] = field(default_factory=dict)


def load_network(name: str, weights: str | None) -> Network:
    spec_file, params, factory, shape = NETWORKS[name]
    document = read_spec(ROOT / "specs" / spec_file)
    spec = Spec.of(compile_document(document, params, input_shape=shape))
    plain = spec.build(seed=0).eval()
    if weights is not None:
        path = Path(weights)
        load_weights(plain, path / "best.pt" if path.is_dir() else path)
    hand = plain
    if factory is not None:
        torch.manual_seed(0)
        hand = factory().eval()
        if weights is None:
            plain.load_state_dict(hand.state_dict(), strict=True)
        else:
            hand.load_state_dict(plain.state_dict(), strict=True)
    return Network(name, spec, hand, plain, weights is not None)


def calibration_set(net: Network, data: str | None) -> EvaluationSet:
    if data is not None:
        return evaluation_images(
            data, "train", 256, 0, role="calibration data", preprocessing=net.spec.preprocessing
        )
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (256, 1, 28, 28), generator=generator, dtype=torch.uint8)
    labels = torch.zeros(256, dtype=torch.int64)
    classes = tuple(map(str, range(10)))
    dataset = Dataset("random images", "train", images, labels, classes, Path("random"), 1)
    return EvaluationSet(dataset, torch.arange(256), "random", 0)


def timed_build(result: Result, key: str, **kwargs: Any) -> Any:
    start = time.perf_counter()
    report = export_model(**kwargs)
    result.build_seconds[key] = round(time.perf_counter() - start, 1)
    return report


def bench_network(net: Network, args: argparse.Namespace, folder: Path) -> Result:
    result = Result(net.name)
    calibration = calibration_set(net, args.data)
    evaluation = None
    if net.trained and args.data is not None:
        evaluation = evaluation_images(
            args.data, "test", None, 0, role="evaluation data", preprocessing=net.spec.preprocessing
        )
    common = {"model": net.plain, "spec": net.spec}
    lowered: dict[str, Path] = {}
    for key, fmt, precision in () if args.tuner_only else LOWERINGS:
        path = folder / f"{net.name}-{precision}.{fmt}"
        report = timed_build(
            result,
            key,
            **common,
            out=path,
            format=fmt,
            precision=precision,
            calibration=calibration if precision == "int8" else None,
            evaluation=evaluation,
            max_accuracy_drop=100.0,
        )
        lowered[key] = path
        if report.accuracy is not None:
            result.accuracy["fp32"] = {"accuracy": report.accuracy.reference_accuracy}
            result.accuracy[key] = {
                "accuracy": report.accuracy.accuracy,
                "agreement": report.accuracy.agreement,
                "drop_points": report.accuracy.drop_points,
                "images": report.accuracy.images,
            }
    for batch in args.batches:
        kept = folder / f"candidates-{batch}"
        report = timed_build(
            result,
            f"--optimize fp32 b{batch}",
            **common,
            out=lambda chosen, b=batch: folder / f"{net.name}-opt-b{b}{chosen.suffix}",
            format="auto",
            optimize=True,
            batch=batch,
            keep_candidates=kept,
        )
        result.chosen[batch] = _chosen_name(report.optimization or {})
        print(f"  batch {batch}: --optimize chose {result.chosen[batch]}", flush=True)
        runners = {
            "hand eager fp32": _inference(net.hand),
            "--optimize fp32": load_artifact(report.path, measuring=True).run,
            **{key: load_artifact(path, measuring=True).run for key, path in lowered.items()},
        }
        x = torch.rand((batch, *net.spec.input_shape), generator=torch.Generator().manual_seed(1))
        timings = measure(runners, x, rounds=args.rounds, max_rounds=args.rounds)
        result.speed[batch] = {name: _stats(t) for name, t in timings.items()}
        result.retime[batch] = retime(net, report, kept, x, args.retime_rounds)
    return result


def _chosen_name(plan: dict[str, Any]) -> str:
    """``onnx``, or ``torchscript: channels_last+mkldnn`` when the format had a plan."""
    fmt = (plan.get("formats") or {}).get("chosen", "?")
    return f"{fmt}: {plan['chosen']}" if plan.get("timings_ms") else fmt


def _inference(module: nn.Module) -> Any:
    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return module(x)

    return run


def _stats(timing: Timing) -> dict[str, float]:
    low, high = timing.quartiles
    return {"median_ms": timing.median * 1e3, "q1_ms": low * 1e3, "q3_ms": high * 1e3}


def retime(net: Network, report: Any, kept: Path, x: torch.Tensor, rounds: int) -> dict[str, Any]:
    """The chosen artifact against every candidate the tuner considered, timed afresh.

    Two figures per candidate: the ratio of the medians (what a user timing each program
    alone would compare) and the median of the per-round ratios — each round runs every
    program once, so a burst of load that slows one round slows both sides of its ratio.
    The candidates that are the chosen program under another name (the kept artifact of the
    chosen format; for TorchScript, the chosen plan rebuilt) are not rivals: how far they
    drift from the chosen artifact in the same rounds is the measurement's own noise.
    """
    runners = {"chosen": load_artifact(report.path, measuring=True).run}
    for path in sorted(kept.iterdir()):
        runners[f"format {load_artifact(path).format}"] = load_artifact(path, measuring=True).run
    plan = report.optimization or {}
    for name in plan.get("timings_ms") or {}:  # the chosen format's own candidates
        runners[f"{report.format} {name}"] = _inference(candidate(net.plain, name))
    timings = measure(runners, x, rounds=rounds, max_rounds=rounds)
    copies = _copies_of_chosen(report, plan, timings)
    best = fastest({k: v for k, v in timings.items() if k != "chosen"})
    paired = {n: paired_ratio(timings["chosen"], t) for n, t in timings.items() if n != "chosen"}
    rivals = {name: ratio for name, ratio in paired.items() if name not in copies}
    rival = max(rivals, key=rivals.__getitem__) if rivals else None
    copy = timings.get(f"format {report.format}")
    return {
        "ratio_to_fastest": timings["chosen"].median / timings[best].median,
        "ratio_to_own_copy": None if copy is None else timings["chosen"].median / copy.median,
        "fastest": best,
        "copies": sorted(copies),
        "paired": paired,
        "fastest_rival": rival,
        "paired_ratio_to_fastest_rival": None if rival is None else rivals[rival],
        "paired_noise": max((abs(paired[name] - 1) for name in copies), default=None),
        "rounds": rounds,
        "timings": {name: _stats(t) for name, t in timings.items()},
    }


def paired_ratio(mine: Timing, theirs: Timing) -> float:
    """The median over the rounds of my time ÷ their time in the same round."""
    return statistics.median(a / b for a, b in zip(mine.samples, theirs.samples, strict=True))


def _copies_of_chosen(report: Any, plan: dict[str, Any], timings: dict[str, Timing]) -> set[str]:
    """The re-timed candidates that are the chosen program under another name."""
    copies = {f"format {report.format}"}
    if report.format == "torchscript" and plan.get("chosen"):
        copies.add(f"torchscript {SCRIPTED}{plan['chosen']}")
    return copies & set(timings)


#: The lower-precision artifacts: (column, format, precision).
LOWERINGS = (
    ("bf16 torchscript", "torchscript", "bf16"),
    ("int8 onnx", "onnx", "int8"),
    ("int8 torchscript", "torchscript", "int8"),
)
SPEED_COLUMNS = (
    "hand eager fp32",
    "--optimize fp32",
    "bf16 torchscript",
    "int8 onnx",
    "int8 torchscript",
)
LOWERED = ("bf16 torchscript", "int8 onnx", "int8 torchscript")


def markdown(header: list[str], rows: list[list[str]]) -> list[str]:
    lines = ["| " + " | ".join(header) + " |", "| " + " | ".join("---" for _ in header) + " |"]
    return lines + ["| " + " | ".join(row) + " |" for row in rows]


def speed_table(results: list[Result]) -> list[str]:
    """ms: median [IQR]; speed-up over the hand-written model (and over --optimize fp32)."""
    rows = []
    columns = [
        key for key in SPEED_COLUMNS if any(key in s for r in results for s in r.speed.values())
    ]
    for result in results:
        for batch, speed in result.speed.items():
            hand = speed["hand eager fp32"]["median_ms"]
            opt = speed["--optimize fp32"]["median_ms"]
            cells = [result.network, str(batch)]
            for key in columns:
                s = speed[key]
                cell = f"{s['median_ms']:.1f} [{s['q1_ms']:.1f}–{s['q3_ms']:.1f}]"
                if key != "hand eager fp32":
                    cell += f" {hand / s['median_ms']:.2f}×"
                if key in LOWERED:
                    cell += f" / {opt / s['median_ms']:.2f}×"
                if key == "--optimize fp32":
                    cell += f" ({result.chosen[batch]})"
                cells.append(cell)
            rows.append(cells)
    return markdown(["network", "batch", *columns], rows)


def retime_table(results: list[Result]) -> list[str]:
    rows = [
        [result.network, str(batch), result.chosen[batch], *_retime_cells(row)]
        for result in results
        for batch, row in result.retime.items()
    ]
    header = ["network", "batch", "chosen", "fastest re-timed", "chosen ÷ fastest (medians)"]
    header += ["fastest other program", "chosen ÷ it (paired)", "noise: chosen ÷ its copies"]
    return markdown([*header, "candidates"], rows)


def _retime_cells(row: dict[str, Any]) -> list[str]:
    noise = row.get("paired_noise")
    rival = row.get("paired_ratio_to_fastest_rival")
    return [
        row["fastest"],
        _flagged(row["ratio_to_fastest"]),
        row.get("fastest_rival") or "—",
        "—" if rival is None else _flagged(rival),
        "—" if noise is None else f"±{noise:.3f}",
        str(len(row["timings"]) - 1),
    ]


def _flagged(ratio: float) -> str:
    return f"{ratio:.3f}" + (" **>5%**" if ratio > 1 + BAR else "")


#: The issue's bar: the chosen program at most this much slower than the fastest candidate.
BAR = 0.05


def accuracy_table(results: list[Result]) -> list[str]:
    rows = []
    for result in results:
        if not result.accuracy:
            continue
        cells = [result.network, f"{result.accuracy['fp32']['accuracy']:.2%}"]
        for key in LOWERED:
            a = result.accuracy[key]
            change = f"{0.0 - a['drop_points']:+.2f} pt"
            cells.append(f"{a['accuracy']:.2%} ({change}; agreement {a['agreement']:.2%})")
        rows.append(cells)
    return markdown(["network", "fp32", *LOWERED], rows) if rows else []


def print_tables(results: list[Result]) -> None:
    print("\n## Speed: ms, median [IQR]; × hand eager fp32 / × --optimize fp32\n")
    print("\n".join(speed_table(results)))
    print("\n## Tuner re-timed: the chosen program against every candidate\n")
    print("\n".join(retime_table(results)))
    accuracy = accuracy_table(results)
    if accuracy:
        print("\n## Test accuracy (top-1; change from fp32; agreement with fp32)\n")
        print("\n".join(accuracy))
    for result in results:
        built = ", ".join(f"{k} {v} s" for k, v in result.build_seconds.items())
        print(f"build times, {result.network}: {built}")


def summarize(paths: list[str]) -> None:
    """The tuner check over several runs' ``--json`` files: one row per network and batch."""
    rows: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for path in paths:
        for result in json.loads(Path(path).read_text()):
            for batch, row in result["retime"].items():
                row = {**row, "chosen": result["chosen"][batch]}
                rows.setdefault((result["network"], batch), []).append(row)
    table = []
    for (network, batch), runs in rows.items():
        table.append(
            [
                network,
                batch,
                ", ".join(run["chosen"] for run in runs),
                ", ".join(_flagged(run["ratio_to_fastest"]) for run in runs),
                ", ".join(_maybe(run.get("paired_ratio_to_fastest_rival")) for run in runs),
                ", ".join(_maybe(run.get("paired_noise"), "±") for run in runs),
            ]
        )
    header = ["network", "batch", "chosen per run", "chosen ÷ fastest (medians)"]
    print("\n".join(markdown([*header, "chosen ÷ fastest other (paired)", "noise"], table)))
    for runs in rows.values():
        for run in runs:
            run["ratio_to_fastest_rival"] = _ratio_to_fastest_rival(run)
    for key, label in (
        ("ratio_to_fastest", "chosen ÷ fastest re-timed (medians)"),
        ("ratio_to_fastest_rival", "chosen ÷ fastest other program (medians)"),
        ("paired_ratio_to_fastest_rival", "chosen ÷ fastest other program (paired)"),
    ):
        ratios = [run[key] for runs in rows.values() for run in runs if run.get(key) is not None]
        if not ratios:
            continue
        over = sum(ratio > 1 + BAR for ratio in ratios)
        print(
            f"{label}: {over} of {len(ratios)} beyond {BAR:.0%}; median "
            f"{statistics.median(ratios):.3f}, range {min(ratios):.3f}–{max(ratios):.3f}"
        )


def _ratio_to_fastest_rival(run: dict[str, Any]) -> float | None:
    """The chosen program's median ÷ the lowest median of the candidates that are other
    programs (not the chosen one's copies)."""
    if "copies" not in run:  # a run of the benchmark from before copies were recorded
        return None
    medians = {name: t["median_ms"] for name, t in run["timings"].items()}
    rivals = [m for name, m in medians.items() if name != "chosen" and name not in run["copies"]]
    return medians["chosen"] / min(rivals) if rivals else None


def _maybe(value: float | None, prefix: str = "") -> str:
    if value is None:
        return "—"
    return f"{prefix}{value:.3f}" if prefix else _flagged(value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--networks", nargs="+", default=list(DEFAULT_NETWORKS), choices=sorted(NETWORKS)
    )
    parser.add_argument("--batches", nargs="+", type=int, default=[1, 32])
    parser.add_argument("--rounds", type=int, default=7, help="interleaved timing rounds")
    parser.add_argument(
        "--retime-rounds",
        type=int,
        default=15,
        help="rounds of the tuner's re-time (every candidate once per round)",
    )
    parser.add_argument("--data", help="Fashion-MNIST folder: calibration and accuracy")
    parser.add_argument(
        "--weights",
        nargs="*",
        default=[],
        metavar="NAME=RUN_DIR",
        help="trained weights per network (a checkpoint or a run directory): their accuracy "
        "is measured",
    )
    parser.add_argument(
        "--tuner-only",
        action="store_true",
        help="skip the bf16 and int8 artifacts: time the hand-written model, --optimize's "
        "choice and every candidate it considered (a quicker repeat of the tuner check)",
    )
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument(
        "--summarize",
        nargs="+",
        metavar="JSON",
        help="measure nothing: print the tuner check over these runs' --json files",
    )
    parser.add_argument("--json", help="write the results here")
    args = parser.parse_args()
    if args.summarize:
        summarize(args.summarize)
        return
    weights = dict(item.split("=", 1) for item in args.weights)
    if args.threads:
        torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")
    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    policy = os.environ.get("OMP_WAIT_POLICY")
    threads = torch.get_num_threads()
    print(f"torch {torch.__version__}, {threads} threads, OMP_WAIT_POLICY={policy}, load {load}")
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in args.networks:
            started = time.perf_counter()
            print(f"{name} ...", flush=True)
            folder = Path(tmp) / name
            folder.mkdir()
            results.append(bench_network(load_network(name, weights.get(name)), args, folder))
            print(f"  {time.perf_counter() - started:.0f} s", flush=True)
    print_tables(results)
    print(f"load average at the end: {' '.join(f'{x:.1f}' for x in os.getloadavg())}")
    if args.json:
        Path(args.json).write_text(json.dumps([r.__dict__ for r in results], indent=2))


if __name__ == "__main__":
    main()
