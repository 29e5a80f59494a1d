"""Training runs end to end (netspec.train.runner) on a tiny synthetic dataset.

The network is d2l's LeNet built by hand, so these tests exercise training alone; the CLI
tests run the same through compiled specs.
"""

from __future__ import annotations

import csv
import os
import re
import signal
from pathlib import Path

import pytest
import torch

from netspec.recipe import TrainRecipe
from netspec.train import runner
from netspec.train.checkpoint import load_checkpoint
from netspec.train.errors import TrainUsageError
from netspec.train.loop import EPOCH_LINE, EpochMetrics, TrainState
from netspec.train.runner import RunOptions, run_training, wants_channels_last
from netspec.weights import read_state_dict
from train_support import HandBuiltSpec, write_fashion_mnist

#: Tiny models: one torch thread is as fast, and immune to stalls when cores are busy.
pytestmark = pytest.mark.usefixtures("single_thread")

EPOCH_LINE_PATTERN = re.compile(
    r"^epoch \d+, loss \d+\.\d{4}, train acc \d\.\d{3}, test acc \d\.\d{3}, time \d+\.\d sec$"
)
FAST = TrainRecipe(optimizer="adam", lr=0.01, batch_size=64, epochs=2, seed=0)


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fashion_mnist(tmp_path_factory.mktemp("fashion"), train=256, test=128)


def _train(
    data_dir: Path,
    out: Path,
    recipe: TrainRecipe = FAST,
    spec: HandBuiltSpec | None = None,
    **options: object,
) -> tuple[list[str], object]:
    lines: list[str] = []
    result = run_training(
        spec or HandBuiltSpec(),
        recipe,
        RunOptions(data_dir=data_dir, out=out, device="cpu", download=False, **options),  # type: ignore[arg-type]
        echo=lines.append,
    )
    return lines, result


