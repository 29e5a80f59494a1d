"""Lower-precision artifacts (bf16, fp16, int8), checked by accuracy; --opset; dynamic sizes.

No dataset is read from outside: a small network learns ten synthetic, class-dependent
patterns (a bright 3×3 square at one of ten positions on a noisy 12×12 background) in a
couple of hundred steps, and the calibration and evaluation images are written as a
Fashion-MNIST-style IDX folder in a temporary directory. Everything runs on one thread with
a handful of images: int8 calibration of a network this size takes a second.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import time
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from PIL import Image
from torch import nn

import netspec
from conftest import SPECS, SUFFIXES
from netspec import tuning
from netspec.artifacts import inspect_artifact, load_artifact
from netspec.cli import main
from netspec.data import write_idx
from netspec.errors import ExportError
from netspec.evaluation import evaluation_images
from netspec.export import export_model
from netspec.spatial import dynamic_size_range

pytestmark = pytest.mark.usefixtures("single_thread")

HAVE_ONNX = all(importlib.util.find_spec(m) for m in ("onnx", "onnxscript", "onnxruntime"))
needs_onnx = pytest.mark.skipif(not HAVE_ONNX, reason="pip install .[onnx]")
needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")

#: A network whose classifier sees a flattened feature map: learns the square's position.
SQUARES = """\
name: squares
input: [1, 12, 12]
layers:
  - conv: {out: 8, kernel: 3, padding: 1}
  - batchnorm
  - relu
  - maxpool: {kernel: 2}
  - conv: {out: 16, kernel: 3, padding: 1}
  - relu
  - maxpool: {kernel: 2}
  - flatten
  - linear: {out: 10}
"""

#: A network that ends in global average pooling: any image size from its smallest on.
POOLED = """\
name: pooled
input: [1, 16, 16]
layers:
  - conv: {out: 8, kernel: 3, padding: 1}
  - relu
  - maxpool: {kernel: 2}
  - add:
      branches:
        - - conv: {out: 8, kernel: 3, padding: 1}
          - relu
        - []
  - conv: {out: 10, kernel: 1}
  - gap
  - flatten
"""


def squares(labels: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """uint8 12×12 images: noise, plus a bright 3×3 square whose position is the class."""
    images = torch.rand(len(labels), 12, 12, generator=generator) * 0.3
    for i, label in enumerate(labels.tolist()):
        row, col = divmod(label, 4)
        images[i, 1 + row * 4 : 4 + row * 4, col * 3 : col * 3 + 3] += 0.7
    return (images * 255).round().clamp(0, 255).to(torch.uint8)


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A Fashion-MNIST-style IDX folder of square images: 200 training, 100 test."""
    folder = tmp_path_factory.mktemp("squares-data")
    generator = torch.Generator().manual_seed(5)
    for split, count in (("train", 200), ("t10k", 100)):
        labels = torch.arange(count) % 10
        write_idx(folder / f"{split}-images-idx3-ubyte", squares(labels, generator))
        write_idx(folder / f"{split}-labels-idx1-ubyte", labels.to(torch.uint8))
    return folder


