"""Bounded, safe reading of data files (netspec.datafiles): hostile files end in one line.

Each case is a file an attacker or an accident could hand to ``train``, ``eval`` or
``predict``: a decompression bomb (gzip or image), an IDX header that lies, a FIFO, a
truncated image, a CIFAR pickle that carries code. None may hang, exhaust memory or run
anything; each is refused with a message naming the file.
"""

from __future__ import annotations

import gzip
import os
import pickle
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from data_support import Payload, cifar_batch, write_payload_batch
from netspec import datafiles
from netspec.errors import DataError

SIXTEEN_MIB_OF_ZEROS = gzip.compress(bytes(16 << 20), compresslevel=9)


def _idx_header(*shape: int) -> bytes:
    return bytes([0, 0, 0x08, len(shape)]) + b"".join(d.to_bytes(4, "big") for d in shape)


def _gzip_bomb(path: Path, header: bytes) -> Path:
    """3 MB on disk, 3 GiB inflated: a header member, then 192 members of 16 MiB of zeros."""
    path.write_bytes(gzip.compress(header) + SIXTEEN_MIB_OF_ZEROS * 192)
    assert path.stat().st_size < 4 << 20
    return path


def test_a_3mb_gzip_that_inflates_to_3gib_is_refused_without_inflating_it(
    tmp_path: Path,
) -> None:
    # Header honest about its 3 GiB: refused from the header, before inflating anything.
    honest = _gzip_bomb(tmp_path / "honest-idx3-ubyte.gz", _idx_header(4108, 1024, 765))
    with pytest.raises(DataError, match=r"IDX header says \(4108, 1024, 765\) \(3\.0 GiB\), more"):
        datafiles.read_idx(honest)
    # Header claiming 10 images: inflation stops one byte after what the header announced.
    lying = _gzip_bomb(tmp_path / "lying-idx3-ubyte.gz", _idx_header(10, 28, 28))
    with pytest.raises(
        DataError, match=r"says \(10, 28, 28\) \(7840 bytes\) but the file holds more"
    ):
        datafiles.read_idx(lying)
    # Plain gzip data: never more than the limit is produced.
    with pytest.raises(DataError, match=r"inflates to more than the limit of 1\.0 MiB"):
        datafiles.gunzip_bounded(lying.read_bytes(), 1 << 20, lying)


def test_predict_reads_inputs_through_the_same_bounded_readers(tmp_path: Path) -> None:
    from netspec.errors import InputError
    from netspec.predict import read_inputs

    bomb = _gzip_bomb(tmp_path / "images-idx3-ubyte.gz", _idx_header(10, 28, 28))
    with pytest.raises(InputError, match="holds more than 7840 bytes"):
        list(read_inputs([str(bomb)]))
    image_bomb = tmp_path / "bomb.png"
    image_bomb.write_bytes(_png_header(100000, 100000))
    with pytest.raises(InputError, match="more than the limit of 89,478,485 pixels"):
        list(read_inputs([str(image_bomb)]))


def test_idx_dimensions_that_overflow_are_refused_before_allocating(tmp_path: Path) -> None:
    huge = tmp_path / "huge-idx3-ubyte"
    huge.write_bytes(_idx_header(0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF) + bytes(64))
    with pytest.raises(DataError, match=r"IDX header says \(4294967295, 4294967295, 4294967295\)"):
        datafiles.read_idx(huge)
    many = tmp_path / "many-dims"
    many.write_bytes(bytes([0, 0, 0x08, 200]) + bytes(800))
    with pytest.raises(DataError, match="declares 200 dimensions"):
        datafiles.read_idx(many)


def test_gzip_is_read_across_members_and_truncation_is_one_line(tmp_path: Path) -> None:
    body = _idx_header(2, 2, 2) + bytes(range(8))
    split = tmp_path / "split.gz"
    split.write_bytes(gzip.compress(body[:6]) + gzip.compress(body[6:]))
    assert datafiles.read_idx(split).tolist() == [[[0, 1], [2, 3]], [[4, 5], [6, 7]]]
    cut = tmp_path / "cut.gz"
    cut.write_bytes(gzip.compress(body)[:-12])
    with pytest.raises(DataError, match="truncated gzip file"):
        datafiles.read_idx(cut)


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header claims ``width`` × ``height`` pixels (the data is a few bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0"))
            + chunk(b"IEND", b""))  # fmt: skip


