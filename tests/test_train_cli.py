"""``netspec train`` and ``netspec eval`` as a user meets them, on the shipped LeNet spec.

The data is a tiny synthetic Fashion-MNIST written per test module; ``--no-download``
keeps every test off the network.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
import torch

from conftest import SPECS
from netspec.cli import main
from train_support import write_fashion_mnist

#: Tiny models: one torch thread is as fast, and immune to stalls when cores are busy.
pytestmark = pytest.mark.usefixtures("single_thread")

LENET = str(SPECS / "lenet.yaml")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> str:
    return str(write_fashion_mnist(tmp_path_factory.mktemp("fashion"), train=256, test=128))


def train(data_dir: str, out: Path, *flags: str) -> int:
    return main(
        ["train", LENET, "--data-dir", data_dir, "--out", str(out), "--device", "cpu",
         "--no-download", "--batch-size", "64", *flags]
    )  # fmt: skip


def test_train_uses_the_specs_recipe_and_prints_epoch_lines(
    data_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train(data_dir, tmp_path / "run", "--epochs", "2") == 0
    captured = capsys.readouterr()
    lines = captured.out.splitlines()
    assert lines[0].startswith("epoch 1, loss ") and lines[1].startswith("epoch 2, loss ")
    assert "trained epochs 1-2 in" in lines[2]
    assert "\r" not in captured.err, "no progress bar when stderr is not a terminal"
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    # specs/lenet.yaml carries d2l's recipe; only the flags given here override it.
    assert info["recipe"] | {"batch_size": 0, "epochs": 0} == {
        "optimizer": "sgd", "lr": 0.9, "batch_size": 0, "epochs": 0, "resize": None,
        "init": "xavier_uniform", "seed": 0, "momentum": 0.0, "weight_decay": 0.0, "amp": "none",
    }  # fmt: skip
    assert (tmp_path / "run" / "spec.yaml").read_text() == Path(LENET).read_text()


def test_progress_bar_on_request(
    data_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train(data_dir, tmp_path / "run", "--epochs", "1", "--progress") == 0
    captured = capsys.readouterr()
    assert "\repoch 1/1 [" in captured.err and "loss" in captured.err
    assert captured.out.startswith("epoch 1, loss ")  # the epoch line itself is unchanged


def test_eval_reports_overall_and_per_class_accuracy(
    data_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train(data_dir, tmp_path / "run", "--epochs", "1", "--optimizer", "adam") == 0
    capsys.readouterr()
    weights = tmp_path / "run" / "best.pt"
    assert main(["eval", LENET, "--weights", str(weights), "--data-dir", data_dir,
                 "--device", "cpu", "--no-download"]) == 0  # fmt: skip
    report = capsys.readouterr().out.splitlines()
    best = torch.load(weights, weights_only=True)["best_test_acc"]
    assert report[0].startswith(f"test acc {best:.3f} (")
    assert report[2].startswith("T-shirt/top") and report[-1].startswith("Ankle boot")
    assert len(report) == 12


def test_build_exports_trained_weights(data_dir: str, tmp_path: Path) -> None:
    assert train(data_dir, tmp_path / "run", "--epochs", "1") == 0
    artifact = tmp_path / "lenet.ts.pt"
    assert main(["build", LENET, "--weights", str(tmp_path / "run" / "last.pt"),
                 "-o", str(artifact)]) == 0  # fmt: skip
    trained = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["model"]
    scripted = torch.jit.load(str(artifact))
    assert torch.equal(scripted.state_dict()["0.weight"], trained["0.weight"])


def test_resume_from_the_command_line_extends_a_run(
    data_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train(data_dir, tmp_path / "run", "--epochs", "1") == 0
    assert main(["train", "--resume", str(tmp_path / "run"), "--epochs", "2",
                 "--data-dir", data_dir, "--device", "cpu", "--no-download"]) == 0  # fmt: skip
    assert capsys.readouterr().out.splitlines()[-2].startswith("epoch 2, loss ")
    with open(tmp_path / "run" / "metrics.csv", newline="") as stream:
        assert [row["epoch"] for row in csv.DictReader(stream)] == ["1", "2"]
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["recipe"]["epochs"] == 2 and len(info["resumed"]) == 1


@pytest.mark.parametrize(
    ("argv", "status", "message"),
    [
        (["train"], 2, "give a SPEC file to train, or --resume RUN_DIR"),
        (["train", LENET, "--lr", "-1"], 2, "--lr: Input should be greater than 0"),
        (["train", LENET, "--resize", "32"], 2, "resize 32 does not match the input"),
        (["train", "--resume", "nowhere", "--lr", "0.1"], 2, "--lr cannot change when resuming"),
        (["train", "--resume", "nowhere"], 2, "--resume nowhere: no such run directory"),
        (["train", LENET, "--device", "cuda:7"], 2, "--device cuda"),
        (["eval", LENET, "--weights", "missing.pt"], 1, "weights file not found: missing.pt"),
    ],
)
def test_mistakes_are_one_line_with_the_right_status(
    argv: list[str], status: int, message: str, data_dir: str,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    assert main([*argv, "--data-dir", data_dir, "--no-download"]) == status
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_missing_data_is_one_line_naming_data_dir(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert train(str(tmp_path / "empty"), tmp_path / "run") == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--data-dir" in err and err.startswith("error: ")


def test_a_224_network_trains_on_resized_batches(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The small VGG (input 224x224, dropout, --set) on 32 images upscaled per batch."""
    data = write_fashion_mnist(tmp_path / "data", train=32, test=16)
    argv = ["train", str(SPECS / "vgg11.yaml"), "--set", "ratio=16", "--data-dir", str(data),
            "--out", str(tmp_path / "run"), "--epochs", "1", "--batch-size", "16",
            "--device", "cpu", "--no-download"]  # fmt: skip
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith("epoch 1, loss ")
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["image_size"] == [224, 224] and info["params"]["ratio"] == 16
    assert info["channels_last"] is True


def test_compiled_training_saves_the_specs_keys(
    data_dir: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`--compile` trains through torch.compile yet checkpoints the uncompiled module."""
    import torch

    assert train(data_dir, tmp_path / "run", "--epochs", "1", "--compile") == 0
    assert capsys.readouterr().out.startswith("epoch 1, loss ")
    state = torch.load(tmp_path / "run" / "last.pt", weights_only=True)["model"]
    assert not any(key.startswith("_orig_mod.") for key in state)
    assert set(state) == set(torch.load(tmp_path / "run" / "best.pt", weights_only=True)["model"])
