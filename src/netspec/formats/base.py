"""What one artifact format provides, and the pieces every format shares.

A format is a :class:`Format` value: its names (for ``--format``, file names and messages),
how to write a module, how to recognise a file and read its netspec metadata without
running anything, and how to open it for running. The contract around those — metadata,
verification by reloading, atomic publishing — belongs to :mod:`netspec.export`, and the
dispatch over formats to :mod:`netspec.artifacts`.

Importing this package does not import torch (the CLI lists the formats in ``--help``, and
``netspec check`` must stay free of torch); torch is imported by the functions that run it.
"""

from __future__ import annotations

import io
import json
import os
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..errors import ArtifactError
from ..files import read_bounded

if TYPE_CHECKING:
    import torch
    from torch import nn

    from ..spatial import SizeRange

#: Names of the extra files embedded in artifacts (zip formats hold them as files under
#: ``extra/``; ONNX models as ``metadata_props`` entries with these keys).
SPEC_FILE = "netspec/spec.yaml"
META_FILE = "netspec/meta.json"
#: Largest batch a dynamic-batch artifact promises to accept.
MAX_BATCH = 65536
#: The name of the batch dimension in exported signatures.
BATCH_DIM = "batch"
#: Largest metadata plus spec text read from an artifact (a spec is at most 1 MiB).
MAX_METADATA_BYTES = 8 << 20

#: An opened artifact: an input batch in, outputs out (on the device it was opened for).
Runner = Callable[["torch.Tensor"], "torch.Tensor"]


@dataclass(frozen=True)
class Precision:
    """A numeric precision an artifact can compute in (a ``--precision`` value)."""

    name: str
    #: Device types it is offered for: where it has fast kernels.
    devices: tuple[str, ...]
    #: What ``--precision``'s help says about it.
    summary: str
    #: Why it is refused on the other device types (one clause).
    elsewhere: str = ""


#: Every precision, in ``--precision`` order. Which formats offer one is each format's
#: :attr:`Format.precisions`; fp32 is the model's own.
PRECISIONS: dict[str, Precision] = {
    entry.name: entry
    for entry in (
        Precision("fp32", ("cpu", "cuda"), "32-bit floats, the model's own numbers (default)"),
        Precision(
            "bf16",
            ("cpu", "cuda"),
            "bfloat16 weights and activations: half the size, faster where the CPU has "
            "AVX-512 BF16 or AMX, and on GPUs",
        ),
        Precision(
            "fp16",
            ("cuda",),
            "float16 weights and activations, for GPUs",
            "CPUs have no fast float16 kernels (use --precision bf16 on a CPU)",
        ),
        Precision(
            "int8",
            ("cpu",),
            "8-bit integers, calibrated on real images (--calibrate): a quarter of the "
            "size, the fastest on CPUs with VNNI",
            "int8 artifacts run onnxruntime's and oneDNN's CPU kernels (use --precision "
            "fp16 or bf16 on a GPU)",
        ),
    )
}


@dataclass(frozen=True)
class WriteOptions:
    """How to write: what ``netspec build`` asked for beyond the format itself."""

    #: ``--optimize``: weights may be frozen into the program (TorchScript freezes).
    frozen: bool = False
    #: ``--compile``: compile ahead of time (formats with a :attr:`Format.compiler` only).
    compile: bool = False
    #: ``--precision``: one of :attr:`Format.precisions`. Below fp32 the module given to
    #: ``write`` is prepared for inference (batch norm folded, frozen weights) in fp32, and
    #: the format lowers it.
    precision: str = "fp32"
    #: int8: the calibration images (float32, N×C×H×W), fed in this order in batches of
    #: :attr:`calibration_batch`; the quantization ranges come from them.
    calibration: torch.Tensor | None = None
    calibration_batch: int = 32
    #: ``--opset``: the ONNX opset to write (None: the exporter's default).
    opset: int | None = None
    #: ``--dynamic-size``: the image sizes the program must take (None: the spec's only).
    sizes: SizeRange | None = None


