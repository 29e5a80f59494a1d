"""Datasets for ``netspec train`` and ``eval``: which images, which labels, which class names.

One function, :func:`open_dataset`, opens any dataset netspec knows as uint8 images
(N, C, H, W), int64 labels and class names, for one split ("train" or "test"):

* **fashion-mnist**, **mnist** — the four IDX files (:mod:`netspec.data`);
* **cifar10**, **cifar100** — torchvision's on-disk layout (``cifar-10-batches-py/``,
  ``cifar-100-python/``), read by :func:`netspec.datafiles.read_cifar_batch`, whose
  restricted unpickler never runs code from a file;
* **folder** — torchvision's ``ImageFolder`` layout: ``root/train/<class>/*.png|jpg`` and
  ``root/val/<class>/…`` (or ``test/``), or one ``root/<class>/…`` split by a fraction with
  a fixed seed. Class names are the folder names, sorted.

Which one comes from a :class:`DataOptions` — the recipe's ``data:`` section overridden
by ``--data``/``--data-format`` (:func:`add_data_arguments`, :func:`data_options`), so
every command that needs data (``train``, ``eval``, and whatever calibrates or verifies
an artifact) takes the same flags.

**Small or large.** A folder whose decoded images fit ``memory_limit_mb`` (2 GiB by
default) is decoded once — in ``workers`` processes — into one uint8 array, kept in
memory for training and saved as a **cache** (``$NETSPEC_CACHE_DIR``, else
``~/.cache/netspec``, under ``images/``), so the next run reads one file instead of
decoding every image. The cache's name is a hash of everything that decides its
content: the folder, each file's relative path, size and modification time, the colour
mode and the preprocessing's stored size; any change makes a new cache, which replaces
the old one of that folder (written atomically). A larger folder is **streamed**: each
batch is decoded by ``workers`` DataLoader processes while the device trains.

**Sizes and colours.** Images of one size are kept at that size (batches are resized on
the device, like the IDX datasets). Images of differing sizes are resized, when decoded,
to the spec's preprocessing (:attr:`~netspec.preprocessing.Preprocessing.stored_size`).
Folder images are converted to the spec's colour mode — grayscale for a 1-channel input,
RGB for 3 — as torchvision's ImageFolder converts to RGB and as ``predict`` converts.
Files without an image ending are skipped (and counted); a file with an image ending
that does not decode is an error naming it.
"""

from __future__ import annotations

import hashlib
import json
import math
import multiprocessing
import os
import signal
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.utils.data

from . import datafiles
from .atomic import atomic_open
from .data import (
    FASHION_MNIST,
    MNIST,
    IdxDataset,
    derive_seed,
    load_fashion_mnist,
    locate_idx_files,
    resize_to_stored,
    resolve_data_dir,
)
from .data_options import DataOptions
from .errors import DataError
from .preprocessing import Preprocessing

CACHE_DIR_ENV = "NETSPEC_CACHE_DIR"
"""Environment variable naming the folder of decoded-image caches."""
DEFAULT_CACHE_DIR = Path("~/.cache/netspec")
#: Bumped whenever decoding changes, so caches written by older code are not reused.
_CACHE_VERSION = 2
#: Names of the evaluation folder beside ``train/``, in order of preference.
_EVAL_FOLDERS = ("val", "test", "valid", "validation")
#: Below this many images a folder is decoded in this process: workers cost more to start.
_POOL_THRESHOLD = 512

_CIFAR = {
    "cifar10": {
        "name": "CIFAR-10",
        "folder": "cifar-10-batches-py",
        "train": [f"data_batch_{i}" for i in range(1, 6)],
        "test": ["test_batch"],
        "meta": ("batches.meta", "label_names"),
        "labels": "labels",
        "url": "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        "md5": "c58f30108f718f92721af3b95e74349a",
    },
    "cifar100": {
        "name": "CIFAR-100",
        "folder": "cifar-100-python",
        "train": ["train"],
        "test": ["test"],
        "meta": ("meta", "fine_label_names"),
        "labels": "fine_labels",
        "url": "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
        "md5": "eb9058c3a382ffc7106e4002c42a8d85",
    },
}


