"""Which dataset a command reads, and the flags that say so — without importing torch.

The recipe's ``data:`` section (:class:`netspec.recipe.DataSection`) names a dataset;
``--data``, ``--data-format`` and ``--no-download`` override it. Every command that reads
a dataset (``train``, ``eval``, and those that calibrate or verify an artifact) adds the
same flags with :func:`add_data_arguments` and turns them into :class:`DataOptions` with
:func:`data_options`; :func:`netspec.datasets.open_dataset` opens what they name. This
module is torch-free because the CLI builds every command's parser, ``netspec check``'s
included.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any

from .recipe import DATA_FORMATS, DataSection


@dataclass(frozen=True)
class DataOptions:
    """Where the data is and how to read it: the recipe's ``data:`` with the flags applied."""

    format: str = "auto"
    root: str | None = None
    download: bool = True
    val_fraction: float = 0.1
    split_seed: int = 0
    load: str = "auto"
    memory_limit_mb: int = 2048
    workers: int = 2
    #: Folder of decoded-image caches; None: $NETSPEC_CACHE_DIR, else ~/.cache/netspec.
    cache_dir: str | None = None

    @classmethod
    def from_section(cls, section: DataSection | None, **overrides: Any) -> DataOptions:
        """The recipe's ``data:`` section, with the given fields replaced (None keeps)."""
        values = section.model_dump() if section is not None else {}
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def as_record(self) -> dict[str, Any]:
        """What ``run.json`` records about where the data came from."""
        return {name: getattr(self, name) for name in ("format", "root", "load", "val_fraction")}


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """The data flags every command that reads a dataset takes (``train``, ``eval``...)."""
    group = parser.add_argument_group("data (overrides the recipe's data: section)")
    group.add_argument(
        "--data",
        metavar="PATH",
        help="dataset folder: Fashion-MNIST/MNIST IDX files, torchvision's CIFAR layout, or "
        "images in class folders (default: the recipe's data.root, else $NETSPEC_DATA_DIR, "
        "else ~/.cache/netspec/fashion-mnist)",
    )
    group.add_argument("--data-dir", dest="data_dir", help="the same as --data (older name)")
    group.add_argument(
        "--data-format",
        choices=DATA_FORMATS,
        help="what --data holds (default auto: told by its files)",
    )
    group.add_argument(
        "--no-download",
        dest="download",
        action="store_false",
        help="fail instead of downloading a missing Fashion-MNIST, MNIST or CIFAR",
    )


def data_options(args: argparse.Namespace, section: DataSection | None) -> DataOptions:
    """The options of :func:`add_data_arguments`'s flags over the recipe's ``data:``."""
    root = getattr(args, "data", None) or getattr(args, "data_dir", None)
    return DataOptions.from_section(
        section,
        root=root,
        format=getattr(args, "data_format", None),
        download=getattr(args, "download", True),
    )
