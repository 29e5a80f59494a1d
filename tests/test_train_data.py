"""Fashion-MNIST loading and on-device batching (netspec.data), on small synthetic IDX files."""

from __future__ import annotations

import gzip
from pathlib import Path

import pytest
import torch

from netspec import data
from netspec.data import (
    DATA_DIR_ENV,
    IDX_FILES,
    Batches,
    DataError,
    load_fashion_mnist,
    read_idx,
    to_float_images,
    write_idx,
)
from train_support import synthetic_images, write_fashion_mnist

#: Tiny models: one torch thread is as fast, and immune to stalls when cores are busy.
pytestmark = pytest.mark.usefixtures("single_thread")


def test_idx_round_trip_plain_and_gzip(tmp_path: Path) -> None:
    images, labels = synthetic_images(12, seed=0)
    write_idx(tmp_path / "images", images)
    write_idx(tmp_path / "labels.gz", labels, compress=True)
    assert torch.equal(read_idx(tmp_path / "images"), images)
    assert torch.equal(read_idx(tmp_path / "labels.gz"), labels)


def test_gzip_is_recognised_by_content_not_by_name(tmp_path: Path) -> None:
    images, _ = synthetic_images(4, seed=0)
    write_idx(tmp_path / "plain", images)
    (tmp_path / "no-suffix").write_bytes(gzip.compress((tmp_path / "plain").read_bytes()))
    assert torch.equal(read_idx(tmp_path / "no-suffix"), images)


def test_corrupt_idx_files_are_reported_with_their_path(tmp_path: Path) -> None:
    (tmp_path / "bad").write_bytes(b"\x12\x34\x08\x01\x00\x00\x00\x01\x00")
    with pytest.raises(DataError, match="bad magic"):
        read_idx(tmp_path / "bad")
    images, _ = synthetic_images(4, seed=0)
    write_idx(tmp_path / "short", images)
    (tmp_path / "short").write_bytes((tmp_path / "short").read_bytes()[:-10])
    with pytest.raises(DataError, match="short: IDX header says"):
        read_idx(tmp_path / "short")


def test_loads_flat_folder_gzip_or_not(tmp_path: Path) -> None:
    for compress in (False, True):
        folder = write_fashion_mnist(tmp_path / str(compress), train=40, test=20, compress=compress)
        dataset = load_fashion_mnist(folder, download=False)
        assert dataset.train_images.shape == (40, 28, 28)
        assert dataset.train_images.dtype == torch.uint8
        assert dataset.test_labels.dtype == torch.int64
        assert len(dataset.test_labels) == 20


def test_loads_torchvision_raw_layout_and_environment_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_fashion_mnist(tmp_path / "root" / "FashionMNIST" / "raw", train=30, test=10)
    monkeypatch.setenv(DATA_DIR_ENV, str(tmp_path / "root"))
    dataset = load_fashion_mnist(None, download=False)
    assert len(dataset.train_labels) == 30


def test_missing_data_is_one_line_naming_data_dir(tmp_path: Path) -> None:
    with pytest.raises(DataError) as caught:
        load_fashion_mnist(tmp_path, download=False)
    message = caught.value.render()
    assert "\n" not in message and "--data-dir" in message and str(tmp_path) in message


def test_failed_download_is_one_line_naming_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def offline(folder: Path) -> None:
        raise RuntimeError("Error downloading train-images-idx3-ubyte.gz\nmore detail")

    monkeypatch.setattr(data, "download_fashion_mnist", offline)
    with pytest.raises(DataError) as caught:
        load_fashion_mnist(tmp_path)
    message = caught.value.render()
    assert "\n" not in message
    assert "downloading it failed (Error downloading" in message and "--data-dir" in message


def test_labels_out_of_range_are_rejected(tmp_path: Path) -> None:
    folder = write_fashion_mnist(tmp_path, train=20, test=10)
    write_idx(folder / IDX_FILES["test_labels"], torch.full((10,), 12, dtype=torch.uint8))
    with pytest.raises(DataError, match=r"labels must lie in 0\.\.9"):
        load_fashion_mnist(folder, download=False)