@dataclass
class Dataset:
    """One split of a dataset: uint8 images, int64 labels and the class names."""

    #: "Fashion-MNIST", "CIFAR-10", "image folder".
    name: str
    split: str
    #: uint8 (N, C, H, W) in memory, or a :class:`FolderImages` decoded per batch.
    images: torch.Tensor | FolderImages
    labels: torch.Tensor
    classes: tuple[str, ...]
    source: Path
    #: Channels of the stored images when they are fixed by the format (IDX 1, CIFAR 3);
    #: None when images are converted to the spec's channels as they are decoded.
    channels: int | None
    #: Things the user should know, one line each ("skipped 3 files that are not images").
    notes: list[str] = field(default_factory=list)
    #: "memory", "memory (cache …)" or "stream": how the images are held.
    storage: str = "memory"

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, indices: Sequence[int] | torch.Tensor) -> torch.Tensor:
        """The uint8 images (n, C, H, W) at ``indices`` (for calibration, verification)."""
        index = torch.as_tensor(indices, dtype=torch.int64)
        if isinstance(self.images, torch.Tensor):
            return self.images[index]
        return torch.stack([self.images[int(i)] for i in index])


def check_dataset_fits(
    dataset: Dataset,
    input_shape: Sequence[int],
    name: str,
    *,
    verb: str = "train on",
    hint: str = "--data FOLDER converts a folder's images to the input's channels",
) -> None:
    """One line when ``dataset`` cannot feed network ``name``: it has no images, or images
    of fixed channels (IDX, CIFAR) other than the input's. ``verb`` and ``hint`` say what
    the command does with the images and how to convert them."""
    if not len(dataset):
        role = "training" if dataset.split == "train" else "evaluation"
        raise DataError(f"{dataset.source}: no {role} images", code="NS711")
    channels, height, width = (*input_shape, 0, 0)[:3]
    if dataset.channels is not None and dataset.channels != channels:
        raise DataError(
            f"spec '{name}' expects {channels}-channel images; {dataset.name} images "
            f"have {dataset.channels}: change the spec's input to [{dataset.channels}, "
            f"{height}, {width}], or {verb} {channels}-channel images ({hint})",
            code="NS716",
        )


# ---------------------------------------------------------------------------- opening


def open_dataset(options: DataOptions, split: str, preprocessing: Preprocessing) -> Dataset:
    """One split ("train" or "test") of the dataset ``options`` name.

    ``preprocessing`` (the spec's) says which colour mode folder images are converted to
    and which size images of differing sizes are decoded to.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split must be 'train' or 'test', not {split!r}")
    kind = detect_format(options)
    if kind in ("fashion-mnist", "mnist"):
        return _idx_dataset(options, split, FASHION_MNIST if kind == "fashion-mnist" else MNIST)
    if kind in _CIFAR:
        return _cifar_dataset(options, split, kind)
    return _folder_dataset(options, split, preprocessing)


def detect_format(options: DataOptions) -> str:
    """The format ``options`` name, or the one its root's contents show (``auto``)."""
    if options.format != "auto":
        return options.format
    if options.root is None:
        return "fashion-mnist"
    root = Path(options.root).expanduser()
    if locate_idx_files(root) is not None:
        return "fashion-mnist"  # the file names do not tell MNIST apart; its raw/ folder does
    if locate_idx_files(root, MNIST) is not None:
        return "mnist"
    for kind, layout in _CIFAR.items():
        if (root / layout["folder"]).is_dir() or (root / layout["meta"][0]).is_file():
            return kind
    if root.is_dir() and any(entry.is_dir() for entry in _visible(root)):
        return "folder"
    return "fashion-mnist"  # reports the missing files (or downloads them), as it always has


def _visible(folder: Path) -> list[Path]:
    """A folder's entries, sorted, without hidden ones (.DS_Store, .ipynb_checkpoints)."""
    try:
        return sorted(entry for entry in folder.iterdir() if not entry.name.startswith("."))
    except OSError as exc:
        raise DataError(f"{folder}: cannot list ({exc.strerror or exc})") from None


def _idx_dataset(options: DataOptions, split: str, kind: IdxDataset) -> Dataset:
    data = load_fashion_mnist(
        options.root, download=options.download, with_train=split == "train", kind=kind
    )
    images = data.train_images if split == "train" else data.test_images
    labels = data.train_labels if split == "train" else data.test_labels
    return Dataset(kind.name, split, images.unsqueeze(1), labels, kind.classes, data.source, 1)


