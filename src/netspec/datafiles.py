"""Bounded, safe reading of data files: images, IDX, gzip and CIFAR batches.

Every data file netspec opens — a dataset's images or arrays for ``netspec train``/``eval``,
an input of ``netspec predict`` — is read here, under the same rules:

* only **regular files** are read (a FIFO would hang, a device would never end), and each
  kind has a **size limit** checked before a byte is read;
* **images** (PNG, JPEG, ...) are decoded by Pillow only after their header says they
  have at most :data:`MAX_IMAGE_PIXELS` pixels (Pillow's own decompression-bomb limit,
  turned into one clear error instead of a warning); a truncated or corrupt image is one
  line, never a traceback;
* **gzip** is inflated in bounded steps: the output may never exceed the limit, so a
  3 MB file that inflates to 3 GiB is refused after at most the limit, not by
  ``MemoryError``;
* **IDX** headers are checked against the data before anything is allocated: the
  dimensions are multiplied in Python integers (no overflow) and must describe exactly
  the bytes the file holds;
* **CIFAR batches** (torchvision's "python version", which are pickles) are read with a
  restricted unpickler that builds only dicts, lists, strings, bytes, numbers and plain
  numeric numpy arrays. A pickle that names anything else — ``os.system``, a class, an
  object array — is refused before that name is looked up, so a data file can never run
  code.

Errors are :class:`~netspec.errors.DataError` (one line, ``error: …``); ``predict`` words
them as its own input errors. No torch here: these readers run in data-loading worker
processes too, and a reader should cost only what it reads.
"""

from __future__ import annotations

import contextlib
import io
import math
import os
import pickle
import zlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np

from . import files
from .errors import DataError
from .limits import memory_limit

#: Largest image file read, in bytes (a photo is a few MB; a 256 MiB PNG is not a sample).
MAX_IMAGE_FILE_BYTES = 256 << 20
#: Most pixels an image may have (width × height): Pillow's own decompression-bomb limit
#: (``PIL.Image.MAX_IMAGE_PIXELS``), about 9459 × 9459. Checked from the header, before
#: decoding.
MAX_IMAGE_PIXELS = 89_478_485
#: Largest IDX or CIFAR file read, and the most bytes a gzip file may inflate to (1 GiB:
#: Fashion-MNIST's training images are 47 MB, CIFAR-100's training batch 155 MB).
MAX_DATA_BYTES = 1 << 30


def data_limit() -> int:
    """The most bytes one data file may hold once read (inflated): 1 GiB, or the memory
    limit (``NETSPEC_MEMORY_LIMIT``) when that is lower."""
    return min(MAX_DATA_BYTES, memory_limit())


#: File name endings of images in dataset folders (torchvision's ``IMG_EXTENSIONS``).
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")

_GZIP_MAGIC = b"\x1f\x8b"
# IDX type codes (http://yann.lecun.com/exdb/mnist/): all values are big-endian.
_IDX_DTYPES = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}
#: Most dimensions an IDX file may declare (labels 1, images 3, colour images 4).
_IDX_MAX_DIMS = 4


class NotAnImageError(DataError):
    """A file that Pillow does not recognise as an image at all (a text file, say)."""


def _size_in_words(count: int) -> str:
    """``1.5 GiB``, ``3.0 MB``: sizes in messages, in the units people read."""
    if count >= 1 << 30:
        return f"{count / (1 << 30):.1f} GiB"
    if count >= 1 << 20:
        return f"{count / (1 << 20):.1f} MiB"
    return f"{count:,} bytes"


def _a(noun: str) -> str:
    return f"{'an' if noun[:1] in 'aeiou' else 'a'} {noun}"


def _too_large(path: str | os.PathLike[str], size: int, limit: int, what: str) -> DataError:
    return DataError(
        f"{path}: {_size_in_words(size)}, more than the limit of {_size_in_words(limit)} "
        f"for {_a(what)}"
    )


