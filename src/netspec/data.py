"""Fashion-MNIST, kept in memory as uint8 and turned into float batches on the device.

The seed converted every image on its own (PIL Resize + ToTensor) in DataLoader worker
processes. On a small CPU those workers compete with the training threads for the same
cores, and per-image Python work dominates for small networks such as LeNet. Here the
whole dataset is one uint8 tensor (47 MB for the training set), a batch is one indexing
operation, and scaling to [0, 1] and resizing are single tensor ops on the training
device. The numbers match the seed's pipeline: ``x / 255`` is ToTensor, and bilinear
``interpolate`` with ``align_corners=False`` is what torchvision's Resize computes when
upscaling (the seed's PIL path additionally rounds the resized pixels to uint8, so it
differs from ours by at most one grey level).
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

from netspec import datafiles
from netspec.errors import DataError
from netspec.preprocessing import Preprocessing

DATA_DIR_ENV = "NETSPEC_DATA_DIR"
"""Environment variable naming the Fashion-MNIST directory when ``--data-dir`` is not given."""

DEFAULT_DATA_DIR = Path("~/.cache/netspec/fashion-mnist")
"""Where the data is looked for, and downloaded to, when neither flag nor variable is set."""

IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
NUM_CLASSES = len(CLASS_NAMES)


@dataclass(frozen=True)
class IdxDataset:
    """One of the datasets stored as four IDX files: its name, classes and torchvision class."""

    name: str
    classes: tuple[str, ...]
    #: torchvision's dataset class (its download) and folder (``<root>/<folder>/raw``).
    torchvision_class: str
    default_dir: Path


FASHION_MNIST = IdxDataset("Fashion-MNIST", CLASS_NAMES, "FashionMNIST", DEFAULT_DATA_DIR)
MNIST = IdxDataset(
    "MNIST", tuple(str(digit) for digit in range(10)), "MNIST", Path("~/.cache/netspec/mnist")
)


def read_idx(path: str | os.PathLike[str]) -> torch.Tensor:
    """Read one IDX file, gzip-compressed or not, within netspec's data limits.

    The reading and its checks are :func:`netspec.datafiles.read_idx`'s (the header is
    checked against the data before anything is allocated, gzip is inflated in bounded
    steps); this returns the array as a tensor.
    """
    return torch.from_numpy(datafiles.read_idx(path))


def write_idx(
    path: str | os.PathLike[str], tensor: torch.Tensor, *, compress: bool = False
) -> None:
    """Write a uint8 tensor as an IDX file; tests and benchmarks use it to make small datasets."""
    array = tensor.detach().cpu().numpy()
    if array.dtype != np.uint8:
        raise ValueError(f"write_idx writes uint8 data, got {array.dtype}")
    header = bytes([0, 0, 0x08, array.ndim]) + np.asarray(array.shape, dtype=">u4").tobytes()
    data = header + array.tobytes()
    Path(path).write_bytes(gzip.compress(data, compresslevel=1) if compress else data)


@dataclass(frozen=True)
class FashionMNIST:
    """The four arrays of the dataset: uint8 images (N, 28, 28) and int64 labels (N,)."""

    train_images: torch.Tensor
    train_labels: torch.Tensor
    test_images: torch.Tensor
    test_labels: torch.Tensor
    source: Path


def resolve_data_dir(
    data_dir: str | os.PathLike[str] | None, default: Path = DEFAULT_DATA_DIR
) -> Path:
    """``--data-dir`` if given, else ``$NETSPEC_DATA_DIR``, else the per-user cache."""
    if data_dir is not None:
        return Path(data_dir).expanduser()
    from_env = os.environ.get(DATA_DIR_ENV)
    if from_env:
        return Path(from_env).expanduser()
    return default.expanduser()


def locate_idx_files(data_dir: Path, kind: IdxDataset = FASHION_MNIST) -> dict[str, Path] | None:
    """Find the four files in ``data_dir`` itself or torchvision's ``FashionMNIST/raw``.

    Uncompressed files win over ``.gz`` ones because they load faster; None when any of
    the four is missing.
    """
    folders = [data_dir, data_dir / kind.torchvision_class / "raw", data_dir / "raw"]
    found: dict[str, Path] = {}
    for key, base in IDX_FILES.items():
        for folder in folders:
            hit = next(
                (folder / name for name in (base, base + ".gz") if (folder / name).is_file()),
                None,
            )
            if hit is not None:
                found[key] = hit
                break
        else:
            return None
    return found


def download_fashion_mnist(data_dir: Path) -> None:
    """Fetch Fashion-MNIST with torchvision into ``data_dir/FashionMNIST/raw``."""
    download_idx_dataset(data_dir, FASHION_MNIST)


def download_idx_dataset(data_dir: Path, kind: IdxDataset) -> None:
    """Fetch an IDX dataset with torchvision into ``data_dir/<torchvision class>/raw``.

    torchvision prints progress and per-mirror failures; that chatter is swallowed so a
    failure reaches the user as the single line :func:`load_fashion_mnist` writes.
    """
    import torchvision.datasets

    dataset_class = getattr(torchvision.datasets, kind.torchvision_class)
    chatter = io.StringIO()
    with contextlib.redirect_stdout(chatter), contextlib.redirect_stderr(chatter):
        for train in (True, False):
            dataset_class(str(data_dir), train=train, download=True)


def load_fashion_mnist(
    data_dir: str | os.PathLike[str] | None = None,
    *,
    download: bool = True,
    with_train: bool = True,
    kind: IdxDataset = FASHION_MNIST,
) -> FashionMNIST:
    """Load Fashion-MNIST (or MNIST: ``kind``) into memory, downloading it if it is absent.

    ``with_train=False`` skips decoding the 60,000 training images (``netspec eval`` needs
    only the test set); the training tensors are then empty.
    """
    folder = resolve_data_dir(data_dir, kind.default_dir)
    files = locate_idx_files(folder, kind)
    if files is None and download:
        try:
            if kind is FASHION_MNIST:
                download_fashion_mnist(folder)
            else:
                download_idx_dataset(folder, kind)
        except Exception as exc:  # any failure (offline, read-only dir) means the same to the user
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(
                f"{kind.name} is not in {folder} and downloading it failed ({reason}); "
                f"pass --data-dir DIR naming a folder with the four IDX files "
                f"(or set {DATA_DIR_ENV})"
            ) from None
        files = locate_idx_files(folder, kind)
    if files is None:
        raise DataError(
            f"{kind.name} is not in {folder}; pass --data-dir DIR naming a folder with "
            f"train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte and "
            f"t10k-labels-idx1-ubyte (gzip or not), or set {DATA_DIR_ENV}"
        )
    splits = ("train", "test") if with_train else ("test",)
    arrays = {key: read_idx(path) for key, path in files.items() if key.split("_")[0] in splits}
    if not with_train:
        arrays["train_images"] = torch.empty(0, 28, 28, dtype=torch.uint8)
        arrays["train_labels"] = torch.empty(0, dtype=torch.uint8)
    for split in splits:
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or images.dtype != torch.uint8:
            raise DataError(
                f"{files[f'{split}_images']}: expected uint8 images of shape (N, H, W), "
                f"got {images.dtype} {tuple(images.shape)}"
            )
        if labels.ndim != 1 or len(labels) != len(images):
            raise DataError(
                f"{files[f'{split}_labels']}: expected {len(images)} labels, "
                f"got shape {tuple(labels.shape)}"
            )
        count = len(kind.classes)
        if len(labels) and not (int(labels.min()) >= 0 and int(labels.max()) < count):
            raise DataError(
                f"{files[f'{split}_labels']}: labels must lie in 0..{count - 1}", code="NS715"
            )
    return FashionMNIST(
        train_images=arrays["train_images"],
        train_labels=arrays["train_labels"].long(),
        test_images=arrays["test_images"],
        test_labels=arrays["test_labels"].long(),
        source=folder,
    )


def derive_seed(*parts: int | str) -> int:
    """A 63-bit seed from several parts, so that streams (shuffle, dropout, ranks) never share one.

    Hashing rather than adding keeps ``(seed=1, epoch=0)`` and ``(seed=0, epoch=1)`` apart.
    """
    digest = hashlib.sha256(repr(parts).encode()).digest()
    return int.from_bytes(digest[:8], "little") & ((1 << 63) - 1)


def to_float_images(
    batch: torch.Tensor, preprocessing: Preprocessing | tuple[int, int]
) -> torch.Tensor:
    """uint8 (N, H, W) or (N, C, H, W) -> float32 (N, C, H', W'), as ``preprocessing`` says.

    The one function that turns pixels into network inputs: ``netspec train`` applies it to
    its evaluation batches, ``netspec eval`` to the test set and ``netspec predict`` to
    images. A (height, width) pair stands for the seed's preprocessing at that size:
    torchvision's ``Resize(size)`` + ``ToTensor()`` per image — bilinear with half-pixel
    centres (``align_corners=False``); antialiasing only matters, and is only used, when
    shrinking. A :class:`Preprocessing` with a ``crop`` (a spec's ``preprocess:``) is
    torchvision's ``ImageClassification`` — what ``ResNet18_Weights.IMAGENET1K_V1.transforms()``
    returns — computed by the functions it calls, on the whole batch: resize the uint8
    images, centre crop, ``/ 255``, normalise. The result equals that transform applied to
    each uint8 image (``torchvision.io.decode_image``'s tensors), bit for bit.
    """
    if not isinstance(preprocessing, Preprocessing):
        preprocessing = Preprocessing(resize=(preprocessing[0], preprocessing[1]))
    if batch.ndim == 3:
        batch = batch.unsqueeze(1)
    if preprocessing.crop is not None:
        return normalize(to_unit_range(resize_and_crop(batch, preprocessing)), preprocessing)
    images = scale_pixels(batch, preprocessing)
    height, width = images.shape[-2:]
    size = preprocessing.resize
    if isinstance(size, tuple) and (height, width) != size:
        shrinking = size[0] < height or size[1] < width
        images = F.interpolate(
            images,
            size=size,
            mode=preprocessing.interpolation,
            align_corners=False,
            antialias=shrinking,
        )
    return images


def scale_pixels(batch: torch.Tensor, preprocessing: Preprocessing) -> torch.Tensor:
    """uint8 pixels as float32, times the scale (1/255)."""
    # Dividing by 255, not multiplying by 1/255: ToTensor's arithmetic, bit for bit.
    return batch.to(torch.float32).div_(1.0 / preprocessing.scale)


def to_unit_range(batch: torch.Tensor) -> torch.Tensor:
    """uint8 pixels as float32 in 0..1, as ``ImageClassification`` computes them
    (``convert_image_dtype``: divided by 255)."""
    from torchvision.transforms import functional as TF

    return TF.convert_image_dtype(batch, torch.float32)


def normalize(images: torch.Tensor, preprocessing: Preprocessing) -> torch.Tensor:
    """Subtract the mean and divide by the standard deviation, per channel (if stated)."""
    if preprocessing.mean is None or preprocessing.std is None:
        return images
    from torchvision.transforms import functional as TF

    return TF.normalize(images, mean=list(preprocessing.mean), std=list(preprocessing.std))


def resize_and_crop(batch: torch.Tensor, preprocessing: Preprocessing) -> torch.Tensor:
    """The geometric part of a ``preprocess:`` section on uint8 (N, C, H, W) images.

    ``resize`` (an int resizes the shorter side) then ``center_crop`` of
    ``torchvision.transforms.functional``: the functions ``ImageClassification`` (a
    pretrained weights' ``transforms()``) calls, so a batch prepared here equals that
    transform applied image by image. (Those resize uint8 tensors through float32 and round;
    ``transforms.v2``'s resize works on uint8 directly and can differ by one grey level.)
    """
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as TF

    assert preprocessing.crop is not None and preprocessing.resize is not None
    resize = preprocessing.resize
    size = [resize] if isinstance(resize, int) else list(resize)
    # Both return their input unchanged when it already has the size asked for.
    batch = TF.resize(
        batch,
        size,
        interpolation=InterpolationMode(preprocessing.interpolation),
        antialias=bool(preprocessing.antialias),
    )
    return TF.center_crop(batch, list(preprocessing.crop))


def resize_to_stored(image: torch.Tensor, preprocessing: Preprocessing) -> torch.Tensor:
    """One uint8 (C, H, W) image at :attr:`Preprocessing.stored_size`, for stacking.

    Images of differing sizes are decoded to this one size so that a dataset is one uint8
    tensor: a pair resize is applied as it is; a shorter-side resize to ``s`` is followed
    by the ``s × s`` centre crop (the evaluation crop lies inside it). Without a
    ``preprocess:`` section, images are resized to the input's size (as ``predict`` does,
    antialiased). The functions of :func:`resize_and_crop`, as in evaluation.
    """
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as TF

    stored = preprocessing.stored_size
    assert stored is not None
    if tuple(image.shape[-2:]) == stored:
        return image
    resize = preprocessing.resize if preprocessing.crop is not None else stored
    size = [resize] if isinstance(resize, int) else list(resize)  # type: ignore[arg-type]
    antialias = preprocessing.antialias if isinstance(preprocessing.antialias, bool) else True
    image = TF.resize(
        image, size, interpolation=InterpolationMode(preprocessing.interpolation),
        antialias=antialias,
    )  # fmt: skip
    return TF.center_crop(image, list(stored))


class ImageSource(Protocol):
    """Images that are not held in memory: decoded batch by batch (in worker processes)."""

    def __len__(self) -> int: ...

    def batches(self, index_batches: list[torch.Tensor]) -> Iterator[torch.Tensor]:
        """uint8 (n, C, H, W) batches of the images at these indices, in this order."""
        ...


#: Turns one uint8 batch into network inputs; gets the epoch's random generator.
BatchTransform = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


class Batches:
    """Iterates over (images, labels) batches of a uint8 dataset on ``device``.

    The order of an epoch depends only on ``(seed, epoch)`` (see :meth:`set_epoch`), not on
    any generator state, so a resumed run sees exactly the batches the interrupted run
    would have seen; so does its augmentation, whose generator is seeded from
    ``(seed, epoch, rank)``. With ``world_size > 1`` every rank takes every
    ``world_size``-th index of the same permutation, like ``DistributedSampler``;
    ``pad_shards`` repeats a few indices so that every rank runs the same number of steps
    (DDP needs that), while the test set is sharded without padding so its accuracy
    counts every image exactly once.

    ``images`` is a uint8 tensor (kept whole on ``device``: a batch is one indexing
    operation) or an :class:`ImageSource` (decoded per batch, then moved). ``transform``
    turns a uint8 batch into inputs (training's augmentation); by default
    :func:`to_float_images` with ``preprocessing``.
    """

    def __init__(
        self,
        images: torch.Tensor | ImageSource,
        labels: torch.Tensor,
        *,
        batch_size: int,
        preprocessing: Preprocessing | tuple[int, int],
        device: torch.device,
        shuffle: bool,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        pad_shards: bool = False,
        channels_last: bool = False,
        transform: BatchTransform | None = None,
    ) -> None:
        self.images = images.to(device) if isinstance(images, torch.Tensor) else images
        self.labels = labels.to(device)
        self.batch_size = batch_size
        self.preprocessing = preprocessing
        self.device = device
        self.shuffle = shuffle
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.pad_shards = pad_shards
        self.channels_last = channels_last
        self.transform = transform
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        """Select the shuffle order (and augmentation) of ``epoch`` (0-based)."""
        self.epoch = epoch

    def shard_indices(self) -> torch.Tensor:
        """This rank's sample indices for the current epoch, in visiting order (on CPU)."""
        count = len(self.labels)
        if self.shuffle:
            generator = torch.Generator().manual_seed(derive_seed(self.seed, "shuffle", self.epoch))
            order = torch.randperm(count, generator=generator)
        else:
            order = torch.arange(count)
        if self.world_size > 1:
            if self.pad_shards and count % self.world_size:
                missing = self.world_size - count % self.world_size
                order = torch.cat([order, order[:missing]])
            order = order[self.rank :: self.world_size]
        return order

    def __len__(self) -> int:
        count = len(self.labels)
        if self.world_size > 1:
            if self.pad_shards:
                count = -(-count // self.world_size)
            else:
                count = len(range(self.rank, count, self.world_size))
        return -(-count // self.batch_size)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        order = self.shard_indices()
        index_batches = list(order.split(self.batch_size))
        generator = torch.Generator().manual_seed(
            derive_seed(self.seed, "augment", self.epoch, self.rank)
        )
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        for index, pixels in zip(index_batches, self._pixels(index_batches), strict=True):
            if self.transform is not None:
                images = self.transform(pixels, generator)
            else:
                images = to_float_images(pixels, self.preprocessing)
            labels = self.labels[index.to(self.labels.device)]
            yield images.contiguous(memory_format=memory_format), labels

    def _pixels(self, index_batches: list[torch.Tensor]) -> Iterator[torch.Tensor]:
        """The uint8 images of each batch, on the device."""
        if isinstance(self.images, torch.Tensor):
            for index in index_batches:
                yield self.images[index.to(self.images.device)]
            return
        non_blocking = self.device.type == "cuda"
        for pixels in self.images.batches(index_batches):
            yield pixels.to(self.device, non_blocking=non_blocking)