def test_uncompressed_files_win_over_gzip(tmp_path: Path) -> None:
    folder = write_fashion_mnist(tmp_path, train=20, test=10, compress=True)
    write_idx(folder / IDX_FILES["test_labels"], torch.zeros(10, dtype=torch.uint8))
    assert load_fashion_mnist(folder, download=False).test_labels.sum() == 0


@pytest.mark.parametrize("size", [96, 224])
def test_on_device_resize_matches_torchvision_resize(size: int) -> None:
    """Bilinear interpolate == torchvision Resize on float tensors (float tolerance), and
    == the seed's PIL Resize + ToTensor up to PIL's rounding of pixels to uint8 (1/255)."""
    from torchvision import transforms
    from torchvision.transforms import functional as TF

    images, _ = synthetic_images(3, seed=5)
    ours = to_float_images(images, (size, size))
    assert ours.shape == (3, 1, size, size) and ours.dtype == torch.float32

    as_float = images.unsqueeze(1).float() / 255
    torchvision_tensor = transforms.Resize(size)(as_float)
    torch.testing.assert_close(ours, torchvision_tensor, atol=1e-6, rtol=0)

    seed_pipeline = transforms.Compose([transforms.Resize(size), transforms.ToTensor()])
    seed = torch.stack([seed_pipeline(TF.to_pil_image(image)) for image in images])
    assert (ours - seed).abs().max() <= 1.0 / 255 + 1e-6


def test_no_resize_is_exactly_to_tensor() -> None:
    from torchvision import transforms

    images, _ = synthetic_images(2, seed=6)
    seed = torch.stack([transforms.ToTensor()(image.numpy()) for image in images])
    assert torch.equal(to_float_images(images, (28, 28)), seed)


def _batches(count: int, **kwargs: object) -> Batches:
    images, labels = synthetic_images(count, seed=7)
    options = {"batch_size": 8, "preprocessing": (28, 28), "device": torch.device("cpu")}
    options.update(kwargs)
    return Batches(images, labels.long(), **options)  # type: ignore[arg-type]


def test_an_epoch_visits_every_sample_once_in_an_order_fixed_by_seed_and_epoch() -> None:
    batches = _batches(50, shuffle=True, seed=3)
    first = batches.shard_indices()
    assert sorted(first.tolist()) == list(range(50))
    batches.set_epoch(1)
    second = batches.shard_indices()
    assert not torch.equal(first, second)
    again = _batches(50, shuffle=True, seed=3)
    again.set_epoch(1)
    assert torch.equal(again.shard_indices(), second)
    sizes = [len(labels) for _, labels in batches]
    assert sizes == [8] * 6 + [2] and len(batches) == 7


def test_training_shards_are_padded_to_equal_length_and_cover_everything() -> None:
    shards = [
        _batches(51, shuffle=True, seed=1, rank=rank, world_size=2, pad_shards=True)
        for rank in range(2)
    ]
    indices = [shard.shard_indices() for shard in shards]
    assert len(indices[0]) == len(indices[1]) == 26
    assert set(torch.cat(indices).tolist()) == set(range(51))
    assert len(shards[0]) == len(shards[1]) == 4


def test_test_shards_partition_the_test_set() -> None:
    shards = [_batches(51, shuffle=False, rank=rank, world_size=2) for rank in range(2)]
    indices = torch.cat([shard.shard_indices() for shard in shards])
    assert sorted(indices.tolist()) == list(range(51))
    assert sum(len(labels) for shard in shards for _, labels in shard) == 51


def test_channels_last_batches() -> None:
    images, _ = next(iter(_batches(8, shuffle=False, channels_last=True, preprocessing=(32, 32))))
    assert images.shape == (8, 1, 32, 32)
    assert images.is_contiguous(memory_format=torch.channels_last)