@pytest.mark.parametrize(("width", "height"), [(10000, 10000), (100000, 100000)])
def test_decompression_bomb_images_are_refused_from_their_header(
    tmp_path: Path, width: int, height: int
) -> None:
    """Above Pillow's limit (a warning up to twice it, an error beyond): one clear line."""
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(_png_header(width, height))
    message = rf"has {width}x{height} pixels, more than the limit of 89,478,485 pixels"
    with pytest.raises(DataError, match=message) as caught:
        datafiles.read_image(bomb)
    assert "\n" not in caught.value.render()


def test_truncated_and_fake_images_are_one_line(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8)).save(good)
    truncated = tmp_path / "truncated.png"
    truncated.write_bytes(good.read_bytes()[:300])
    with pytest.raises(DataError, match=r"truncated\.png: truncated or corrupt image"):
        datafiles.read_image(truncated)
    fake = tmp_path / "notes.png"
    fake.write_text("not a picture")
    with pytest.raises(datafiles.NotAnImageError, match=r"notes\.png: not an image"):
        datafiles.read_image(fake)
    assert datafiles.read_image(good).shape == (64, 64)
    assert datafiles.read_image(good, "RGB").shape == (64, 64, 3)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_only_regular_files_are_read(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.png"
    os.mkfifo(fifo)  # opening it for reading would block forever
    for reader in (datafiles.read_image, datafiles.read_idx, datafiles.load_data_pickle):
        with pytest.raises(DataError, match="is a FIFO, not a file"):
            reader(fifo)


def test_size_limits_are_checked_before_reading(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(datafiles, "MAX_IMAGE_FILE_BYTES", 1000)
    big = tmp_path / "big.png"
    Image.fromarray(np.random.default_rng(0).integers(0, 255, (64, 64), np.uint8)).save(big)
    with pytest.raises(DataError, match=r"more than the limit of 1,000 bytes for an image"):
        datafiles.read_image(big)


def test_cifar_batches_unpickle_as_plain_data(tmp_path: Path) -> None:
    for protocol in (2, 4):
        path = tmp_path / f"batch{protocol}"
        path.write_bytes(pickle.dumps(cifar_batch(6, seed=0), protocol=protocol))
        images, labels = datafiles.read_cifar_batch(path, "labels")
        assert images.shape == (6, 3, 32, 32) and images.dtype == np.uint8 and len(labels) == 6


def test_a_cifar_pickle_carrying_a_payload_is_refused_and_the_payload_does_not_run(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "payload-ran"
    evil = tmp_path / "data_batch_1"
    write_payload_batch(evil, marker)
    pickle.loads(pickle.dumps(Payload(marker)))  # plain pickle runs it: the payload is real
    assert marker.exists()
    marker.unlink()
    with pytest.raises(DataError, match=r"refused: the file asks to run posix\.system"):
        datafiles.read_cifar_batch(evil, "labels")
    assert not marker.exists()


def test_pickles_of_objects_other_than_plain_data_are_refused(tmp_path: Path) -> None:
    objects = tmp_path / "objects"
    objects.write_bytes(pickle.dumps({"data": np.array([1, "x"], dtype=object)}, protocol=2))
    with pytest.raises(DataError, match="refused numpy dtype object"):
        datafiles.load_data_pickle(objects)
    path_object = tmp_path / "path"
    path_object.write_bytes(pickle.dumps({"data": Path("/etc")}, protocol=4))
    with pytest.raises(DataError, match=r"refused: the file asks to run pathlib"):
        datafiles.load_data_pickle(path_object)


def test_truncated_cifar_batches_are_one_line(tmp_path: Path) -> None:
    whole = pickle.dumps(cifar_batch(6, seed=0), protocol=2)
    cut = tmp_path / "data_batch_1"
    cut.write_bytes(whole[: len(whole) // 2])
    with pytest.raises(DataError, match=r"data_batch_1: truncated or corrupt pickle"):
        datafiles.read_cifar_batch(cut, "labels")