@pytest.fixture(scope="module")
def trained(single_thread) -> tuple[netspec.CompiledSpec, nn.Module]:  # type: ignore[no-untyped-def]
    """The squares network, trained until it classifies the patterns."""
    spec = netspec.load(SQUARES)
    model = spec.build(seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    generator = torch.Generator().manual_seed(0)
    for _ in range(150):
        labels = torch.randint(0, 10, (64,), generator=generator)
        images = squares(labels, generator).unsqueeze(1).float() / 255
        loss = nn.functional.cross_entropy(model(images), labels)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    labels = torch.arange(50) % 10
    with torch.no_grad():
        predicted = model(squares(labels, generator).unsqueeze(1).float() / 255).argmax(1)
    assert (predicted == labels).float().mean() >= 0.9, "the squares network did not learn"
    return spec, model


def _sets(data: Path, calibration_images: int = 64):  # type: ignore[no-untyped-def]
    """The squares data as the build reads it: calibration sample and whole test split."""
    prepared = netspec.load(SQUARES).preprocessing
    calibration = evaluation_images(
        data, "train", calibration_images, 0, role="calibration data", preprocessing=prepared
    )
    evaluation = evaluation_images(data, "test", None, 0, role="evaluation data",
                                   preprocessing=prepared)  # fmt: skip
    return calibration, evaluation


INT8_FORMATS = ["torchscript", pytest.param("onnx", marks=needs_onnx)]


@pytest.mark.parametrize("fmt", INT8_FORMATS)
def test_int8_artifact_keeps_the_accuracy_and_says_so(
    fmt: str, trained, data: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    spec, model = trained
    calibration, evaluation = _sets(data)
    out = tmp_path / f"squares{SUFFIXES[fmt]}"
    report = export_model(
        model,
        spec,
        out,
        format=fmt,
        precision="int8",
        calibration=calibration,
        evaluation=evaluation,
    )
    assert report.precision == "int8" and report.accuracy is not None
    assert report.accuracy.images == 100 and report.accuracy.drop_points <= 1.0
    assert report.accuracy.reference_accuracy >= 0.9 and report.accuracy.agreement >= 0.95
    meta = inspect_artifact(out)[1]
    assert meta["precision"] == "int8" and meta["format"] == fmt
    assert meta["quantization"]["weights"] == "int8, per channel"
    assert meta["quantization"]["reduce_range"] is False
    assert meta["calibration"] == {
        "data": str(data),
        "split": "train",
        "images": 64,
        "seed": 0,
        "batch": 32,
    }
    verification = meta["verification"]
    assert verification["status"] == "passed" and verification["split"] == "test"
    assert verification["images"] == 100 and verification["seed"] is None
    assert verification["fp32_accuracy"] == pytest.approx(report.accuracy.reference_accuracy)
    assert verification["accuracy"] == pytest.approx(report.accuracy.accuracy)
    assert verification["agreement"] == pytest.approx(report.accuracy.agreement)
    assert verification["max_accuracy_drop_points"] == 1.0
    # What was verified is what runs: the reloaded artifact gives the same answers.
    artifact = load_artifact(out)
    images = evaluation.floats(netspec.preprocessing.Preprocessing.for_input(spec.input_shape))
    agree = (artifact.run(images).argmax(1) == model(images).argmax(1)).float().mean()  # type: ignore[misc]
    assert float(agree) == pytest.approx(report.accuracy.agreement)


@pytest.mark.parametrize("fmt", INT8_FORMATS)
def test_accuracy_gate_refuses_a_broken_calibration(
    fmt: str, trained, data: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Calibrated on black images, int8 ranges clip every real activation: refused."""
    spec, model = trained
    calibration, evaluation = _sets(data)
    pixels = calibration.dataset.images
    assert isinstance(pixels, torch.Tensor)
    blacked = dataclasses.replace(calibration.dataset, images=torch.zeros_like(pixels))
    black = dataclasses.replace(calibration, dataset=blacked)
    out = tmp_path / f"squares{SUFFIXES[fmt]}"
    with pytest.raises(ExportError, match=r"loses .* points of accuracy on 100 test images") as e:
        export_model(
            model,
            spec,
            out,
            format=fmt,
            precision="int8",
            calibration=black,
            evaluation=evaluation,
        )
    assert "nothing was written" in e.value.message and "--max-accuracy-drop 1" in e.value.message
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("fmt", ["torchscript", "export"])
def test_bf16_artifact_in_each_torch_format(fmt: str, trained, data: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec, model = trained
    _, evaluation = _sets(data)
    out = tmp_path / f"squares{SUFFIXES[fmt]}"
    report = export_model(
        model,
        spec,
        out,
        format=fmt,
        precision="bf16",
        evaluation=evaluation,
        max_accuracy_drop=0.3,
    )
    assert report.accuracy is not None and report.accuracy.drop_points <= 0.3
    meta = inspect_artifact(out)[1]
    assert meta["precision"] == "bf16" and meta["verification"]["status"] == "passed"
    assert "quantization" not in meta and "calibration" not in meta
    x = torch.rand(5, 1, 12, 12)
    got = load_artifact(out).run(x)  # type: ignore[misc]
    assert got.dtype == torch.float32  # float32 in and out; bf16 inside
    torch.testing.assert_close(got, model(x), atol=0.1, rtol=0.05)


def test_without_evaluation_data_the_artifact_says_unverified(trained, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec, model = trained
    report = export_model(model, spec, tmp_path / "s.ts.pt", precision="bf16")
    assert report.accuracy is None
    verification = inspect_artifact(tmp_path / "s.ts.pt")[1]["verification"]
    assert verification["status"] == "unverified" and "--verify-data" in verification["reason"]


def test_fp32_metadata_records_the_precision(trained, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    spec, model = trained
    export_model(model, spec, tmp_path / "s.pt2", format="export")
    meta = inspect_artifact(tmp_path / "s.pt2")[1]
    assert meta["precision"] == "fp32" and "verification" not in meta and "dynamic_hw" not in meta


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--precision", "fp16"],
            "netspec: error: --precision fp16 needs --device cuda: CPUs have no fast float16 "
            "kernels (use --precision bf16 on a CPU)",
        ),
        (
            ["--precision", "bf16", "--format", "onnx"],
            "netspec: error: --precision bf16 is not available for ONNX models (they take "
            "fp32, int8 or fp16): use --format torchscript or export",
        ),
        (
            ["--precision", "int8", "--format", "export"],
            "netspec: error: --precision int8 is not available for torch.export programs "
            "(they take fp32, bf16 or fp16): use --format torchscript or onnx",
        ),
        (
            ["--precision", "int8"],
            "netspec: error: --precision int8 needs --calibrate DATA: a few hundred real "
            "images set the quantization ranges",
        ),
    ],
)
@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusals of a CPU machine")
def test_precisions_a_format_or_device_lacks_are_one_line(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "squares.yaml"
    spec.write_text(SQUARES)
    assert main(["build", str(spec), "-o", str(tmp_path / "out"), *args]) == 1
    assert capsys.readouterr().err.strip() == message
    assert sorted(p.name for p in tmp_path.iterdir()) == ["squares.yaml"]


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--calibrate", "x"], "--calibrate applies to --precision int8"),
        (["--verify-data", "x"], "--verify-data checks lower-precision artifacts"),
        (["--opset", "18"], "--opset applies to ONNX models (--format onnx)"),
        (["--precision", "int8", "--calibration-images", "0"], "--calibration-images must"),
        (["--precision", "bf16", "--max-accuracy-drop", "-1"], "--max-accuracy-drop must"),
    ],
)
def test_flag_misuse_exits_2(
    args: list[str], fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "squares.yaml"
    spec.write_text(SQUARES)
    assert main(["build", str(spec), *args]) == 2
    err = capsys.readouterr().err
    assert err.startswith("netspec build: error: ") and fragment in err


def test_build_command_prints_both_accuracies(
    trained, data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    _, model = trained
    spec_file, weights = tmp_path / "squares.yaml", tmp_path / "w.pt"
    spec_file.write_text(SQUARES)
    torch.save(model.state_dict(), weights)
    out = tmp_path / "squares.ts.pt"
    args = ["build", str(spec_file), "--weights", str(weights), "--precision", "int8"]
    args += ["--calibrate", str(data), "--calibration-images", "32", "-o", str(out)]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith(f"wrote {out} (") and "TorchScript, int8" in lines[0]
    assert lines[1].startswith(f"accuracy on 100 test images of {data}: fp32 ")
    assert ", int8 " in lines[1] and "top-1 agreement" in lines[1]
    assert inspect_artifact(out)[1]["calibration"]["images"] == 32


#: A network that tells dark from light images only when its input is normalised: the
#: sum of the pixels after ``(x/255 - 0.5) / 0.5`` is negative for dark images, while the
#: raw ``x/255`` is never negative.
SIGN = """\
name: sign
input: [1, 8, 8]
preprocess: {mean: [0.5], std: [0.5]}
layers:
  - flatten
  - linear: {out: 2}
"""


def _dark_and_light_folder(root: Path) -> Path:
    """An image folder with train/ and val/, classes dark (0) and light (1), PNG files."""
    generator = torch.Generator().manual_seed(3)
    for split, count in (("train", 12), ("val", 10)):
        for name, low in (("dark", 0), ("light", 160)):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(count):
                pixels = torch.randint(low, low + 96, (8, 8), generator=generator)
                Image.fromarray(pixels.to(torch.uint8).numpy()).save(folder / f"{i}.png")
    return root


def _sign_weights(path: Path) -> Path:
    """Weights that score "light" by the sum of the normalised pixels, "dark" by minus it."""
    torch.save({"1.weight": torch.stack([-torch.ones(64), torch.ones(64)]),
                "1.bias": torch.zeros(2)}, path)  # fmt: skip
    return path


@pytest.mark.parametrize("precision", ["bf16", "int8"])
def test_image_folder_calibrates_and_verifies_with_the_specs_preprocessing(
    precision: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A user's own images in class folders: calibrated on train/, checked on val/, both
    prepared by the spec's preprocess: section (unnormalised, the fp32 model would score
    50%: every image would look light)."""
    data = _dark_and_light_folder(tmp_path / "photos")
    spec = tmp_path / "sign.yaml"
    spec.write_text(SIGN)
    out = tmp_path / "sign.ts.pt"
    args = ["build", str(spec), "--weights", str(_sign_weights(tmp_path / "w.pt"))]
    args += ["--precision", precision, "-o", str(out)]
    args += ["--calibrate", str(data)] if precision == "int8" else ["--verify-data", str(data)]
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[1].startswith(f"accuracy on 20 test images of {data}: fp32 100.00%, ")
    meta = inspect_artifact(out)[1]
    assert meta["verification"]["accuracy"] == 1.0 and meta["verification"]["images"] == 20
    if precision == "int8":
        assert meta["calibration"] == {"data": str(data), "split": "train", "images": 24,
                                       "seed": None, "batch": 32}  # fmt: skip


def test_calibration_data_of_other_channels_is_refused_in_one_line(
    data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Fashion-MNIST-style IDX images are grey; a 3-channel network cannot take them."""
    spec = tmp_path / "rgb.yaml"
    spec.write_text(SQUARES.replace("input: [1, 12, 12]", "input: [3, 12, 12]"))
    args = ["build", str(spec), "--precision", "int8", "--calibrate", str(data)]
    assert main([*args, "-o", str(tmp_path / "rgb.ts.pt")]) == 1
    assert capsys.readouterr().err.strip() == (
        "error: spec 'squares' expects 3-channel images; Fashion-MNIST images have "
        "1: change the spec's input to [1, 12, 12], or use 3-channel images (images in "
        "class folders are converted to the input's channels)"
    )
    assert not (tmp_path / "rgb.ts.pt").exists()


# ------------------------------------------------------------------------------ --opset


@needs_onnx
@pytest.mark.parametrize("opset", [17, 18, 21])
def test_opset_is_written_and_recorded(opset: int, tmp_path: Path) -> None:
    """18 and newer come from the exporter, 17 through onnx's converter (LeNet converts)."""
    spec = netspec.load(SPECS / "lenet.yaml")
    out = tmp_path / "lenet.onnx"
    report = export_model(spec.build(seed=0), spec, out, format="onnx", opset=opset)
    assert report.max_abs_diff is not None and report.max_abs_diff <= 1e-4
    model = onnx.load(str(out))
    assert [o.version for o in model.opset_import if o.domain in ("", "ai.onnx")] == [opset]
    assert inspect_artifact(out)[1]["opset"] == opset


@needs_onnx
def test_opset_the_converter_cannot_reach_is_one_clear_error(tmp_path: Path) -> None:
    spec = netspec.load(POOLED)
    with pytest.raises(ExportError, match=r"cannot write this model in ONNX opset 13: onnx's"):
        export_model(spec.build(seed=0), spec, tmp_path / "p.onnx", format="onnx", opset=13)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------------ dynamic sizes


def test_shape_rules_decide_which_networks_take_other_sizes() -> None:
    sizes = dynamic_size_range(netspec.load(POOLED))
    assert (sizes.min_height, sizes.min_width) == (4, 4)  # 2x2 before the pooling
    assert sizes.admits(4, 4) and sizes.admits(300, 17) and not sizes.admits(3, 16)
    with pytest.raises(ExportError) as refused:
        dynamic_size_range(netspec.load(SPECS / "lenet.yaml"))
    assert refused.value.message == (
        "--dynamic-size: lenet's layers depend on the input size: at 56x56 'flatten' at "
        "line 15 (module '6') would give (2304) instead of (400)"
    )
    assert dynamic_size_range(netspec.load(SPECS / "googlenet.yaml")).min_height == 33


DYNAMIC_FORMATS = ["torchscript", "export", pytest.param("onnx", marks=needs_onnx)]


@pytest.mark.parametrize("fmt", DYNAMIC_FORMATS)
def test_dynamic_size_artifact_predicts_images_at_their_own_size(
    fmt: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = netspec.load(POOLED)
    model = spec.build(seed=0).eval()
    out = tmp_path / f"pooled{SUFFIXES[fmt]}"
    report = export_model(model, spec, out, format=fmt, dynamic_size=True)
    assert report.verified_sizes == [(4, 4), (19, 17)]
    assert inspect_artifact(out)[1]["dynamic_hw"] == {
        "min_height": 4,
        "min_width": 4,
        "max_height": 16384,
        "max_width": 16384,
    }
    generator = torch.Generator().manual_seed(3)
    paths, expected = [], []
    for height, width in ((16, 16), (40, 24), (40, 24), (5, 9)):
        pixels = torch.randint(0, 256, (height, width), generator=generator, dtype=torch.uint8)
        path = tmp_path / f"img{len(paths)}.png"
        Image.fromarray(pixels.numpy()).save(path)
        paths.append(str(path))
        with torch.no_grad():  # at its own size: no resize, pixels / 255
            expected.append(int(model(pixels[None, None].float() / 255).argmax()))
    assert main(["predict", str(out), *paths, "--json", "--top", "1"]) == 0
    found = [p["top"][0]["index"] for p in json.loads(capsys.readouterr().out)["predictions"]]
    assert found == expected


def test_dynamic_size_artifact_refuses_images_below_its_smallest_size(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = netspec.load(POOLED)
    out = tmp_path / "pooled.ts.pt"
    export_model(spec.build(seed=0), spec, out, dynamic_size=True)
    tiny = tmp_path / "tiny.png"
    Image.fromarray(np.zeros((3, 8), np.uint8)).save(tiny)
    assert main(["predict", str(out), str(tiny)]) == 1
    assert capsys.readouterr().err.strip() == (
        f"netspec: error: {tiny}: 8x3 pixels is outside the sizes this artifact takes "
        "(4x4 to 16384x16384)"
    )


def test_int8_and_dynamic_size_together(data: Path, tmp_path: Path) -> None:
    spec = netspec.load(POOLED)
    calibration = evaluation_images(
        data, "train", 16, 0, role="calibration data", preprocessing=spec.preprocessing
    )
    out = tmp_path / "pooled.ts.pt"
    report = export_model(
        spec.build(seed=0),
        spec,
        out,
        precision="int8",
        calibration=calibration,
        dynamic_size=True,
    )
    assert report.verified_sizes and load_artifact(out).run(torch.rand(2, 1, 30, 21)).shape == (
        2,
        10,
    )  # type: ignore[misc]


# ---------------------------------------------------------------------- --format auto


def test_format_auto_publishes_the_fastest_and_nothing_else(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """The format measured fastest is published under its own suffix; the others go."""

    def rigged(candidates, example, **_):  # type: ignore[no-untyped-def]
        with torch.inference_mode():
            for run in candidates.values():
                run(example)
        return {name: tuning.Timing((1.0 if name != "export" else 0.1,) * 5) for name in candidates}

    monkeypatch.setattr(tuning, "measure", rigged)  # export's choice measures through tuning
    monkeypatch.chdir(tmp_path)
    spec_file = tmp_path / "pooled.yaml"
    spec_file.write_text(POOLED)
    assert main(["build", str(spec_file), "--format", "auto", "--batch", "4", "-v"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("wrote pooled.pt2 (") and "chose format export: export 100.0 ms" in out
    assert "median" in out and "rounds" in out  # -v: every candidate's median and spread
    assert sorted(p.name for p in tmp_path.iterdir()) == ["pooled.pt2", "pooled.yaml"]
    formats = inspect_artifact(tmp_path / "pooled.pt2")[1]["optimization"]["formats"]
    assert formats["chosen"] == "export" and formats["rounds"]["export"] == 5


@needs_cuda
@pytest.mark.parametrize("fmt", ["torchscript", "export"])
@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_half_precisions_on_cuda(fmt: str, precision: str, tmp_path: Path) -> None:
    spec = netspec.load(POOLED)
    out = tmp_path / f"pooled{SUFFIXES[fmt]}"
    export_model(spec.build(seed=0), spec, out, format=fmt, precision=precision, device="cuda")
    artifact = load_artifact(out, device="cuda")
    assert artifact.run(torch.rand(3, 1, 16, 16)).shape == (3, 10)  # type: ignore[misc]


# ------------------------------------------------------------------------------ tuner


def test_tuner_stops_when_the_fastest_is_separated_and_reports_the_spread() -> None:
    def busy(seconds: float):  # type: ignore[no-untyped-def]
        def run(x: torch.Tensor) -> None:
            end = time.perf_counter() + seconds
            while time.perf_counter() < end:
                pass

        return run

    timings = tuning.measure(
        {"fast": busy(0.001), "slow": busy(0.004)}, torch.zeros(1), rounds=5, max_rounds=40
    )
    assert tuning.fastest(timings) == "fast"
    assert len(timings["fast"].samples) == 5  # won all 5 rounds: p = 1/32, separated
    low, high = timings["slow"].quartiles
    assert low <= timings["slow"].median <= high


def test_sign_test_and_ties() -> None:
    assert tuning.sign_test(5, 5) == pytest.approx(1 / 32)
    assert tuning.sign_test(3, 5) == pytest.approx(0.5)
    # Alternating winners with equal medians: a tie (within 2%), settled at once.
    assert tuning.settled({"a": [1.0, 1.01, 1.0], "b": [1.01, 1.0, 1.005]})
    # Winning 3 of 5 rounds by 10%: not yet separated.
    assert not tuning.settled({"a": [1.0, 1.0, 1.0, 2.0, 2.0], "b": [1.1, 1.1, 1.1, 1.0, 1.0]})


def test_a_candidate_name_rebuilds_its_program() -> None:
    spec = netspec.load(SPECS / "googlenet.yaml")
    model = spec.build(seed=0).eval()
    x = torch.rand(2, 1, 96, 96)
    with torch.no_grad():
        want = model(x)
        for name in ("channels_last+fused-branches", "torchscript:contiguous+mkldnn"):
            got = tuning.candidate(model, name)(x)
            torch.testing.assert_close(
                got.to_dense() if got.is_mkldnn else got, want, atol=1e-4, rtol=1e-4
            )  # type: ignore[union-attr]


def _rounds(*seconds: float) -> tuning.Timing:
    return tuning.Timing(tuple(seconds))


def test_runoff_keeps_the_simpler_finalist_unless_the_other_is_faster_beyond_a_tie() -> None:
    simple = _rounds(*[1.0] * 8)
    # Faster by 10% in every round: the other one wins.
    assert tuning.runoff_winner({"simple": simple, "other": _rounds(*[0.9] * 8)}) == "other"
    # Faster by 1%, within TIE: as good; the simpler one is kept.
    assert tuning.runoff_winner({"simple": simple, "other": _rounds(*[0.99] * 8)}) == "simple"
    # Decided by the medians, not by the mean: three slow outliers do not hide a 10% gain,
    # and one fast round does not make a 3% loss a gain.
    mixed = _rounds(0.9, 0.9, 0.9, 0.9, 0.9, 1.5, 1.5, 1.5)
    assert tuning.runoff_winner({"simple": simple, "other": mixed}) == "other"
    lucky = _rounds(0.1, 1.03, 1.03, 1.03, 1.03, 1.03, 1.03, 1.03)
    assert tuning.runoff_winner({"simple": simple, "other": lucky}) == "simple"
    # The simpler one faster: kept, whatever the order of the dict's values.
    assert tuning.runoff_winner({"simple": _rounds(*[0.5] * 8), "other": simple}) == "simple"


def test_choose_lets_a_runoff_of_the_two_fastest_overrule_the_first_measurement(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first (all-candidate) measurement ranks c < b < a; the run-off re-times only b and
    c, listed in the candidates' order, and its verdict — a tie — picks b, the earlier."""
    first = {"a": _rounds(*[3.0] * 5), "b": _rounds(*[2.0] * 5), "c": _rounds(*[1.9] * 5)}
    runoff = {"b": _rounds(*[1.0] * 8), "c": _rounds(*[1.01] * 8)}
    asked: list[list[str]] = []

    def fake_measure(candidates, example, **_):  # type: ignore[no-untyped-def]
        asked.append(list(candidates))
        return first if len(asked) == 1 else {name: runoff[name] for name in candidates}

    monkeypatch.setattr(tuning, "measure", fake_measure)
    runs = dict.fromkeys("abc", lambda x: x)
    choice = tuning.choose(runs, torch.zeros(1), rounds=5)
    assert asked == [["a", "b", "c"], ["b", "c"]]
    assert choice.name == "b" and choice.timings == first and set(choice.runoff) == {"b", "c"}
    assert tuning.runoff_metadata(choice.runoff) == {"runoff_ms": {"b": 1000.0, "c": 1010.0}}
    # One candidate: nothing to measure.
    assert tuning.choose({"a": runs["a"]}, torch.zeros(1), rounds=5) == tuning.Choice("a", {})
    assert len(asked) == 2
