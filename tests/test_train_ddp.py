"""``torchrun --nproc_per_node=2 -m netspec train``: two CPU processes with gloo.

Each rank trains on its shard; the printed metrics are reduced across ranks, so the test
accuracy of the last epoch must equal a single-process evaluation of the saved weights on
the whole test set; and only rank 0 prints and writes the run directory.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import torch

from conftest import SPECS, cli_env
from netspec import compile_spec
from netspec.train.runner import evaluate_weights
from train_support import write_fashion_mnist


def test_two_process_torchrun_trains_with_ddp(tmp_path: Path) -> None:
    data_dir = write_fashion_mnist(tmp_path / "data", train=256, test=128)
    out = tmp_path / "run"
    env = cli_env() | {"OMP_NUM_THREADS": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
         "-m", "netspec", "train", str(SPECS / "lenet.yaml"), "--data-dir", str(data_dir),
         "--out", str(out), "--epochs", "2", "--batch-size", "32", "--optimizer", "adam",
         "--lr", "0.01", "--device", "cpu", "--no-download"],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=240,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    epoch_lines = [line for line in done.stdout.splitlines() if line.startswith("epoch ")]
    assert len(epoch_lines) == 2, done.stdout  # printed by rank 0 only
    assert "x 2 processes" in done.stdout

    info = json.loads((out / "run.json").read_text())
    assert info["world_size"] == 2
    assert sorted(path.name for path in out.iterdir()) == [
        "best.pt", "best.safetensors", "curves.png", "last.pt", "metrics.csv", "run.json",
        "spec.yaml",
    ]  # fmt: skip
    checkpoint = torch.load(out / "last.pt", weights_only=True)
    assert len(checkpoint["rng"]) == 2  # every rank's RNG state, for an exact resume

    reported = checkpoint["history"][-1]["test_acc"]
    accuracy = evaluate_weights(
        compile_spec(str(SPECS / "lenet.yaml")), out / "last.pt", data_dir=data_dir,
        device="cpu", batch_size=32, download=False,
    )  # fmt: skip
    assert int(accuracy.total.sum()) == 128
    assert abs(accuracy.overall - reported) <= 1 / 128
