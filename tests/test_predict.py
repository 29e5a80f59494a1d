"""``netspec predict``: a trained LeNet, exported, classifies PNG and IDX inputs correctly.

No dataset is read: LeNet learns ten synthetic, class-dependent patterns (a bright square
at one of ten positions on a noisy 28×28 background) in a few hundred steps, carries the
Fashion-MNIST class names into its artifacts, and must name the right class for images
written as PNG files and IDX files — through every export format.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from torch import nn

import netspec
from conftest import SPECS, SUFFIXES, cli_env
from netspec.cli import main
from netspec.data import CLASS_NAMES, write_idx
from netspec.export import export_model
from netspec.runtime import quiet_jit

FASHION_MNIST = list(CLASS_NAMES)
HAVE_ONNX = all(importlib.util.find_spec(m) for m in ("onnx", "onnxscript", "onnxruntime"))
FORMATS = [
    "torchscript",
    "export",
    pytest.param("onnx", marks=pytest.mark.skipif(not HAVE_ONNX, reason="pip install .[onnx]")),
]


def patterns(labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Images in [0, 1]: noise, plus a bright 7×7 square whose position is the class."""
    images = torch.rand(len(labels), 1, 28, 28, generator=generator) * 0.3
    for i, label in enumerate(labels.tolist()):
        row, col = divmod(label, 4)
        images[i, 0, 2 + row * 9 : 9 + row * 9, col * 7 : col * 7 + 7] += 0.7
    return images


def pixels(label: int, seed: int = 1) -> np.ndarray:
    """One test image of ``label`` as 8-bit grayscale pixels (what a PNG file holds)."""
    image = patterns(torch.tensor([label]), torch.Generator().manual_seed(seed))[0, 0]
    return (image * 255).round().clamp(0, 255).to(torch.uint8).numpy()


@pytest.fixture(scope="module")
def artifacts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """LeNet trained on the patterns, exported in every available format."""
    spec = netspec.load(SPECS / "lenet.yaml")
    model = spec.build(seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.003)
    generator = torch.Generator().manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny tensors: one thread is fastest, and immune to busy cores
    try:
        for _ in range(300):
            labels = torch.randint(0, 10, (64,), generator=generator)
            loss = nn.functional.cross_entropy(model(patterns(labels, generator)), labels)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    labels = torch.arange(10).repeat(5)
    with torch.no_grad():
        predicted = model.eval()(patterns(labels, generator)).argmax(1)
    assert torch.equal(predicted, labels), "LeNet did not learn the synthetic patterns"
    folder = tmp_path_factory.mktemp("artifacts")
    written = {}
    for fmt in ("torchscript", "export", "onnx"):
        if fmt == "onnx" and not HAVE_ONNX:
            continue
        path = folder / f"lenet{SUFFIXES[fmt]}"
        export_model(model, spec, path, format=fmt, classes=FASHION_MNIST)
        written[fmt] = path
    return written


@pytest.fixture
def png(tmp_path: Path):  # type: ignore[no-untyped-def]
    def write(label: int, name: str = "item.png", scale: int = 1, rgb: bool = False) -> Path:
        image = Image.fromarray(pixels(label))
        if scale != 1:
            image = image.resize((28 * scale, 28 * scale), Image.Resampling.NEAREST)
        if rgb:
            image = image.convert("RGB")
        path = tmp_path / name
        image.save(path)
        return path

    return write


