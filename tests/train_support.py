"""Shared helpers for the training tests: a tiny synthetic Fashion-MNIST and a LeNet spec.

Tests never read the real dataset; they write small IDX files of their own whose classes
are easy to tell apart (each class brightens its own band of rows), so a few steps of
training visibly learn something while every test stays well under a few seconds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import nn

from conftest import SPECS
from netspec.data import IDX_FILES, write_idx
from netspec.recipe import TrainRecipe


def synthetic_images(count: int, seed: int, size: int = 28) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images (count, size, size) and labels 0..9: class k lights rows 2k+3 and 2k+4."""
    generator = torch.Generator().manual_seed(seed)
    labels = torch.arange(count) % 10
    labels = labels[torch.randperm(count, generator=generator)]
    images = torch.randint(0, 90, (count, size, size), generator=generator, dtype=torch.uint8)
    for index, label in enumerate(labels.tolist()):
        row = 2 * label + 3
        images[index, row : row + 2, 4:24] = 230
    return images, labels.to(torch.uint8)


def write_fashion_mnist(
    folder: Path, *, train: int = 256, test: int = 128, compress: bool = False
) -> Path:
    """Write the four IDX files of a small synthetic Fashion-MNIST into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    train_images, train_labels = synthetic_images(train, seed=1)
    test_images, test_labels = synthetic_images(test, seed=2)
    arrays = {
        "train_images": train_images,
        "train_labels": train_labels,
        "test_images": test_images,
        "test_labels": test_labels,
    }
    for key, tensor in arrays.items():
        name = IDX_FILES[key] + (".gz" if compress else "")
        write_idx(folder / name, tensor, compress=compress)
    return folder


def lenet(activation: type[nn.Module] = nn.Sigmoid) -> nn.Sequential:
    """d2l's LeNet, built by hand (what the compiler builds from specs/lenet.yaml)."""
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2),
        activation(),
        nn.AvgPool2d(kernel_size=2),
        nn.Conv2d(6, 16, kernel_size=5),
        activation(),
        nn.AvgPool2d(kernel_size=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120),
        activation(),
        nn.Linear(120, 84),
        activation(),
        nn.Linear(84, 10),
    )


@dataclass
class HandBuiltSpec:
    """Stands in for a CompiledSpec: the surface netspec.train.runner.SpecLike describes."""

    name: str = "lenet"
    input_shape: tuple[int, ...] = (1, 28, 28)
    params: dict[str, int | float] = field(default_factory=dict)
    #: The spec this network is built from by hand (its text goes into the run directory).
    source_text: str = field(default_factory=lambda: (SPECS / "lenet.yaml").read_text())
    path: str | None = None
    train: TrainRecipe = field(
        default_factory=lambda: TrainRecipe(
            optimizer="sgd", lr=0.9, batch_size=256, epochs=10, init="xavier_uniform"
        )
    )
    dropout: float = 0.0
    relu: bool = False  # sigmoid LeNet needs thousands of steps to leave chance level

    def build(self, seed: int | None = None) -> nn.Module:
        if seed is not None:
            torch.manual_seed(seed)
        model = lenet(nn.ReLU if self.relu else nn.Sigmoid)
        if self.dropout:
            # Dropout draws from the global RNG: the resume test needs it restored exactly.
            model.insert(8, nn.Dropout(self.dropout))
        return model