def _cifar_dataset(options: DataOptions, split: str, kind: str) -> Dataset:
    layout = _CIFAR[kind]
    root = resolve_data_dir(options.root)
    folder = root / layout["folder"] if (root / layout["folder"]).is_dir() else root
    names = [*layout[split], layout["meta"][0]]
    if any(not (folder / name).exists() for name in names) and options.download:
        _download_cifar(root, layout)
        folder = root / layout["folder"]
    missing = [name for name in names if not (folder / name).exists()]
    if missing:
        raise DataError(
            f"{layout['name']} is not in {root}: {folder / missing[0]} is missing "
            f"(torchvision's layout: {layout['folder']}/ with {', '.join(names)}); pass "
            f"--data DIR naming its parent folder"
        )
    classes = datafiles.read_cifar_names(folder / layout["meta"][0], layout["meta"][1])
    arrays, labels = [], []
    for name in layout[split]:
        images, batch_labels = datafiles.read_cifar_batch(folder / name, layout["labels"])
        bad = next((x for x in batch_labels if not 0 <= x < len(classes)), None)
        if bad is not None:
            raise DataError(
                f"{folder / name}: label {bad} is out of range: labels must lie in "
                f"0..{len(classes) - 1} ({len(classes)} classes in {layout['meta'][0]})",
                code="NS715",
            )
        arrays.append(images)
        labels.extend(batch_labels)
    pixels = torch.from_numpy(np.concatenate(arrays))
    return Dataset(
        layout["name"], split, pixels, torch.tensor(labels, dtype=torch.int64),
        tuple(classes), folder, 3,
    )  # fmt: skip


def _download_cifar(root: Path, layout: dict[str, Any]) -> None:
    """torchvision's download of the archive (its checksum checked), nothing else: its
    dataset class would unpickle the files with plain ``pickle``."""
    import contextlib
    import io

    from torchvision.datasets.utils import download_and_extract_archive

    chatter = io.StringIO()
    try:
        with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
            download_and_extract_archive(layout["url"], str(root), md5=layout["md5"])
    except Exception as exc:  # offline, read-only folder...: one line for the user
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(
            f"{layout['name']} is not in {root} and downloading it failed ({reason}); pass "
            f"--data DIR naming a folder with {layout['folder']}/"
        ) from None


# ----------------------------------------------------------------------- image folders


@dataclass(frozen=True)
class _Sample:
    path: Path
    label: int
    #: Sort key: the path inside its class folder, then the class — so files named by an
    #: index (00000.png…) are visited in that index's order, whatever their class.
    key: tuple[str, int]


@dataclass
class _Scan:
    """The images of one folder of class folders, and what was left out."""

    folder: Path
    classes: tuple[str, ...]
    samples: list[_Sample]
    skipped: list[Path]


def _folder_dataset(options: DataOptions, split: str, preprocessing: Preprocessing) -> Dataset:
    root = resolve_data_dir(options.root)
    if not root.is_dir():
        raise DataError(f"{root}: no such folder of images (--data)")
    train_folder = root / "train"
    if train_folder.is_dir():
        eval_folder = next((root / n for n in _EVAL_FOLDERS if (root / n).is_dir()), None)
        if eval_folder is None:
            raise DataError(
                f"{root}: has train/ but no val/ (or test/) beside it; add one, or put the "
                f"class folders directly in {root} to split them by data.val_fraction",
                code="NS711",
            )
        scan = _scan(train_folder)
        if split == "test":
            scan = _scan(eval_folder, scan.classes)
        classes = scan.classes
        chosen = list(range(len(scan.samples)))
    else:
        scan = _scan(root)
        classes = scan.classes
        chosen = _fraction_split(scan, options.val_fraction, options.split_seed)[split]
    notes = _skipped_note(scan)
    images, storage, note = _folder_images(scan, options, preprocessing)
    notes += [note] if note else []
    labels = torch.tensor([scan.samples[i].label for i in chosen], dtype=torch.int64)
    if isinstance(images, torch.Tensor):
        images = images if len(chosen) == len(scan.samples) else images[chosen]
    else:
        images = images.subset(chosen)
    return Dataset("image folder", split, images, labels, classes, scan.folder, None,
                   notes, storage)  # fmt: skip