def read_bounded(path: str | os.PathLike[str], limit: int, what: str = "file") -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes.

    :func:`netspec.files.read_bounded` opens it without blocking and checks what it opened:
    reading never starts on a FIFO, a device or a directory (not even one swapped in after
    a check), and never on a file larger than the limit, whatever its name says.
    """
    return files.read_bounded(
        path, what, DataError, limit, too_large=lambda size: _too_large(path, size, limit, what)
    )


# ------------------------------------------------------------------------------ gzip


class _Inflater:
    """Reads a gzip stream (several members allowed) in steps whose output is bounded."""

    def __init__(self, raw: bytes, path: str | os.PathLike[str]) -> None:
        self._path = path
        self._input = raw
        self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)

    def read(self, count: int) -> bytes:
        """Up to ``count`` bytes of output; fewer only at the end of the data."""
        out = bytearray()
        while len(out) < count:
            if self._decoder.eof:
                rest = self._decoder.unused_data
                if not rest.startswith(_GZIP_MAGIC):
                    break  # the end (zero padding after the last member is tolerated)
                self._decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
                self._input = rest
            try:
                chunk = self._decoder.decompress(self._input, count - len(out))
            except zlib.error as exc:
                raise DataError(f"{self._path}: not a valid gzip file ({exc})") from None
            self._input = self._decoder.unconsumed_tail
            out += chunk
            if not chunk and not self._input and not self._decoder.eof:
                raise DataError(f"{self._path}: truncated gzip file")
        return bytes(out)


def gunzip_bounded(raw: bytes, limit: int, path: str | os.PathLike[str] = "<data>") -> bytes:
    """Inflate gzip data whose output must not exceed ``limit`` bytes.

    At most ``limit + 1`` bytes are ever produced: a decompression bomb costs the limit,
    not the bomb's size.
    """
    inflater = _Inflater(raw, path)
    data = inflater.read(limit)
    if len(data) == limit and inflater.read(1):
        raise DataError(
            f"{path}: inflates to more than the limit of {_size_in_words(limit)} "
            f"(a decompression bomb, or a file too large for netspec)"
        )
    return data


# ------------------------------------------------------------------------------- IDX


def read_idx(path: str | os.PathLike[str], limit: int | None = None) -> np.ndarray:
    """One IDX file, gzip-compressed or not (told apart by content, not by name).

    The header is read first; the data it announces is only read (or inflated) when its
    size, computed without overflow, is within ``limit`` — and it must then be exactly
    what the file holds. ``limit`` defaults to :func:`data_limit`.
    """
    limit = data_limit() if limit is None else limit
    raw = read_bounded(path, limit, "data file")
    inflater = _Inflater(raw, path) if raw[:2] == _GZIP_MAGIC else None

    def take(count: int, offset: int) -> bytes:
        return inflater.read(count) if inflater is not None else raw[offset : offset + count]

    magic = take(4, 0)
    if len(magic) < 4 or magic[0] != 0 or magic[1] != 0 or magic[2] not in _IDX_DTYPES:
        raise DataError(f"{path}: not an IDX file (bad magic number)")
    dtype, ndim = _IDX_DTYPES[magic[2]], magic[3]
    if not 1 <= ndim <= _IDX_MAX_DIMS:
        raise DataError(f"{path}: IDX header declares {ndim} dimensions; netspec reads 1 to 4")
    header = take(4 * ndim, 4)
    if len(header) < 4 * ndim:
        raise DataError(f"{path}: truncated IDX header")
    shape = tuple(int.from_bytes(header[4 * i : 4 * i + 4], "big") for i in range(ndim))
    expected = math.prod(shape) * dtype.itemsize  # Python integers: no overflow
    if expected > limit:
        raise DataError(
            f"{path}: IDX header says {shape} ({_size_in_words(expected)}), more than the "
            f"limit of {_size_in_words(limit)}"
        )
    header_end = 4 + 4 * ndim
    body = take(expected + 1, header_end)
    if len(body) != expected:
        held = f"more than {expected}" if len(body) > expected else str(len(body))
        raise DataError(
            f"{path}: IDX header says {shape} ({expected} bytes) "
            f"but the file holds {held} bytes of data"
        )
    array = np.frombuffer(body, dtype=dtype).reshape(shape)
    return array.astype(dtype.newbyteorder("="), copy=True)


# ------------------------------------------------------------------------------ images


@contextlib.contextmanager
def _open_checked(path: str | os.PathLike[str]) -> Iterator[Any]:
    """A Pillow image whose header was read and whose size is within the limits, read from
    the regular file opened once (:func:`netspec.files.open_regular`).

    Pillow's own check (a warning, then an error at twice its limit) is set aside while
    the header is read — nothing is decoded yet — so that every oversized image gets the
    same message, with its size.
    """
    from PIL import Image, UnidentifiedImageError

    with files.open_regular(path, "image file", DataError) as (stream, size):
        if size > MAX_IMAGE_FILE_BYTES:
            raise _too_large(path, size, MAX_IMAGE_FILE_BYTES, "image")
        pillow_limit = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = None
        try:
            image = Image.open(stream)
        except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
            raise NotAnImageError(f"{path}: not an image (PNG, JPEG, ...)", code="NS712") from None
        finally:
            Image.MAX_IMAGE_PIXELS = pillow_limit
        with image:
            if image.width * image.height > MAX_IMAGE_PIXELS:
                raise DataError(
                    f"{path}: has {image.width}x{image.height} pixels, more than the limit of "
                    f"{MAX_IMAGE_PIXELS:,} pixels (a decompression bomb, or an image too large "
                    f"to classify)",
                    code="NS712",
                )
            yield image


def image_size(path: str | os.PathLike[str]) -> tuple[int, int]:
    """(height, width) of an image, from its header alone (nothing is decoded)."""
    with _open_checked(path) as image:
        return image.height, image.width


def read_image(path: str | os.PathLike[str], mode: str | None = None) -> np.ndarray:
    """The pixels of a PNG/JPEG/... file as uint8: (H, W) for grayscale, (H, W, 3) for colour.

    ``mode`` "L" or "RGB" converts to that (as torchvision's ImageFolder loader converts
    to RGB); None keeps grayscale and RGB as they are and converts the rest (palette,
    alpha, CMYK to RGB; 16-bit and 1-bit to grayscale).
    """
    with _open_checked(path) as image:
        try:
            image.load()
        except (OSError, SyntaxError, ValueError, zlib.error) as exc:
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise DataError(
                f"{path}: truncated or corrupt image ({reason})", code="NS712"
            ) from None
        if mode is None and image.mode not in ("L", "RGB"):
            mode = "RGB" if image.mode in ("RGBA", "P", "PA", "CMYK", "YCbCr", "LAB") else "L"
        if mode is not None and image.mode != mode:
            image = image.convert(mode)
        return np.asarray(image)


def convert_pixels(pixels: np.ndarray, mode: str) -> np.ndarray:
    """uint8 pixels (H, W) or (H, W, 3) converted to Pillow's mode "L" or "RGB"."""
    from PIL import Image

    if (mode == "L" and pixels.ndim == 2) or (mode == "RGB" and pixels.ndim == 3):
        return pixels
    return np.asarray(Image.fromarray(pixels).convert(mode))