@dataclass(frozen=True)
class OpenOptions:
    """How to open: what ``netspec predict`` (or the export check) asked for."""

    #: ``predict --compile``: ``torch.compile`` the program where the format has one to compile.
    compile: bool = False
    #: False during export: a missing runtime gives no runner (a structural check only)
    #: instead of an error.
    require_runtime: bool = True
    #: ``predict --trust-artifact``: open the file even when opening it can run code from
    #: it (:mod:`netspec.formats.safety` says where); False refuses such files.
    trust: bool = False
    #: Opened to be timed against other programs (``--optimize``): runtimes that would
    #: spin-wait between calls (onnxruntime) must not, or they steal the cores from the
    #: program timed next.
    measuring: bool = False


@dataclass(frozen=True)
class Recognised:
    """A file a format recognised as its own: the netspec metadata and spec text inside."""

    meta: dict[str, Any]
    spec_text: str


@dataclass
class ArtifactFile:
    """A file offered as an artifact, with what the formats look at to recognise it.

    The file is read once, as bytes (:attr:`data`: a regular file within the memory limit,
    see :mod:`netspec.files`), and recognised and opened from those bytes: what was
    checked is what is loaded, even if the file changes meanwhile.
    """

    path: Path

    @cached_property
    def data(self) -> bytes:
        """The file's bytes; refuses what is not a regular file, or larger than the limit."""
        from ..limits import memory_limit

        return read_bounded(self.path, "artifact", ArtifactError, memory_limit())

    @cached_property
    def zip_names(self) -> list[str] | None:
        """The member names when the file is a zip archive (TorchScript, .pt2), else None."""
        if not zipfile.is_zipfile(io.BytesIO(self.data)):
            return None
        try:
            with zipfile.ZipFile(io.BytesIO(self.data)) as archive:
                return archive.namelist()
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise unreadable(self.path, exc) from None

    def stream(self) -> io.BytesIO:
        """The bytes as a file object (loaders that take one)."""
        return io.BytesIO(self.data)


Writer = Callable[["nn.Module", "torch.Tensor", Path, dict[str, str], WriteOptions], None]
Reader = Callable[[ArtifactFile], Recognised | None]
Opener = Callable[[ArtifactFile, "torch.device", dict[str, Any], OpenOptions], Runner | None]
Restamper = Callable[[Path, dict[str, str]], None]


def rewrite_zip_files(path: Path, files: dict[str, str]) -> None:
    """Replace the netspec ``files`` under ``extra/`` of the zip archive at ``path``.

    TorchScript and ``.pt2`` archives keep them there. Every other member is copied as it
    is, byte for byte, so the program that was verified is the program that stays; only
    the metadata changes (what verification found is recorded after it ran).
    """
    rewritten = path.with_name(path.name + ".restamp")
    try:
        with zipfile.ZipFile(path) as source, zipfile.ZipFile(rewritten, "w") as target:
            for info in source.infolist():
                data = source.read(info.filename)
                for name, text in files.items():
                    if info.filename.endswith(f"/extra/{name}"):
                        data = text.encode("utf-8")
                target.writestr(info, data)
        os.replace(rewritten, path)
    finally:
        rewritten.unlink(missing_ok=True)