def _scan(folder: Path, classes: tuple[str, ...] | None = None) -> _Scan:
    """The class folders of ``folder`` and their image files; ``classes`` fixes the names
    (an evaluation folder must use the training folder's classes)."""
    found = tuple(entry.name for entry in _visible(folder) if entry.is_dir())
    if not found:
        raise DataError(
            f"{folder}: no class folders (expected {folder}/<class>/<image>.png, or "
            f"train/<class>/... and val/<class>/...)",
            code="NS711",
        )
    if classes is not None:
        unknown = sorted(set(found) - set(classes))
        if unknown:
            raise DataError(
                f"{folder / unknown[0]}: not a class of the training folder (its classes: "
                f"{', '.join(classes)})",
                code="NS711",
            )
    names = classes or found
    samples: list[_Sample] = []
    skipped: list[Path] = []
    for label, name in enumerate(names):
        class_folder = folder / name
        if not class_folder.is_dir():
            continue
        images = []
        for path in _files(class_folder):
            (images if datafiles.is_image_name(path) else skipped).append(path)
        if not images and name in found:
            raise DataError(
                f"{class_folder}: an empty class folder (no .png, .jpg, ... images); add "
                f"images or remove the folder",
                code="NS711",
            )
        relative = [(path, path.relative_to(class_folder).as_posix()) for path in images]
        samples += [_Sample(path, label, (rel, label)) for path, rel in relative]
    samples.sort(key=lambda sample: sample.key)
    return _Scan(folder, tuple(names), samples, skipped)


def _files(folder: Path) -> list[Path]:
    """Every non-hidden file below ``folder``, sorted (symlinked folders not followed)."""
    found = []
    for directory, subfolders, files in os.walk(folder):
        subfolders[:] = sorted(s for s in subfolders if not s.startswith("."))
        found += [Path(directory) / name for name in sorted(files) if not name.startswith(".")]
    return found


def _fraction_split(scan: _Scan, fraction: float, seed: int) -> dict[str, list[int]]:
    """Indices of each split: ``fraction`` of every class held out, chosen by ``seed``.

    Stratified, so a rare class is in both splits; fixed by (seed, class name), so it is
    the same split in every run and does not move when another class gains images.
    """
    by_class: dict[int, list[int]] = {}
    for index, sample in enumerate(scan.samples):
        by_class.setdefault(sample.label, []).append(index)
    held_out: set[int] = set()
    for label, indices in by_class.items():
        count = max(1, round(len(indices) * fraction)) if len(indices) > 1 else 0
        generator = torch.Generator().manual_seed(derive_seed(seed, "split", scan.classes[label]))
        order = torch.randperm(len(indices), generator=generator)[:count]
        held_out.update(indices[i] for i in order.tolist())
    everything = range(len(scan.samples))
    return {
        "train": [i for i in everything if i not in held_out],
        "test": [i for i in everything if i in held_out],
    }


def _skipped_note(scan: _Scan) -> list[str]:
    if not scan.skipped:
        return []
    endings = sorted({path.suffix.lower() or path.name for path in scan.skipped})
    count = len(scan.skipped)
    what = f"{count} files in {scan.folder} that are not images" if count > 1 else (
        f"1 file in {scan.folder} that is not an image"
    )  # fmt: skip
    return [f"skipped {what} ({', '.join(endings[:5])}{', ...' if len(endings) > 5 else ''})"]


def _folder_images(
    scan: _Scan, options: DataOptions, preprocessing: Preprocessing
) -> tuple[torch.Tensor | FolderImages, str, str | None]:
    """All of a folder's images: from the cache, decoded into memory, or to be streamed."""
    mode = preprocessing.color or "RGB"
    key = _cache_key(scan, mode, preprocessing)
    cache = _cache_path(options, scan.folder, key)
    if options.load != "stream":
        cached = _read_cache(cache, len(scan.samples), len(mode))
        if cached is not None:
            return torch.from_numpy(cached), f"memory (cache {cache})", None
    sizes = _decode_sizes(scan, options.workers)
    uniform = len(set(sizes)) == 1
    stored = sizes[0] if uniform else preprocessing.stored_size
    assert stored is not None
    decoded_bytes = len(sizes) * len(mode) * stored[0] * stored[1]
    stream = options.load == "stream" or (
        options.load == "auto" and decoded_bytes > options.memory_limit_mb << 20
    )
    source = FolderImages([s.path for s in scan.samples], mode, None if uniform else preprocessing,
                          stored, options.workers)  # fmt: skip
    if stream:
        why = "as asked (data.load: stream)" if options.load == "stream" else (
            f"{decoded_bytes / (1 << 20):.0f} MiB decoded is over data.memory_limit_mb "
            f"({options.memory_limit_mb})"
        )  # fmt: skip
        return source, "stream", f"streaming {len(sizes)} images from {scan.folder}: {why}"
    pixels = source.decode_all()
    note = _write_cache(cache, pixels)
    return torch.from_numpy(pixels), f"memory (cache {cache})", note


