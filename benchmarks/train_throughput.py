"""Training throughput: the seed's input pipeline and loop vs netspec's, in one process.

    python benchmarks/train_throughput.py --data-dir ../shared/data/fashion-mnist

For each case the same network (built from the same spec with the same seed), the same
optimizer, batch size and number of batches run through:

* seed    -- torchvision ``FashionMNIST`` with ``Resize`` (when resizing) + ``ToTensor`` per
             image, ``DataLoader(batch_size, shuffle=True, num_workers=2)``, and d2l's
             ``train_ch5`` step with its two ``.item()`` calls per batch;
* netspec -- the uint8 dataset in memory, conversion and bilinear resize per batch as
             tensor ops on the device, and ``netspec.train.loop.train_epoch``.

Only steady state is timed: each measurement first runs ``--warmup`` batches (which also
start the seed's worker processes), then times ``--batches`` more. The pipelines
alternate for ``--rounds`` rounds and the fastest round of each counts, so load from
other processes on a shared machine penalises neither side systematically. Ratios, not
absolute numbers, are the result to compare across machines.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from netspec import compile_spec  # noqa: E402
from netspec.data import IDX_FILES, Batches, load_fashion_mnist, write_idx  # noqa: E402
from netspec.optimize import compile_model  # noqa: E402
from netspec.train.loop import initialize_weights, make_optimizer, train_epoch  # noqa: E402
from netspec.train.runner import wants_channels_last  # noqa: E402


@dataclass(frozen=True)
class Case:
    label: str
    spec: str
    params: dict[str, int]
    batches: int
    batch_size: int | None = None  # None: the spec's recipe


CASES = {
    "lenet": Case("LeNet 28x28", "specs/lenet.yaml", {}, batches=40),
    "vgg": Case("small VGG-11 (ratio 8) 224x224", "specs/vgg11.yaml", {"ratio": 8}, batches=4),
    "alexnet": Case("AlexNet 224x224", "specs/alexnet.yaml", {}, batches=3),
}


def torchvision_raw_copy(data_dir: Path, into: Path) -> Path:
    """torchvision's FashionMNIST wants uncompressed files under ``root/FashionMNIST/raw``."""
    data = load_fashion_mnist(data_dir, download=False)
    raw = into / "FashionMNIST" / "raw"
    raw.mkdir(parents=True)
    for key, base in IDX_FILES.items():
        tensor = getattr(data, key)
        write_idx(raw / base, tensor.to(torch.uint8))
    return into


def seed_pipeline(
    root: Path, size: int, batch_size: int
) -> torch.utils.data.DataLoader[tuple[torch.Tensor, torch.Tensor]]:
    """The seed's ``load_data_fashion_mnist``: per-image PIL transforms in 2 workers."""
    import torchvision
    from torchvision import transforms

    steps: list[object] = []
    if size != 28:
        steps.append(transforms.Resize(size))
    steps.append(transforms.ToTensor())
    dataset = torchvision.datasets.FashionMNIST(
        root=str(root), train=True, download=False, transform=transforms.Compose(steps)
    )
    return torch.utils.data.DataLoader(dataset, batch_size=batch_size, shuffle=True, num_workers=2)


def time_seed(
    net: nn.Module,
    optimizer: torch.optim.Optimizer,
    loader: torch.utils.data.DataLoader[tuple[torch.Tensor, torch.Tensor]],
    warmup: int,
    batches: int,
) -> float:
    """d2l ``train_ch5``'s inner loop; returns seconds for ``batches`` after ``warmup``."""
    loss = nn.CrossEntropyLoss()
    device = torch.device("cpu")
    train_l_sum, train_acc_sum, n, batch_count = 0.0, 0.0, 0, 0
    start = time.perf_counter()
    for step, (X, y) in enumerate(loader):
        if step == warmup:
            start = time.perf_counter()
        if step == warmup + batches:
            break
        X = X.to(device)
        y = y.to(device)
        y_hat = net(X)
        l = loss(y_hat, y)  # noqa: E741 - the seed's name
        optimizer.zero_grad()
        l.backward()
        optimizer.step()
        train_l_sum += l.cpu().item()
        train_acc_sum += (y_hat.argmax(dim=1) == y).sum().cpu().item()
        n += y.shape[0]
        batch_count += 1  # noqa: SIM113 - the seed's bookkeeping, verbatim
    return time.perf_counter() - start