@dataclass(frozen=True)
class Format:
    """One artifact format: a row of the table in :mod:`netspec.formats`."""

    #: The ``--format`` value, and the ``format`` field of the artifact's metadata.
    name: str
    #: The default file name ending (``NAME<suffix>``).
    suffix: str
    #: How messages name what was written: ``wrote lenet.ts.pt (0.2 MB, TorchScript)``.
    label: str
    #: What a file of this format is: ``a TorchScript archive without netspec metadata``.
    noun: str
    #: How a list of formats names it: ``not TorchScript, .pt2 or ONNX``.
    short: str
    #: What ``--format``'s help says about it besides its name.
    summary: str
    #: ``write(module, example, path, files, options)``: write ``module`` to ``path`` with
    #: the netspec ``files`` embedded; ``example`` is an input batch of at least two.
    write: Writer
    #: ``read(file)``: the metadata of a file of this format, None when the file is not of
    #: this format; raises :class:`ArtifactError` for a file of this format that netspec
    #: did not write, and ImportError when the library that reads the format is missing.
    read: Reader
    #: ``open(file, device, meta, options)``: a runner on ``device``; None only when the
    #: runtime is missing and ``options.require_runtime`` is False. Unless
    #: ``options.trust``, it refuses a file whose opening would run code from it.
    open: Opener
    #: The ahead-of-time compiler ``--compile`` uses (None: the format cannot be compiled).
    compiler: str | None = None
    #: The runtime that optimises the graph itself, so ``--optimize`` only folds batch norm
    #: (None: netspec measures layouts and rewrites on the target and keeps the fastest).
    optimised_by: str | None = None
    #: The artifact holds a TorchScript program, so ``--optimize`` also measures frozen
    #: and oneDNN-converted scripts.
    scripted: bool = False
    #: What installs the library that reads this format, when it is optional.
    install: str | None = None
    #: The ``--precision`` values it can write (fp32 first).
    precisions: tuple[str, ...] = ("fp32",)
    #: How its int8 artifacts are quantized, recorded in their metadata.
    int8_scheme: Mapping[str, Any] | None = None
    #: ``restamp(path, files)``: replace the netspec files embedded in a written artifact,
    #: leaving the program untouched (verification results are recorded after the check).
    restamp: Restamper = rewrite_zip_files


def not_ours(path: Path, what: str) -> ArtifactError:
    """The error for a file of a known kind that netspec did not write."""
    return ArtifactError(f"{path} is not a netspec artifact ({what} without netspec metadata)")


def unreadable(path: Path, exc: BaseException) -> ArtifactError:
    return ArtifactError(f"cannot read artifact {path}: {exc}".splitlines()[0])


def read_zip_metadata(file: ArtifactFile, noun: str) -> Recognised:
    """The netspec files under ``extra/`` of a zip archive (TorchScript and .pt2 alike)."""
    names = file.zip_names or []
    meta_name = next((n for n in names if n.endswith(f"/extra/{META_FILE}")), None)
    if meta_name is None:
        raise not_ours(file.path, f"a {noun}")
    spec_name = meta_name[: -len(META_FILE)] + SPEC_FILE
    try:
        with zipfile.ZipFile(file.stream()) as archive:
            if _inflated(archive, meta_name, spec_name) > MAX_METADATA_BYTES:
                raise ArtifactError(f"{file.path}: its netspec metadata is too large", code="NS612")
            meta = json.loads(archive.read(meta_name).decode("utf-8"))
            spec_text = archive.read(spec_name).decode("utf-8") if spec_name in names else ""
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise unreadable(file.path, exc) from None
    if not isinstance(meta, dict):
        raise not_ours(file.path, f"a {noun}")
    return Recognised(meta, spec_text)


def _inflated(archive: zipfile.ZipFile, *names: str) -> int:
    """How many bytes these members hold once decompressed (as the archive says)."""
    known = set(archive.namelist())
    return sum(archive.getinfo(name).file_size for name in names if name in known)


def dynamic_dims(example: torch.Tensor, sizes: SizeRange | None) -> dict[int, Any]:
    """The dynamic dimensions of an exported input: the batch, and height and width when
    the network takes other image sizes (``sizes``)."""
    import torch

    dims: dict[int, Any] = {0: torch.export.Dim(BATCH_DIM, min=1, max=MAX_BATCH)}
    if sizes is not None and example.dim() == 4:
        dims[2] = torch.export.Dim("height", min=sizes.min_height, max=sizes.max_height)
        dims[3] = torch.export.Dim("width", min=sizes.min_width, max=sizes.max_width)
    return dims


def module_runner(module: Callable[[torch.Tensor], torch.Tensor], device: torch.device) -> Runner:
    """Run ``module`` on ``device`` without autograd: what opening a torch program gives."""
    import torch

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return module(x.to(device))

    return run