def _decode_sizes(scan: _Scan, workers: int) -> list[tuple[int, int]]:
    """(height, width) of every image, from its header; unreadable images fail here."""
    paths = [sample.path for sample in scan.samples]
    return list(_parallel_map(datafiles.image_size, paths, workers))


def _parallel_map(
    function: Any, items: list[Any], workers: int, per_item: int = 1
) -> Iterator[Any]:
    """``map`` in worker processes when there are many images (``per_item`` in each item),
    else in this process; results come in order, one at a time (never all at once)."""
    if workers < 1 or len(items) * per_item < _POOL_THRESHOLD:
        yield from (function(item) for item in items)
        return
    method = "fork" if "fork" in multiprocessing.get_all_start_methods() else "spawn"
    chunk = max(1, math.ceil(len(items) / (workers * 8)))
    # Workers start with SIGTERM/SIGHUP blocked, so that one ended before its initializer
    # has reset the inherited handler (a short map) still dies quietly: the signal waits
    # until _quiet_worker has put the default action back, then unblocks it.
    blocked = _block_signals()
    try:
        pool = multiprocessing.get_context(method).Pool(workers, initializer=_quiet_worker)
    finally:
        _restore_signals(blocked)
    with pool:
        yield from pool.imap(function, items, chunksize=chunk)


#: The signals a decoding worker must not handle as the CLI does (where the platform has them).
_WORKER_SIGNALS = {getattr(signal, n) for n in ("SIGTERM", "SIGHUP") if hasattr(signal, n)}


def _block_signals() -> set[int] | None:
    """Block :data:`_WORKER_SIGNALS` in this thread; the previous mask (None: no masks here)."""
    if not hasattr(signal, "pthread_sigmask"):
        return None
    return signal.pthread_sigmask(signal.SIG_BLOCK, _WORKER_SIGNALS)


def _restore_signals(previous: set[int] | None) -> None:
    if previous is not None:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _quiet_worker() -> None:
    """Decoding workers use one thread each (there are several of them), and die quietly
    when their pool ends them: a forked worker inherits the CLI's SIGTERM/SIGHUP handler
    (``atomic.signals_interrupt``), which would turn the pool's SIGTERM into a traceback.
    The parent cleans up; workers write nothing."""
    torch.set_num_threads(1)
    for number in _WORKER_SIGNALS:
        signal.signal(number, signal.SIG_DFL)
    if hasattr(signal, "pthread_sigmask"):  # blocked while the pool forked (_parallel_map)
        signal.pthread_sigmask(signal.SIG_UNBLOCK, _WORKER_SIGNALS)


def _quiet_loader_worker(worker_id: int) -> None:
    _quiet_worker()


# ------------------------------------------------------------------------------ decoding


class FolderImages(torch.utils.data.Dataset):  # type: ignore[type-arg]
    """Image files decoded on demand to uint8 (C, H, W) of one size; streamed in batches.

    Picklable (paths and settings only), so DataLoader workers and decoding pools decode
    with exactly the function the in-memory path uses.
    """

    def __init__(
        self,
        paths: list[Path],
        mode: str,
        resize: Preprocessing | None,
        size: tuple[int, int],
        workers: int,
    ) -> None:
        self.paths = paths
        self.mode = mode
        self.resize = resize
        self.size = size
        self.workers = workers

    def __len__(self) -> int:
        return len(self.paths)

    def __getitem__(self, index: int) -> torch.Tensor:
        return decode_image(self.paths[index], self.mode, self.resize, self.size)

    def subset(self, indices: list[int]) -> FolderImages:
        return FolderImages([self.paths[i] for i in indices], self.mode, self.resize, self.size,
                            self.workers)  # fmt: skip

    def decode_all(self) -> np.ndarray:
        """Every image, decoded (in worker processes when there are many) into one array."""
        out = np.empty((len(self.paths), len(self.mode), *self.size), dtype=np.uint8)
        step = 256
        chunks = [self.paths[i : i + step] for i in range(0, len(self.paths), step)]
        decode = partial(_decode_paths, mode=self.mode, resize=self.resize, size=self.size)
        # Each task carries its 256 paths, not the whole list: items stay cheap to send.
        for start, pixels in zip(range(0, len(self.paths), step),
                                 _parallel_map(decode, chunks, self.workers, per_item=step),
                                 strict=True):  # fmt: skip
            out[start : start + len(pixels)] = pixels
        return out

    def batches(self, index_batches: list[torch.Tensor]) -> Iterator[torch.Tensor]:
        """Batches decoded by DataLoader worker processes, in the order given."""
        loader = torch.utils.data.DataLoader(
            self,
            batch_sampler=[batch.tolist() for batch in index_batches],
            num_workers=self.workers,
            collate_fn=torch.stack,
            worker_init_fn=_quiet_loader_worker,
            pin_memory=torch.cuda.is_available(),
        )
        yield from loader