def test_run_prints_the_seeds_epoch_lines_and_fills_the_run_directory(
    data_dir: Path, tmp_path: Path
) -> None:
    lines, _ = _train(data_dir, tmp_path / "run")
    assert [bool(EPOCH_LINE_PATTERN.match(line)) for line in lines[:2]] == [True, True]
    assert lines[2].startswith("trained epochs 1-2 in ") and "sec" in lines[2]
    run_dir = tmp_path / "run"
    for name in ("spec.yaml", "run.json", "last.pt", "best.pt", "metrics.csv", "curves.png"):
        assert (run_dir / name).is_file(), name
    assert (run_dir / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with open(run_dir / "metrics.csv", newline="") as stream:
        rows = list(csv.DictReader(stream))
    assert [row["epoch"] for row in rows] == ["1", "2"]
    assert list(rows[0]) == ["epoch", "loss", "train_acc", "test_acc", "time_sec"]
    assert not list(run_dir.glob(".*tmp")), "temporary files left behind"


def test_checkpoints_load_with_weights_only_and_hold_what_resume_needs(
    data_dir: Path, tmp_path: Path
) -> None:
    _train(data_dir, tmp_path / "run")
    raw = torch.load(tmp_path / "run" / "last.pt", weights_only=True)
    assert raw["epoch"] == 2 and set(raw) >= {"model", "optimizer", "rng", "recipe", "history"}
    assert isinstance(raw["rng"][0]["cpu"], torch.Tensor)
    assert raw["recipe"]["lr"] == FAST.lr
    best = load_checkpoint(tmp_path / "run" / "best.pt")
    assert best["best_test_acc"] == max(row["test_acc"] for row in best["history"])
    weights = read_state_dict(tmp_path / "run" / "last.pt")
    HandBuiltSpec().build().load_state_dict(weights)


def test_training_learns_the_synthetic_classes(data_dir: Path, tmp_path: Path) -> None:
    recipe = FAST.model_copy(update={"epochs": 3, "batch_size": 32})
    _, result = _train(data_dir, tmp_path / "run", recipe, HandBuiltSpec(relu=True))
    history = result.state.history  # type: ignore[attr-defined]
    assert history[-1].loss < history[0].loss
    assert history[-1].test_acc > 0.5


def test_same_seed_same_run(data_dir: Path, tmp_path: Path) -> None:
    _train(data_dir, tmp_path / "a")
    _train(data_dir, tmp_path / "b")
    first, second = (read_state_dict(tmp_path / name / "last.pt") for name in "ab")
    assert all(torch.equal(first[key], second[key]) for key in first)


@pytest.mark.parametrize("optimizer", ["sgd", "adam"])
def test_interrupted_and_resumed_run_ends_with_the_same_weights(
    data_dir: Path, tmp_path: Path, optimizer: str
) -> None:
    """4 epochs straight == 2 epochs, Ctrl-C, --resume for the rest: bit-identical weights.

    Dropout is in the network so that the RNG state in the checkpoint matters too.
    """
    spec = HandBuiltSpec(dropout=0.3)
    recipe = TrainRecipe(
        optimizer=optimizer, lr=0.05, momentum=0.9 if optimizer == "sgd" else 0.0,
        batch_size=48, epochs=4, init="xavier_uniform", seed=11,
    )  # fmt: skip
    _train(data_dir, tmp_path / "straight", recipe, spec)

    def interrupt_after_second_epoch(metrics: EpochMetrics, state: TrainState, _: bool) -> None:
        if metrics.epoch == 2:
            raise KeyboardInterrupt

    lines: list[str] = []
    options = RunOptions(data_dir=data_dir, out=tmp_path / "resumed", device="cpu", download=False)
    interrupted = run_training(
        spec, recipe, options, echo=lines.append, on_epoch_end=interrupt_after_second_epoch
    )
    assert interrupted.interrupted and interrupted.state.epochs_done == 2
    assert lines[-1].startswith("interrupted after epoch 2; continue with: netspec train --resume")

    resume = RunOptions(
        data_dir=data_dir, resume=tmp_path / "resumed", device="cpu", download=False
    )
    resumed = run_training(spec, recipe, resume, echo=lines.append)
    assert resumed.state.epochs_done == 4

    straight = read_state_dict(tmp_path / "straight" / "last.pt")
    continued = read_state_dict(tmp_path / "resumed" / "last.pt")
    assert straight.keys() == continued.keys()
    assert all(torch.equal(straight[key], continued[key]) for key in straight)
    metrics = [
        [row["loss"], row["train_acc"], row["test_acc"]]
        for name in ("straight", "resumed")
        for row in [load_checkpoint(tmp_path / name / "last.pt")["history"]]
        for row in row
    ]
    assert metrics[:4] == metrics[4:]
    with open(tmp_path / "resumed" / "metrics.csv", newline="") as stream:
        assert len(list(csv.DictReader(stream))) == 4


@pytest.mark.usefixtures("signals_at_default")
def test_ctrl_c_while_an_epoch_is_saved_waits_for_the_files(
    data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The epoch line is printed before the files are written; a Ctrl-C that arrives in
    between must not leave last.pt an epoch behind what the user was told."""
    real_save = runner.save_checkpoint

    def save_while_interrupted(path: Path, checkpoint: dict[str, object]) -> None:
        os.kill(os.getpid(), signal.SIGINT)
        real_save(path, checkpoint)

    monkeypatch.setattr(runner, "save_checkpoint", save_while_interrupted)
    lines, result = _train(data_dir, tmp_path / "run")
    assert result.interrupted  # type: ignore[attr-defined]
    assert lines[-1].startswith("interrupted after epoch 1; continue with")
    assert load_checkpoint(tmp_path / "run" / "last.pt")["epoch"] == 1
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler


def test_resuming_a_finished_run_does_nothing(data_dir: Path, tmp_path: Path) -> None:
    _train(data_dir, tmp_path / "run")
    lines, _ = _train(data_dir, None, resume=tmp_path / "run")  # type: ignore[arg-type]
    assert "nothing to do" in lines[-1]


def test_existing_run_directory_is_not_overwritten(data_dir: Path, tmp_path: Path) -> None:
    _train(data_dir, tmp_path / "run", FAST.model_copy(update={"epochs": 1}))
    with pytest.raises(TrainUsageError, match="--resume"):
        _train(data_dir, tmp_path / "run")


def test_a_run_stopped_in_its_first_epoch_can_be_started_again(
    data_dir: Path, tmp_path: Path
) -> None:
    def interrupt_first_save(path: Path, checkpoint: dict[str, object]) -> None:
        raise KeyboardInterrupt

    lines: list[str] = []
    options = RunOptions(data_dir=data_dir, out=tmp_path / "run", device="cpu", download=False)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner, "save_checkpoint", interrupt_first_save)
        assert run_training(HandBuiltSpec(), FAST, options, echo=lines.append).interrupted
    assert lines[-1].endswith("holds nothing to resume")
    assert not (tmp_path / "run" / "last.pt").exists()
    assert not run_training(HandBuiltSpec(), FAST, options, echo=lines.append).interrupted


def test_resize_must_agree_with_the_spec_input(data_dir: Path, tmp_path: Path) -> None:
    with pytest.raises(TrainUsageError, match="resize 32 does not match"):
        _train(data_dir, tmp_path / "run", FAST.model_copy(update={"resize": 32}))


def test_wrong_number_of_outputs_is_one_line(data_dir: Path, tmp_path: Path) -> None:
    class FiveClasses(HandBuiltSpec):
        def build(self, seed: int | None = None) -> torch.nn.Module:
            model = super().build(seed)
            model[-1] = torch.nn.Linear(84, 5)
            return model

    with pytest.raises(TrainUsageError, match="10 class scores"):
        _train(data_dir, tmp_path / "run", spec=FiveClasses())


def test_bf16_autocast_trains(data_dir: Path, tmp_path: Path) -> None:
    recipe = FAST.model_copy(update={"epochs": 1, "amp": "bf16"})
    lines, _ = _train(data_dir, tmp_path / "run", recipe)
    assert EPOCH_LINE_PATTERN.match(lines[0])


def test_epoch_line_is_the_seeds_format() -> None:
    line = EpochMetrics(3, 0.51234, 0.81, 0.7996, 12.34).line()
    assert line == "epoch 3, loss 0.5123, train acc 0.810, test acc 0.800, time 12.3 sec"
    assert EPOCH_LINE == "epoch %d, loss %.4f, train acc %.3f, test acc %.3f, time %.1f sec"


def test_channels_last_auto_is_for_conv_nets_on_cpu_and_cuda() -> None:
    conv, mlp = HandBuiltSpec().build(), torch.nn.Sequential(torch.nn.Linear(4, 2))
    cpu = torch.device("cpu")
    assert wants_channels_last("auto", cpu, conv)
    assert not wants_channels_last("auto", cpu, mlp)
    assert wants_channels_last("auto", torch.device("cuda"), conv)
    assert not wants_channels_last("auto", torch.device("mps"), conv)
    assert not wants_channels_last("off", cpu, conv) and wants_channels_last("on", cpu, mlp)