def time_netspec(
    net: nn.Module, optimizer: torch.optim.Optimizer, batches_of: Batches, warmup: int, batches: int
) -> float:
    device = batches_of.device
    train_epoch(net, optimizer, batches_of, device=device, num_batches=warmup)
    batches_of.set_epoch(1)
    start = time.perf_counter()
    train_epoch(net, optimizer, batches_of, device=device, num_batches=batches)
    return time.perf_counter() - start


def run_case(case: Case, args: argparse.Namespace, seed_root: Path) -> tuple[float, float]:
    spec = compile_spec(str(REPO / case.spec), case.params)
    recipe = spec.train
    batch_size = args.batch_size or case.batch_size or recipe.batch_size
    size = spec.input_shape[1]
    batches = args.batches or case.batches
    data = load_fashion_mnist(args.data_dir, download=False)

    def fresh() -> tuple[nn.Module, torch.optim.Optimizer]:
        torch.manual_seed(0)
        model = spec.build(seed=0)
        initialize_weights(model, recipe.init)
        return model, make_optimizer(model, recipe)

    channels_last = wants_channels_last(args.channels_last, torch.device("cpu"), fresh()[0])
    ours = Batches(
        data.train_images, data.train_labels, batch_size=batch_size, preprocessing=(size, size),
        device=torch.device("cpu"), shuffle=True, seed=0, channels_last=channels_last,
    )  # fmt: skip
    theirs = seed_pipeline(seed_root, size, batch_size)

    def measure_seed() -> float:
        model, optimizer = fresh()
        return time_seed(model, optimizer, theirs, args.warmup, batches)

    def measure_netspec(compiled: bool = False) -> float:
        model, optimizer = fresh()
        if channels_last:
            model.to(memory_format=torch.channels_last)
        # `netspec train --compile`: the warm-up batches include the one-time compilation.
        net = compile_model(model) if compiled else model
        return time_netspec(net, optimizer, ours, args.warmup, batches)

    timings: dict[str, list[float]] = {"seed": [], "netspec": []}
    measures: dict[str, Callable[[], float]] = {"seed": measure_seed, "netspec": measure_netspec}
    if args.compile:
        timings["compiled"] = []
        measures["compiled"] = lambda: measure_netspec(compiled=True)
    for _ in range(args.rounds):
        for name, measure in measures.items():
            timings[name].append(measure())
    images = batches * batch_size
    seed_rate = images / min(timings["seed"])
    netspec_rate = images / min(timings["netspec"])
    print(
        f"{case.label}: batch {batch_size}, {batches} timed batches x {args.rounds} rounds, "
        f"channels_last {'on' if channels_last else 'off'}\n"
        f"  seed    (PIL per image, DataLoader num_workers=2): {seed_rate:9.0f} images/s\n"
        f"  netspec (uint8 in memory, per-batch tensor ops):   {netspec_rate:9.0f} images/s\n"
        f"  ratio netspec/seed: {netspec_rate / seed_rate:.2f}x",
        flush=True,
    )
    if args.compile:
        compiled_rate = images / min(timings["compiled"])
        print(
            f"  netspec train --compile (torch.compile):            {compiled_rate:9.0f} images/s\n"
            f"  ratio netspec --compile/seed: {compiled_rate / seed_rate:.2f}x",
            flush=True,
        )
    return seed_rate, netspec_rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--data-dir",
        default=os.environ.get("NETSPEC_DATA_DIR", str(REPO.parent / "shared/data/fashion-mnist")),
        help="folder with the Fashion-MNIST IDX files",
    )
    parser.add_argument("--cases", default="lenet,vgg", help=f"comma list of {', '.join(CASES)}")
    parser.add_argument("--batches", type=int, help="timed batches per measurement")
    parser.add_argument("--batch-size", type=int, help="override the recipes' batch sizes")
    parser.add_argument("--warmup", type=int, default=3, help="untimed batches first")
    parser.add_argument("--rounds", type=int, default=5, help="alternating rounds; best counts")
    parser.add_argument(
        "--channels-last",
        choices=("auto", "on", "off"),
        default="auto",
        help="netspec's memory format (auto: what netspec train picks for the device)",
    )
    parser.add_argument(
        "--compile",
        action="store_true",
        help="also time netspec train --compile (torch.compile; compiles during warm-up)",
    )
    args = parser.parse_args()
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} intra-op threads, "
        f"{os.cpu_count()} CPUs",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as temp:
        seed_root = torchvision_raw_copy(Path(args.data_dir), Path(temp))
        for name in args.cases.split(","):
            run_case(CASES[name.strip()], args, seed_root)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
