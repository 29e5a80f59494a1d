"""Open a netspec artifact of any format: what it is, what it says about itself, and a runner.

Recognising an artifact never runs it: the format is read from the file's structure
(TorchScript and ``.pt2`` are zip archives with different layouts, ONNX is a protobuf),
and the netspec metadata must be present before anything is loaded — a file netspec did
not write is refused with one line, not deserialised. ``netspec predict`` and the export
verification both load artifacts through :func:`load_artifact`, so what was verified at
export time is exactly what runs at prediction time.
"""

from __future__ import annotations

import json
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from .errors import ArtifactError, NetspecError
from .export import META_FILE, SPEC_FILE, quiet_jit

#: Human names of the formats, for messages.
FORMAT_NAMES = {
    "torchscript": "TorchScript archive",
    "export": "torch.export program",
    "onnx": "ONNX model",
}


@dataclass
class Artifact:
    """An opened artifact; ``run`` maps an input batch to outputs on ``device``.

    ``run`` is None only when the format's runtime is missing and the caller allowed that
    (ONNX without onnxruntime during export: the model is then checked structurally).
    """

    path: Path
    format: str
    meta: dict[str, Any]
    spec_text: str
    device: torch.device
    run: Callable[[torch.Tensor], torch.Tensor] | None

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.meta.get("input_shape") or ())

    @property
    def classes(self) -> list[str] | None:
        return self.meta.get("classes")


def _text(value: str | bytes) -> str:
    return value.decode("utf-8") if isinstance(value, bytes) else value


def _not_ours(path: Path, what: str) -> ArtifactError:
    return ArtifactError(f"{path} is not a netspec artifact ({what} without netspec metadata)")


def inspect_artifact(path: str | Path) -> tuple[str, dict[str, Any], str]:
    """(format, metadata, spec text) of an artifact, read without loading its program."""
    path = Path(path)
    if not path.exists():
        raise ArtifactError(f"artifact not found: {path}")
    if not path.is_file():
        raise ArtifactError(f"{path} is not a file")
    if zipfile.is_zipfile(path):
        return _inspect_zip(path)
    return _inspect_onnx(path)