@pytest.mark.parametrize("fmt", FORMATS)
def test_predict_names_the_class_of_a_png(
    fmt: str, artifacts: dict[str, Path], png, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    trouser, sneaker = png(1, "trouser.png"), png(7, "sneaker.png")
    assert main(["predict", str(artifacts[fmt]), str(trouser), str(sneaker), "--top", "2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    assert lines[0].startswith(f"{trouser}: Trouser ") and "%, " in lines[0]
    assert lines[1].startswith(f"{sneaker}: Sneaker ")


def test_predict_from_the_command_line(artifacts: dict[str, Path], png) -> None:  # type: ignore[no-untyped-def]
    image = png(9, "boot.png")
    done = subprocess.run(
        [sys.executable, "-m", "netspec", "predict", str(artifacts["torchscript"]), str(image)],
        capture_output=True,
        text=True,
        env=cli_env(),
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{image}: Ankle boot ")
    assert done.stderr == ""


def test_json_output(artifacts: dict[str, Path], png, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    image = png(3)
    assert main(["predict", str(artifacts["export"]), str(image), "--json", "--top", "3"]) == 0
    document = json.loads(capsys.readouterr().out)
    assert document["format"] == "export" and document["device"] == "cpu"
    (prediction,) = document["predictions"]
    assert prediction["input"] == str(image) and prediction["index"] is None
    top = prediction["top"]
    assert top[0]["class"] == "Dress" and top[0]["index"] == 3
    probabilities = [t["probability"] for t in top]
    assert probabilities == sorted(probabilities, reverse=True) and sum(probabilities) <= 1.0001


def test_larger_and_colour_images_are_converted(
    artifacts: dict[str, Path], png, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    big = png(5, "big.png", scale=3)  # 84×84: resized to the artifact's 28×28
    colour = png(8, "colour.jpg", rgb=True)  # RGB JPEG: converted to grayscale
    assert (
        main(["predict", str(artifacts["torchscript"]), str(big), str(colour), "--top", "1"]) == 0
    )
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"{big}: Sandal ")
    assert lines[1].startswith(f"{colour}: Bag ")


@pytest.mark.parametrize("compressed", [False, True])
def test_idx_file_of_images(
    compressed: bool, artifacts: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / ("images-idx3-ubyte.gz" if compressed else "images-idx3-ubyte")
    images = torch.from_numpy(np.stack([pixels(k, seed=k) for k in range(10)]))
    write_idx(path, images, compress=compressed)
    assert main(["predict", str(artifacts["torchscript"]), str(path), "--top", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(": ")[1].rsplit(" ", 1)[0] for line in lines] == FASHION_MNIST
    assert lines[0].startswith(f"{path}[0]: ")
    assert main(["predict", str(artifacts["torchscript"]), str(path), "--limit", "3"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3


def _bad_inputs(tmp_path: Path) -> dict[str, tuple[str, str]]:
    """name -> (input file, expected message fragment)."""
    wide = tmp_path / "wide.png"
    Image.fromarray(np.zeros((28, 56), np.uint8)).save(wide)
    text = tmp_path / "notes.txt"
    text.write_text("not an image")
    labels = tmp_path / "labels-idx1-ubyte"
    write_idx(labels, torch.arange(10, dtype=torch.uint8))
    full = tmp_path / "full"
    write_idx(full, torch.zeros((4, 28, 28), dtype=torch.uint8))
    truncated = tmp_path / "truncated-idx3-ubyte"
    truncated.write_bytes(full.read_bytes()[:500])
    return {
        "missing": (str(tmp_path / "nope.png"), "input not found"),
        "wrong size": (str(wide), "wrong size: 56x28 pixels"),
        "not an image": (str(text), "is not an image"),
        "labels": (str(labels), "holds 10 labels"),
        "truncated": (str(truncated), "IDX header says (4, 28, 28) (3136 bytes)"),
    }


@pytest.mark.parametrize("case", ["missing", "wrong size", "not an image", "labels", "truncated"])
def test_bad_input_is_one_line_and_exit_1(
    case: str, artifacts: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path, message = _bad_inputs(tmp_path)[case]
    assert main(["predict", str(artifacts["torchscript"]), path]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.count("\n") == 1 and captured.err.startswith("netspec: error: ")
    assert message in captured.err


def _foreign_artifacts(tmp_path: Path) -> dict[str, tuple[Path, str]]:
    weights = tmp_path / "weights.pt"
    torch.save({"w": torch.zeros(2)}, weights)
    foreign = tmp_path / "foreign.ts.pt"
    with quiet_jit():
        torch.jit.save(torch.jit.script(nn.Linear(2, 2)), str(foreign))
    noise = tmp_path / "noise.bin"
    noise.write_bytes(bytes(range(256)) * 4)
    image = tmp_path / "image.png"
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(image)
    return {
        "missing": (tmp_path / "absent.ts.pt", "artifact not found"),
        "torch.save file": (weights, "not a netspec artifact (a torch.save file"),
        "foreign TorchScript": (foreign, "a TorchScript archive without netspec metadata"),
        "random bytes": (noise, "is not a netspec artifact"),
        "an image": (image, "is not a netspec artifact"),
    }


@pytest.mark.parametrize(
    "case", ["missing", "torch.save file", "foreign TorchScript", "random bytes", "an image"]
)
def test_artifact_that_is_not_ours_is_one_line_and_exit_1(
    case: str, tmp_path: Path, png, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    artifact, message = _foreign_artifacts(tmp_path)[case]
    assert main(["predict", str(artifact), str(png(0))]) == 1
    captured = capsys.readouterr()
    assert captured.err.count("\n") == 1 and captured.err.startswith("netspec: error: ")
    assert message in captured.err


def test_top_must_be_positive(artifacts: dict[str, Path], png) -> None:  # type: ignore[no-untyped-def]
    assert main(["predict", str(artifacts["torchscript"]), str(png(0)), "--top", "0"]) == 2


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message when CUDA is absent")
def test_cuda_without_cuda_is_one_line(
    artifacts: dict[str, Path], png, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    assert main(["predict", str(artifacts["torchscript"]), str(png(0)), "--device", "cuda"]) == 1
    assert (
        capsys.readouterr().err
        == "netspec: error: device 'cuda': CUDA is not available on this machine\n"
    )


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.parametrize("fmt", ["torchscript", "export"])
def test_predict_on_cuda(
    fmt: str, artifacts: dict[str, Path], png, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    image = png(1)
    assert main(["predict", str(artifacts[fmt]), str(image), "--device", "cuda"]) == 0
    assert capsys.readouterr().out.startswith(f"{image}: Trouser ")


def test_weights_from_a_training_checkpoint_bring_the_class_names(
    artifacts: dict[str, Path], tmp_path: Path, png, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    """`netspec build --weights` of a `netspec train` checkpoint names Fashion-MNIST's classes."""
    from netspec.artifacts import load_artifact

    with quiet_jit():
        trained = torch.jit.load(str(artifacts["torchscript"]))
    checkpoint = tmp_path / "best.pt"
    torch.save(
        {"format": "netspec.checkpoint", "epoch": 4, "model": trained.state_dict()}, checkpoint
    )
    out = tmp_path / "lenet.onnx" if HAVE_ONNX else tmp_path / "lenet.pt2"
    fmt = "onnx" if HAVE_ONNX else "export"
    spec = str(SPECS / "lenet.yaml")
    assert main(["build", spec, "--weights", str(checkpoint), "--format", fmt, "-o", str(out)]) == 0
    meta = load_artifact(out).meta
    assert meta["classes"] == FASHION_MNIST
    assert meta["training"] == {"dataset": "Fashion-MNIST", "epoch": 4}
    capsys.readouterr()
    assert main(["predict", str(out), str(png(6)), "--top", "1"]) == 0
    assert ": Shirt " in capsys.readouterr().out


@pytest.mark.parametrize("side", [96, 20])
def test_preprocessing_is_the_training_pipeline(side: int) -> None:
    """predict resizes exactly as `netspec train` does (up- and downscaling)."""
    from netspec.data import to_float_images
    from netspec.predict import Sample, preprocess

    image = pixels(4)
    meta = {
        "input_shape": [1, side, side],
        "preprocessing": {"resize": [side, side], "scale": 1 / 255, "color": "L"},
    }
    expected = to_float_images(torch.from_numpy(image)[None], (side, side))[0]
    torch.testing.assert_close(preprocess(Sample("x", None, image), meta), expected)