def _decode_paths(
    paths: list[Path], *, mode: str, resize: Preprocessing | None, size: tuple[int, int]
) -> np.ndarray:
    return torch.stack([decode_image(path, mode, resize, size) for path in paths]).numpy()


def decode_image(
    path: Path, mode: str, resize: Preprocessing | None, size: tuple[int, int]
) -> torch.Tensor:
    """One image file as uint8 (C, H, W): read, converted to ``mode``, resized if asked."""
    pixels = datafiles.read_image(path, mode)
    image = torch.from_numpy(pixels.copy())
    image = image.unsqueeze(0) if image.ndim == 2 else image.permute(2, 0, 1).contiguous()
    if resize is not None:
        image = resize_to_stored(image, resize)
    if tuple(image.shape[-2:]) != size:
        raise DataError(
            f"{path}: {image.shape[-1]}x{image.shape[-2]} pixels, but the other images of "
            f"its folder are {size[1]}x{size[0]} (the file changed while it was read?)"
        )
    return image


# --------------------------------------------------------------------------------- cache


def _cache_root(options: DataOptions) -> Path:
    if options.cache_dir is not None:
        return Path(options.cache_dir).expanduser()
    return Path(os.environ.get(CACHE_DIR_ENV) or DEFAULT_CACHE_DIR).expanduser()


def _cache_key(scan: _Scan, mode: str, preprocessing: Preprocessing) -> str:
    """A hash of everything that decides the decoded pixels."""
    files = []
    for sample in scan.samples:
        try:
            info = sample.path.stat()
        except OSError as exc:
            raise DataError(f"{sample.path}: cannot read ({exc.strerror or exc})") from None
        files.append([sample.path.relative_to(scan.folder).as_posix(), info.st_size,
                      info.st_mtime_ns])  # fmt: skip
    recipe = {
        "version": _CACHE_VERSION,
        "mode": mode,
        "stored": preprocessing.stored_size,
        "resize": preprocessing.resize,
        "crop": preprocessing.crop,
        "interpolation": preprocessing.interpolation,
        "antialias": preprocessing.antialias,
        "files": files,
    }
    return hashlib.sha256(json.dumps(recipe).encode()).hexdigest()


def _cache_path(options: DataOptions, folder: Path, key: str) -> Path:
    """``<cache>/images/<folder hash>-<content hash>.npy``: one cache per folder."""
    place = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    return _cache_root(options) / "images" / f"{place}-{key[:32]}.npy"


def _read_cache(path: Path, count: int, channels: int) -> np.ndarray | None:
    """The cached array if it is there and of the expected shape; None otherwise."""
    if not path.is_file():
        return None
    try:
        array = np.load(path, allow_pickle=False)
    except (OSError, ValueError):
        return None
    if array.dtype != np.uint8 or array.ndim != 4 or array.shape[:2] != (count, channels):
        return None
    return array


def _write_cache(path: Path, pixels: np.ndarray) -> str | None:
    """Save the decoded images, replacing the folder's older caches; a note if it failed."""
    try:
        with atomic_open(path) as stream:
            np.save(stream, pixels, allow_pickle=False)
    except OSError as exc:
        return f"could not write the decoded-image cache {path} ({exc.strerror or exc})"
    place = path.name.split("-")[0]
    for stale in path.parent.glob(f"{place}-*.npy"):
        if stale != path:
            stale.unlink(missing_ok=True)
    return None