def _inspect_zip(path: Path) -> tuple[str, dict[str, Any], str]:
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            meta_name = next((n for n in names if n.endswith(f"/extra/{META_FILE}")), None)
            if any(n.endswith("/archive_format") for n in names):
                kind = "export"  # a torch.export program, or one AOTInductor compiled
            elif any("/code/" in n for n in names):
                kind = "torchscript"
            elif any(n.endswith("/data.pkl") for n in names):
                raise ArtifactError(
                    f"{path} is not a netspec artifact (a torch.save file: weights, not a model)"
                )
            else:
                raise ArtifactError(
                    f"{path} is not a netspec artifact (a zip file of another kind)"
                )
            if meta_name is None:
                raise _not_ours(path, f"a {FORMAT_NAMES[kind]}")
            meta = json.loads(archive.read(meta_name).decode("utf-8"))
            spec_name = meta_name[: -len(META_FILE)] + SPEC_FILE
            spec_text = archive.read(spec_name).decode("utf-8") if spec_name in names else ""
    except (zipfile.BadZipFile, OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(f"cannot read artifact {path}: {exc}".splitlines()[0]) from None
    if not isinstance(meta, dict):
        raise _not_ours(path, f"a {FORMAT_NAMES[kind]}")
    return kind, meta, spec_text


def _inspect_onnx(path: Path) -> tuple[str, dict[str, Any], str]:
    props: dict[str, str] | None = None
    try:
        import onnx

        try:
            model = onnx.load_model(str(path), load_external_data=False)
        except Exception:  # protobuf decode errors come in several types
            raise ArtifactError(
                f"{path} is not a netspec artifact (not TorchScript, .pt2 or ONNX)"
            ) from None
        props = {p.key: p.value for p in model.metadata_props}
    except ImportError:
        try:
            import onnxruntime
        except ImportError:
            hint = " (reading ONNX needs: pip install 'netspec[onnx]')"
            hint = hint if path.suffix == ".onnx" else ""
            raise ArtifactError(f"{path} is not a TorchScript or .pt2 artifact{hint}") from None
        try:
            session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        except Exception:
            raise ArtifactError(
                f"{path} is not a netspec artifact (not TorchScript, .pt2 or ONNX)"
            ) from None
        props = dict(session.get_modelmeta().custom_metadata_map)
    if META_FILE not in props:
        raise _not_ours(path, "a file")
    try:
        meta = json.loads(props[META_FILE])
    except json.JSONDecodeError:
        raise _not_ours(path, "an ONNX model") from None
    return "onnx", meta, props.get(SPEC_FILE, "")


def load_artifact(
    path: str | Path,
    device: str | torch.device = "cpu",
    *,
    compile: bool = False,
    require_runtime: bool = True,
) -> Artifact:
    """Open ``path`` and make it runnable on ``device``.

    ``compile`` wraps ``.pt2`` programs in ``torch.compile`` (TorchScript and ONNX are
    compiled by their own runtimes; for them it changes nothing).
    """
    from .export import quiet_torch_logs, resolve_device

    quiet_torch_logs()
    path = Path(path)
    kind, meta, spec_text = inspect_artifact(path)
    try:
        target = resolve_device(device)
    except NetspecError as exc:
        raise ArtifactError(exc.message) from None
    if kind == "torchscript":
        run = _load_torchscript(path, target, meta)
    elif kind == "export" and meta.get("compiled"):
        run = _load_compiled(path, target, meta)
    elif kind == "export":
        run = _load_program(path, target, compile, meta)
    else:
        run = _load_onnx(path, target, require_runtime)
    return Artifact(path, kind, meta, spec_text, target, run)


def _load_torchscript(
    path: Path, device: torch.device, meta: dict[str, Any]
) -> Callable[[torch.Tensor], torch.Tensor]:
    try:
        with quiet_jit():
            module = torch.jit.load(str(path), map_location=device).eval()
    except Exception as exc:
        raise ArtifactError(
            f"cannot load TorchScript artifact {path}: {exc}".splitlines()[0]
        ) from None
    plan = meta.get("optimization") or {}
    if plan.get("mkldnn_at_load") and device.type == "cpu" and torch.backends.mkldnn.is_available():
        # The oneDNN conversion --optimize chose cannot be serialised: redo it here.
        from .optimize import mkldnn_convert

        module = mkldnn_convert(module)

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return module(x.to(device))

    return run


def _load_program(
    path: Path, device: torch.device, compile: bool, meta: dict[str, Any]
) -> Callable[[torch.Tensor], torch.Tensor]:
    try:
        with open(path, "rb") as stream:  # a stream: the name may not end in .pt2
            program = torch.export.load(stream)
    except Exception as exc:
        raise ArtifactError(f"cannot load .pt2 artifact {path}: {exc}".splitlines()[0]) from None
    if device.type != "cpu":
        from torch.export.passes import move_to_device_pass

        program = move_to_device_pass(program, device)
    module = program.module()
    if (meta.get("optimization") or {}).get("memory_format") == "channels_last":
        # Stored in the standard layout; --optimize measured channels-last faster here.
        module.to(memory_format=torch.channels_last)
    if compile:
        module = torch.compile(module)

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return module(x.to(device))

    return run


def _load_compiled(
    path: Path, device: torch.device, meta: dict[str, Any]
) -> Callable[[torch.Tensor], torch.Tensor]:
    """An AOTInductor package: machine code for the device it was compiled for."""
    built_for = torch.device(meta["compiled"].get("device", "cpu"))
    if built_for.type != device.type:
        raise ArtifactError(
            f"{path} was compiled for {built_for.type}; rebuild it with --device {device.type} "
            "or use an uncompiled artifact"
        )
    try:
        module = torch._inductor.aoti_load_package(str(path))
    except Exception as exc:
        raise ArtifactError(
            f"cannot load compiled artifact {path}: {exc}".splitlines()[0]
        ) from None

    def run(x: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return module(x.to(device))

    return run


def _load_onnx(
    path: Path, device: torch.device, require_runtime: bool
) -> Callable[[torch.Tensor], torch.Tensor] | None:
    try:
        import onnxruntime
    except ImportError:
        if require_runtime:
            raise ArtifactError(
                "running ONNX artifacts needs onnxruntime: pip install 'netspec[onnx]'"
            ) from None
        return None
    providers = ["CPUExecutionProvider"]
    if device.type == "cuda":
        if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
            raise ArtifactError(
                "this onnxruntime cannot use CUDA (install onnxruntime-gpu), or use --device cpu"
            )
        providers.insert(0, "CUDAExecutionProvider")
    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3  # errors only: warnings are about things users cannot act on
    # As many threads as torch uses (torch.set_num_threads, OMP_NUM_THREADS), so that one
    # setting governs every format; onnxruntime's own default is every core.
    options.intra_op_num_threads = torch.get_num_threads()
    try:
        session = onnxruntime.InferenceSession(str(path), options, providers=providers)
    except Exception as exc:
        raise ArtifactError(f"cannot load ONNX artifact {path}: {exc}".splitlines()[0]) from None
    input_name = session.get_inputs()[0].name

    def run(x: torch.Tensor) -> torch.Tensor:
        array = x.detach().to("cpu", torch.float32).contiguous().numpy()
        (output, *_) = session.run(None, {input_name: array})
        return torch.from_numpy(output)

    return run
