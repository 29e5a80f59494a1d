"""Every export format, for every seed network: written, reloaded, verified, self-describing.

The VGG here is the seed's small VGG (``--set ratio=8``, the one the seed trains): the
full VGG-11 is 0.5 GB of weights per artifact and adds a minute to the suite without
covering anything the small one does not (same module tree, same code paths).
ONNX cases skip only when the ``onnx`` extra is not installed; CI installs it.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import sys
import zipfile
from pathlib import Path

import pytest
import torch

import netspec
from conftest import SPECS, SUFFIXES
from netspec.artifacts import inspect_artifact, load_artifact
from netspec.errors import ExportError
from netspec.export import export_model
from seed_models import SEED_NETWORKS

#: Small batches: one thread is as fast, and immune to stalls when cores are busy.
pytestmark = pytest.mark.usefixtures("single_thread")

HAVE_ONNX = all(importlib.util.find_spec(m) for m in ("onnx", "onnxscript"))
HAVE_ORT = importlib.util.find_spec("onnxruntime") is not None
NETWORKS = ["lenet", "alexnet", "vgg11-small", "nin", "googlenet"]
FORMATS = [
    "torchscript",
    "export",
    pytest.param("onnx", marks=pytest.mark.skipif(not HAVE_ONNX, reason="pip install .[onnx]")),
]


def _spec(name: str) -> netspec.CompiledSpec:
    spec_file, overrides, _, _ = SEED_NETWORKS[name]
    return netspec.load(SPECS / spec_file, params=overrides)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("name", NETWORKS)
def test_every_seed_network_exports_and_verifies(name: str, fmt: str, tmp_path: Path) -> None:
    spec = _spec(name)
    _, _, factory, shape = SEED_NETWORKS[name]
    reference = factory().eval()  # the seed's hand-written model and its weights
    model = spec.build(seed=0)
    model.load_state_dict(reference.state_dict(), strict=True)
    out = tmp_path / f"{name}{SUFFIXES[fmt]}"

    report = export_model(model, spec, out, format=fmt)

    assert report.path == out and out.is_file() and report.format == fmt
    if fmt == "onnx" and not HAVE_ORT:
        assert report.max_abs_diff is None
        return
    assert report.max_abs_diff is not None and report.max_abs_diff <= 1e-4
    assert report.verified_batches == [2, 3]
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary files
    # Dynamic batch: a batch size the export never saw, against the hand-written model.
    artifact = load_artifact(out)
    assert artifact.format == fmt and artifact.run is not None
    x = torch.rand(5, *shape, generator=torch.Generator().manual_seed(7))
    with torch.no_grad():
        torch.testing.assert_close(artifact.run(x), reference(x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("fmt", FORMATS)
def test_artifact_carries_what_a_deployer_needs(fmt: str, tmp_path: Path) -> None:
    spec = _spec("lenet")
    classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat"]
    classes += ["Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]
    out = tmp_path / f"lenet{SUFFIXES[fmt]}"
    export_model(
        spec.build(seed=0), spec, out, format=fmt, classes=classes, extra_meta={"epochs": 3}
    )
    kind, meta, spec_text = inspect_artifact(out)
    assert kind == fmt == meta["format"]
    assert spec_text == (SPECS / "lenet.yaml").read_text()
    assert meta["input_shape"] == [1, 28, 28] and meta["output_shape"] == [10]
    assert meta["classes"] == classes and meta["epochs"] == 3
    assert meta["preprocessing"]["resize"] == [28, 28]
    assert meta["preprocessing"]["color"] == "L"
    assert meta["preprocessing"]["scale"] == pytest.approx(1 / 255)
    assert meta["torch_version"] == torch.__version__
    assert {"netspec_version", "python_version", "params"} <= set(meta)


def test_spec_class_names_are_the_default(tmp_path: Path) -> None:
    text = (
        (SPECS / "lenet.yaml")
        .read_text()
        .replace("params:", "classes: [" + ", ".join(f"c{i}" for i in range(10)) + "]\nparams:", 1)
    )
    spec = netspec.load(text)
    out = tmp_path / "lenet.pt2"
    export_model(spec.build(seed=0), spec, out, format="export")
    assert inspect_artifact(out)[1]["classes"] == [f"c{i}" for i in range(10)]


def test_wrong_number_of_class_names_is_refused(tmp_path: Path) -> None:
    spec = _spec("lenet")
    with pytest.raises(ExportError, match="3 class names for a network with 10 outputs"):
        export_model(spec.build(seed=0), spec, tmp_path / "x.ts.pt", classes=["a", "b", "c"])
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", FORMATS)
def test_failed_verification_leaves_nothing(
    fmt: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    if fmt == "onnx" and not HAVE_ORT:
        pytest.skip("ONNX artifacts are only run (and so can only fail) with onnxruntime")
    import netspec.export

    monkeypatch.setattr(netspec.export, "DEFAULT_TOLERANCE", -1.0)
    spec = _spec("lenet")
    with pytest.raises(ExportError, match=r"differs from the eager model .* nothing was written"):
        export_model(spec.build(seed=0), spec, tmp_path / f"lenet{SUFFIXES[fmt]}", format=fmt)
    assert list(tmp_path.iterdir()) == []


def test_dynamic_batch_dimension_in_the_program(tmp_path: Path) -> None:
    spec = _spec("lenet")
    out = tmp_path / "lenet.pt2"
    export_model(spec.build(seed=0), spec, out, format="export")
    with open(out, "rb") as stream:
        program = torch.export.load(stream)
    assert program.module()(torch.rand(1, 1, 28, 28)).shape == (1, 10)
    assert program.module()(torch.rand(17, 1, 28, 28)).shape == (17, 10)


@pytest.mark.skipif(not HAVE_ONNX, reason="pip install .[onnx]")
def test_onnx_batch_dimension_is_symbolic(tmp_path: Path) -> None:
    import onnx

    spec = _spec("lenet")
    out = tmp_path / "lenet.onnx"
    export_model(spec.build(seed=0), spec, out, format="onnx")
    model = onnx.load(str(out))
    dims = model.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [1, 28, 28]
    props = {p.key: p.value for p in model.metadata_props}
    assert json.loads(props["netspec/meta.json"])["name"] == "lenet"


def test_onnx_without_its_extra_is_one_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxscript", None)  # makes `import onnxscript` fail
    spec = _spec("lenet")
    with pytest.raises(ExportError, match=r"pip install 'netspec\[onnx\]'"):
        export_model(spec.build(seed=0), spec, tmp_path / "lenet.onnx", format="onnx")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(not HAVE_ONNX, reason="pip install .[onnx]")
def test_onnx_without_onnxruntime_is_checked_structurally(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "onnxruntime", None)
    spec = _spec("lenet")
    report = export_model(spec.build(seed=0), spec, tmp_path / "lenet.onnx", format="onnx")
    assert report.max_abs_diff is None and report.path.is_file()


def test_artifacts_written_before_still_read(tmp_path: Path) -> None:
    """A TorchScript artifact written with the defaults reads back without being run."""
    spec = _spec("lenet")
    out = tmp_path / "lenet.ts.pt"
    report = export_model(spec.build(seed=0), spec, out)
    assert report.max_abs_diff == 0.0
    _, meta, text = inspect_artifact(out)
    assert meta["name"] == "lenet" and text.startswith("#")
    # TorchScript archives keep the spec's module tree (unless --optimize froze them).
    with zipfile.ZipFile(out) as archive:
        assert any(name.endswith("extra/netspec/meta.json") for name in archive.namelist())


def test_unknown_format_is_refused(tmp_path: Path) -> None:
    spec = _spec("lenet")
    with pytest.raises(ExportError, match="unknown format 'tflite'"):
        export_model(spec.build(seed=0), spec, tmp_path / "x", format="tflite")


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("fmt", FORMATS)
def test_export_and_run_on_cuda(fmt: str, tmp_path: Path) -> None:
    if fmt == "onnx":
        onnxruntime = pytest.importorskip("onnxruntime")
        if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
            pytest.skip("this onnxruntime has no CUDA provider (pip install onnxruntime-gpu)")
    spec = _spec("googlenet")
    out = tmp_path / f"googlenet{SUFFIXES[fmt]}"
    report = export_model(spec.build(seed=0), spec, out, format=fmt, device="cuda")
    assert report.max_abs_diff is not None and report.max_abs_diff <= 1e-3
    artifact = load_artifact(out, device="cuda")
    assert artifact.run is not None
    assert artifact.run(torch.rand(4, 1, 96, 96)).shape == (4, 10)


def test_compile_needs_the_export_format(tmp_path: Path) -> None:
    spec = _spec("lenet")
    with pytest.raises(ExportError, match="--compile needs --format export"):
        export_model(spec.build(seed=0), spec, tmp_path / "x.ts.pt", compile=True)


@pytest.mark.skipif(
    not os.environ.get("NETSPEC_SLOW_TESTS") or shutil.which("g++") is None,
    reason="AOTInductor compiles C++ for ~20 s: set NETSPEC_SLOW_TESTS=1 (needs g++)",
)
def test_aot_compiled_program_verifies_and_predicts(tmp_path: Path) -> None:
    spec = _spec("lenet")
    model = spec.build(seed=0)
    out = tmp_path / "lenet.pt2"
    report = export_model(model, spec, out, format="export", compile=True, optimize=True)
    assert report.max_abs_diff is not None and report.max_abs_diff <= 1e-4
    kind, meta, _ = inspect_artifact(out)
    assert kind == "export" and meta["compiled"]["compiler"] == "AOTInductor"
    artifact = load_artifact(out, trust=True)  # native code: opened only when trusted
    x = torch.rand(7, 1, 28, 28)
    with torch.no_grad():
        torch.testing.assert_close(artifact.run(x), model.eval()(x), rtol=1e-4, atol=1e-5)  # type: ignore[misc]


@pytest.fixture
def toy_format():  # type: ignore[no-untyped-def]
    """A fourth format, added the way docs/architecture.md says: one Format value (here a
    TorchScript archive with a marker file) and its entry, first, in the table."""
    from netspec import formats
    from netspec.formats import base, torchscript

    marker = "netspec/toy"

    def write(module, example, path, files, options):  # type: ignore[no-untyped-def]
        torchscript.write(module, example, path, {**files, marker: ""}, options)

    def read(file: base.ArtifactFile) -> base.Recognised | None:
        if not any(n.endswith(f"/extra/{marker}") for n in file.zip_names or []):
            return None
        return base.read_zip_metadata(file, "toy archive")

    toy = base.Format(
        name="toy",
        suffix=".toy",
        label="toy program",
        noun="toy archive",
        short="toy",
        summary=".toy, a test's format",
        write=write,
        read=read,
        open=torchscript.open_artifact,
    )
    table = dict(formats.FORMATS)
    formats.FORMATS.clear()
    formats.FORMATS.update({"toy": toy, **table})
    yield toy
    formats.FORMATS.clear()
    formats.FORMATS.update(table)


def test_a_format_is_one_table_entry(
    toy_format, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    """build (choices, default name, verification), recognition and loading follow the table."""
    from netspec.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["build", str(SPECS / "lenet.yaml"), "--format", "toy"]) == 0
    assert capsys.readouterr().out.startswith("wrote lenet.toy (")
    kind, meta, _ = inspect_artifact(tmp_path / "lenet.toy")
    assert kind == "toy" and meta["format"] == "toy"
    artifact = load_artifact(tmp_path / "lenet.toy")
    assert artifact.run is not None and artifact.run(torch.rand(2, 1, 28, 28)).shape == (2, 10)