# ------------------------------------------------------------------------------- CIFAR


def _numpy_dtype(kind: Any, *args: Any) -> np.dtype:
    """``numpy.dtype`` for the unpickler: plain numbers only (an object dtype would let
    the pickle build arbitrary objects inside an array)."""
    dtype = np.dtype(kind)
    if dtype.kind not in "biuf":
        raise pickle.UnpicklingError(f"refused numpy dtype {dtype}")
    return np.dtype(kind, *args)


def _numpy_reconstruct(cls: Any, shape: Any, typecode: Any) -> np.ndarray:
    """numpy's array constructor for pickles, for plain ``ndarray`` only."""
    if cls is not np.ndarray:
        raise pickle.UnpicklingError("refused array subclass")
    return np.ndarray.__new__(np.ndarray, shape, typecode)


def _codecs_encode(text: Any, encoding: str = "utf-8") -> bytes:
    """How Python 3 pickles bytes at protocol 2: ``_codecs.encode(str, 'latin1')``."""
    if not isinstance(text, str) or encoding not in ("latin1", "latin-1"):
        raise pickle.UnpicklingError("refused codecs call")
    return text.encode("latin1")


_ALLOWED_GLOBALS: dict[tuple[str, str], Callable[..., Any] | type] = {
    ("numpy.core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy._core.multiarray", "_reconstruct"): _numpy_reconstruct,
    ("numpy", "ndarray"): np.ndarray,
    ("numpy", "dtype"): _numpy_dtype,
    ("_codecs", "encode"): _codecs_encode,
}


