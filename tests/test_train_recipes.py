"""Recipes: optimizers, schedules, smoothing, clipping, mixed precision, augmentation, freezing.

Every recipe must resume bit-exactly: 4 epochs straight and 2 epochs + Ctrl-C + ``--resume``
for the rest end with the same weights and metrics, whatever the schedule, augmentation or
frozen parameters (the learning rate, the augmentation and what is frozen are functions
of the step and epoch, never of state that a restart would lose).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
import torch

from conftest import SPECS
from netspec.augment import TrainTransform, crop_boxes, padded_random_crop, random_flip
from netspec.cli import main
from netspec.preprocessing import Preprocessing
from netspec.recipe import Augment, RandomResizedCrop, TrainRecipe, lr_factor, recipe_record
from netspec.train.errors import TrainUsageError
from netspec.train.loop import EpochMetrics, TrainState
from netspec.train.runner import RunOptions, run_training
from netspec.weights import read_state_dict
from train_support import HandBuiltSpec, write_fashion_mnist

pytestmark = pytest.mark.usefixtures("single_thread")


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_fashion_mnist(tmp_path_factory.mktemp("fashion"), train=128, test=64)


def test_schedules_as_functions_of_the_step() -> None:
    steps = 10
    step = TrainRecipe(schedule="step", step_size=2, gamma=0.5, epochs=6)
    assert [lr_factor(step, e * steps, steps) for e in range(6)] == [1, 1, 0.5, 0.5, 0.25, 0.25]
    warm = TrainRecipe(schedule="cosine", warmup_epochs=1, epochs=3, lr=0.1, min_lr=0.01)
    assert [lr_factor(warm, s, steps) for s in (0, 4, 9)] == [0.1, 0.5, 1.0]
    assert lr_factor(warm, 10, steps) == pytest.approx(1.0)
    assert lr_factor(warm, 30, steps) == pytest.approx(0.1)  # ends at min_lr
    cycle = TrainRecipe(schedule="onecycle", epochs=10)
    assert lr_factor(cycle, 0, steps) == pytest.approx(1 / 25)
    assert lr_factor(cycle, 30, steps) == pytest.approx(1.0)
    assert lr_factor(cycle, 100, steps) == pytest.approx(1 / 25 / 1e4)
    assert lr_factor(TrainRecipe(), 57, steps) == 1.0


def _run(data_dir: Path, out: Path, recipe: TrainRecipe, **options: object) -> object:
    return run_training(
        HandBuiltSpec(dropout=0.2, relu=True),
        recipe,
        RunOptions(data_dir=data_dir, out=out, device="cpu", download=False, **options),  # type: ignore[arg-type]
        echo=lambda line: None,
        note=lambda line: None,
    )


RECIPES = {
    "sgd nesterov, step, warm-up, smoothing, clipping, flips and padded crops": TrainRecipe(
        optimizer="sgd", lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-4,
        schedule="step", step_size=1, gamma=0.7, warmup_epochs=0.5, label_smoothing=0.1,
        clip_grad_norm=1.0, batch_size=32, epochs=4, seed=3,
        augment=Augment(pad_crop=2, horizontal_flip=0.5),
    ),
    "adamw, cosine, frozen convolutions thawed at epoch 3, random resized crops": TrainRecipe(
        optimizer="adamw", lr=0.003, weight_decay=0.05, schedule="cosine", batch_size=32,
        epochs=4, seed=4, freeze=["0", "3"], unfreeze_epoch=3, unfrozen_lr=0.001,
        augment=Augment(random_resized_crop=RandomResizedCrop(scale=(0.5, 1.0))),
    ),
    "adam, one-cycle, bf16": TrainRecipe(
        optimizer="adam", lr=0.005, schedule="onecycle", amp="bf16", batch_size=32, epochs=4,
        seed=5,
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", list(RECIPES))
def test_every_recipe_resumes_bit_exactly(name: str, data_dir: Path, tmp_path: Path) -> None:
    recipe = RECIPES[name]
    _run(data_dir, tmp_path / "straight", recipe)

    def interrupt_after_second_epoch(metrics: EpochMetrics, state: TrainState, _: bool) -> None:
        if metrics.epoch == 2:
            raise KeyboardInterrupt

    options = RunOptions(data_dir=data_dir, out=tmp_path / "resumed", device="cpu", download=False)
    spec = HandBuiltSpec(dropout=0.2, relu=True)
    quiet = {"echo": lambda line: None, "note": lambda line: None}
    assert run_training(spec, recipe, options, on_epoch_end=interrupt_after_second_epoch,
                        **quiet).interrupted  # type: ignore[arg-type]  # fmt: skip
    resume = RunOptions(
        data_dir=data_dir, resume=tmp_path / "resumed", device="cpu", download=False
    )
    assert run_training(spec, recipe, resume, **quiet).state.epochs_done == 4  # type: ignore[arg-type]

    straight = read_state_dict(tmp_path / "straight" / "last.pt")
    continued = read_state_dict(tmp_path / "resumed" / "last.pt")
    assert all(torch.equal(straight[key], continued[key]) for key in straight)
    histories = [
        [(row["loss"], row["test_acc"]) for row in torch.load(
            tmp_path / run / "last.pt", weights_only=True)["history"]]
        for run in ("straight", "resumed")
    ]  # fmt: skip
    assert histories[0] == histories[1]
    assert all(math.isfinite(loss) for loss, _ in histories[0])


def test_frozen_parameters_stay_put_until_they_thaw(data_dir: Path, tmp_path: Path) -> None:
    frozen = TrainRecipe(optimizer="adamw", lr=0.01, weight_decay=0.1, batch_size=32, epochs=1,
                         freeze=["*", "!12"])  # fmt: skip
    _run(data_dir, tmp_path / "frozen", frozen)
    start = HandBuiltSpec(dropout=0.2, relu=True).build(seed=0).state_dict()
    after = read_state_dict(tmp_path / "frozen" / "last.pt")
    assert all(torch.equal(after[k], start[k]) for k in after if not k.startswith("12."))
    assert not torch.equal(after["12.weight"], start["12.weight"])  # the head (after dropout)
    thawed = frozen.model_copy(update={"epochs": 2, "unfreeze_epoch": 2})
    _run(data_dir, tmp_path / "thawed", thawed)
    after = read_state_dict(tmp_path / "thawed" / "last.pt")
    assert not torch.equal(after["0.weight"], start["0.weight"])
    with pytest.raises(TrainUsageError, match=r"freezes every parameter of the network"):
        _run(data_dir, tmp_path / "all", frozen.model_copy(update={"freeze": ["*"]}))
    assert not (tmp_path / "all").exists()


def test_the_run_directory_records_the_recipe_and_the_transforms(
    data_dir: Path, tmp_path: Path
) -> None:
    recipe = TrainRecipe(batch_size=64, epochs=1, schedule="cosine",
                         augment=Augment(horizontal_flip=0.5))  # fmt: skip
    _run(data_dir, tmp_path / "run", recipe)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["recipe"] == recipe_record(recipe)
    assert info["recipe"]["augment"] == {"horizontal_flip": 0.5}
    assert info["recipe"]["schedule"] == "cosine" and "nesterov" not in info["recipe"]
    assert TrainRecipe.model_validate(info["recipe"]) == recipe
    assert info["preprocessing"]["resize"] == [28, 28] and info["classes"][0] == "T-shirt/top"


def test_augmentation_is_drawn_per_image_in_batched_ops() -> None:
    generator = torch.Generator().manual_seed(0)
    images = torch.arange(6 * 4 * 4, dtype=torch.uint8).view(6, 1, 4, 4)
    flipped = random_flip(images, 0.5, generator)
    assert {bool(torch.equal(f, i.flip(-1))) for f, i in zip(flipped, images, strict=True)} == {
        True,
        False,
    }
    cropped = padded_random_crop(images, 1, torch.Generator().manual_seed(1))
    padded = torch.nn.functional.pad(images, (1, 1, 1, 1))
    chosen = set()
    for index in range(6):  # each image is one 4x4 window of its zero-padded self
        windows = [padded[index, :, t : t + 4, x : x + 4] for t in range(3) for x in range(3)]
        chosen.add(next(i for i, w in enumerate(windows) if torch.equal(cropped[index], w)))
    assert len(chosen) > 1
    boxes = crop_boxes(500, 30, 40, RandomResizedCrop(), torch.Generator().manual_seed(2))
    top, left, height, width = boxes.unbind(1)
    assert (top >= 0).all() and (left >= 0).all()
    assert (top + height <= 30).all() and (left + width <= 40).all() and (height >= 1).all()
    augment = Augment(random_resized_crop=RandomResizedCrop(), horizontal_flip=0.5)
    transform = TrainTransform(augment, Preprocessing.for_input((1, 28, 28)), (28, 28))
    out = transform(torch.randint(0, 256, (8, 1, 36, 36), dtype=torch.uint8), generator)
    assert out.shape == (8, 1, 28, 28) and out.dtype == torch.float32
    assert float(out.min()) >= 0 and float(out.max()) <= 1


@pytest.mark.skipif(
    torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA"
)
def test_fp16_needs_cuda(
    data_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    lenet = str(SPECS / "lenet.yaml")
    status = main(["train", lenet, "--data", str(data_dir), "--amp", "fp16", "--device", "cpu",
                   "--out", str(tmp_path / "run")])  # fmt: skip
    assert status == 2
    assert capsys.readouterr().err == (
        "error: --amp fp16 needs a CUDA device (its gradient scaler is CUDA's); on cpu use "
        "--amp bf16\n"
    )
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_fp16_with_a_gradient_scaler_resumes_on_cuda(data_dir: Path, tmp_path: Path) -> None:
    recipe = TrainRecipe(optimizer="sgd", lr=0.05, momentum=0.9, amp="fp16", batch_size=32,
                         epochs=2, clip_grad_norm=5.0)  # fmt: skip
    straight = run_training(
        HandBuiltSpec(relu=True),
        recipe,
        RunOptions(data_dir=data_dir, out=tmp_path / "a", device="cuda", download=False),
        echo=print,
    )
    assert straight.state.epochs_done == 2
    scaler = torch.load(tmp_path / "a" / "last.pt", weights_only=True)["scaler"]
    assert scaler and scaler["scale"] > 0