class _RefusedGlobal(pickle.UnpicklingError):
    """The pickle named something that is not plain data."""


class _DataUnpickler(pickle.Unpickler):
    """Builds dicts, lists, tuples, strings, bytes, numbers and numeric arrays — nothing else.

    ``find_class`` is where a pickle gets hold of any callable (``os.system``, a class);
    every name outside :data:`_ALLOWED_GLOBALS` is refused there, before it is imported.
    """

    def find_class(self, module: str, name: str) -> Any:
        allowed = _ALLOWED_GLOBALS.get((module, name))
        if allowed is None:
            raise _RefusedGlobal(f"{module}.{name}")
        return allowed


def load_data_pickle(path: str | os.PathLike[str], limit: int | None = None) -> Any:
    """A pickle that must hold plain data only (CIFAR's batches); refuses anything else.

    Python 2 pickles (the CIFAR files were written by Python 2) are read as torchvision
    reads them, with ``encoding="latin1"``. ``limit`` defaults to :func:`data_limit`.
    """
    limit = data_limit() if limit is None else limit
    raw = read_bounded(path, limit, "data file")
    try:
        return _DataUnpickler(io.BytesIO(raw), encoding="latin1").load()
    except _RefusedGlobal as exc:
        raise DataError(
            f"{path}: refused: the file asks to run {exc} — a CIFAR batch holds only "
            f"arrays, lists and names, so this is not one (never unpickle it elsewhere)",
            code="NS713",
        ) from None
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, IndexError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DataError(f"{path}: truncated or corrupt pickle ({reason})", code="NS714") from None
    except MemoryError:
        raise DataError(
            f"{path}: corrupt pickle (asks for more memory than exists)", code="NS714"
        ) from None


def _plain_keys(value: Any) -> Any:
    """A dict's bytes keys as strings (Python 3 pickles of CIFAR may carry b'data')."""
    if isinstance(value, dict):
        return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in value.items()}
    return value


def read_cifar_batch(path: str | os.PathLike[str], label_key: str) -> tuple[np.ndarray, list[int]]:
    """The images (N, 3, 32, 32) uint8 and labels of one CIFAR "python version" batch file.

    ``label_key`` is ``labels`` (CIFAR-10) or ``fine_labels`` (CIFAR-100).
    """
    batch = _plain_keys(load_data_pickle(path))
    if not isinstance(batch, dict) or "data" not in batch or label_key not in batch:
        raise DataError(
            f"{path}: not a CIFAR batch (no 'data' and '{label_key}' entries)", code="NS714"
        )
    data, labels = batch["data"], batch[label_key]
    if not isinstance(data, np.ndarray) or data.dtype != np.uint8 or data.ndim != 2:
        raise DataError(
            f"{path}: a CIFAR batch's 'data' must be a uint8 array (N, 3072)", code="NS714"
        )
    if data.shape[1] != 3 * 32 * 32:
        raise DataError(
            f"{path}: CIFAR rows hold 3072 pixels, this one {data.shape[1]}", code="NS714"
        )
    if isinstance(labels, np.ndarray):
        labels = labels.tolist()
    if not isinstance(labels, list) or not all(
        isinstance(x, int) and not isinstance(x, bool) for x in labels
    ):
        raise DataError(f"{path}: '{label_key}' must be a list of integers", code="NS714")
    if len(labels) != len(data):
        raise DataError(f"{path}: {len(data)} images but {len(labels)} labels", code="NS714")
    return data.reshape(-1, 3, 32, 32), labels


def read_cifar_names(path: str | os.PathLike[str], key: str) -> list[str]:
    """Class names from a CIFAR meta file (``batches.meta``'s ``label_names``, or ``meta``'s
    ``fine_label_names``)."""
    meta = _plain_keys(load_data_pickle(path))
    names = meta.get(key) if isinstance(meta, dict) else None
    if not isinstance(names, list) or not all(isinstance(n, str | bytes) for n in names):
        raise DataError(f"{path}: no list of class names under '{key}'", code="NS714")
    return [n.decode("latin1") if isinstance(n, bytes) else n for n in names]


def is_image_name(path: Path) -> bool:
    """Whether a dataset folder's file counts as an image, by its ending (as ImageFolder)."""
    return path.suffix.lower() in IMAGE_SUFFIXES
