"""The spec's ``preprocess:`` section: validated like any section, honoured everywhere.

It is torchvision's ``ImageClassification`` transform written in the spec. These tests
check the language (expressions over params, the checks against the input), the
artifact metadata (old artifacts still read), training's batches and ``predict`` — which
must prepare an image exactly as a torchvision weights' ``transforms()`` does.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import netspec
from netspec.cli import main
from netspec.data import Batches, to_float_images
from netspec.errors import SchemaError
from netspec.preprocessing import Preprocessing

IMAGENET = """\
name: tiny_imagenet
input: [3, size, size]
params: {size: 224, short: 256}
preprocess:
  resize: short
  crop: size
  interpolation: bilinear
  antialias: true
  mean: [0.485, 0.456, 0.406]
  std: [0.229, 0.224, 0.225]
layers:
  - conv: {out: 4, kernel: 8, stride: 8}
  - relu
  - gap
  - flatten
  - linear: {out: 3}
classes: [cat, dog, fish]
"""


def test_the_section_takes_expressions_over_params() -> None:
    spec = netspec.load(IMAGENET)
    assert spec.preprocessing == Preprocessing(
        channels=3, resize=256, crop=(224, 224), interpolation="bilinear", antialias=True,
        mean=(0.485, 0.456, 0.406), std=(0.229, 0.224, 0.225),
    )  # fmt: skip
    smaller = netspec.load(IMAGENET, params={"size": 160, "short": 182})
    assert smaller.preprocessing.resize == 182 and smaller.preprocessing.crop == (160, 160)


def test_defaults_and_pair_resize() -> None:
    text = IMAGENET.replace("  resize: short\n  crop: size\n", "  resize: [300, 240]\n")
    spec = netspec.load(text)
    assert spec.preprocessing.resize == (300, 240) and spec.preprocessing.crop == (224, 224)
    minimal = netspec.load(
        "name: n\ninput: [1, 28, 28]\npreprocess: {mean: [0.5], std: [0.5]}\nlayers: [flatten]\n"
    )
    assert minimal.preprocessing.resize == (28, 28) and minimal.preprocessing.crop == (28, 28)
    plain = netspec.load("name: n\ninput: [1, 28, 28]\nlayers: [flatten]\n")
    assert plain.preprocessing == Preprocessing.for_input((1, 28, 28))


MISTAKES = [  # (text replaced, written instead, the message)
    ("  crop: size\n", "  crop: 240\n",
     "preprocess: crop 240 gives 240x240 images but the input is [3, 224, 224]"),
    ("  resize: short\n", "  resize: [200, 300]\n",
     "preprocess: resize [200, 300] is smaller than the crop 224x224"),
    ("  mean: [0.485, 0.456, 0.406]\n", "  mean: [0.5]\n",
     "preprocess: 'mean' has 1 value but the input has 3 channels"),
    ("0.229, 0.224, 0.225]", "0.229, 0, 0.225]",
     "preprocess: 'std' values must be greater than 0, got 0"),
    ("interpolation: bilinear", "interpolation: lanczos",
     "preprocess: 'interpolation' must be 'nearest', 'bilinear' or 'bicubic'"),
    ("  resize: short\n", "  resize: shortt\n", "preprocess: 'resize': undefined param 'shortt'"),
]  # fmt: skip


@pytest.mark.parametrize(("replace", "written", "message"), MISTAKES)
def test_mistakes_are_located_errors(replace: str, written: str, message: str) -> None:
    """Each points at the line it replaced (the docs' error catalogue shows each in full)."""
    text = IMAGENET.replace(replace, written)
    with pytest.raises(SchemaError) as caught:
        netspec.load(text)
    assert caught.value.message.startswith(message), caught.value.message
    assert written.strip() in text.splitlines()[caught.value.line - 1]


def test_preprocess_needs_an_image_input() -> None:
    with pytest.raises(SchemaError, match=r"preprocess: the input \[784\] is not an image"):
        netspec.load("name: n\ninput: [784]\npreprocess: {crop: 28}\nlayers: [flatten]\n")


def test_metadata_round_trip_and_old_artifacts_read() -> None:
    spec = netspec.load(IMAGENET)
    meta = spec.preprocessing.as_metadata()
    assert meta["resize"] == 256 and meta["crop"] == [224, 224] and meta["antialias"] is True
    assert meta["mean"] == [0.485, 0.456, 0.406] and meta["color"] == "RGB"
    assert (
        Preprocessing.from_metadata(json.loads(json.dumps(meta)), (3, 224, 224))
        == spec.preprocessing
    )
    old = {"resize": [28, 28], "scale": 1 / 255, "interpolation": "bilinear",
           "antialias": "when shrinking", "layout": "NCHW", "dtype": "float32", "channels": 1,
           "color": "L"}  # fmt: skip
    assert Preprocessing.from_metadata(old, (1, 28, 28)) == Preprocessing.for_input((1, 28, 28))


WEIGHTS_TRANSFORMS = {256: "ResNet18_Weights.IMAGENET1K_V1", 232: "ResNet50_Weights.IMAGENET1K_V2"}


def _weights_transforms(short: int) -> torch.nn.Module:
    """The ``transforms()`` of torchvision weights whose recipe resizes to ``short`` (no
    download: the transform is a description, not the weights)."""
    from torchvision import models

    family, member = WEIGHTS_TRANSFORMS[short].split(".")
    return getattr(models, family)[member].transforms()


@pytest.mark.parametrize("short", sorted(WEIGHTS_TRANSFORMS))
def test_predict_prepares_an_image_as_the_weights_transforms_do(
    short: int, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An RGB PNG through a spec with ImageNet's preprocessing (resize 256 or 232, centre
    crop 224, bilinear, antialiased, mean/std) becomes exactly the tensor that torchvision's
    ``ResNet18_Weights.IMAGENET1K_V1.transforms()`` (or ``ResNet50_Weights.IMAGENET1K_V2``'s)
    makes of the decoded uint8 image, and predict's probabilities are the model's on that tensor."""
    from torchvision.transforms.functional import pil_to_tensor

    from netspec.artifacts import load_artifact
    from netspec.export import export_model
    from netspec.predict import Sample, preprocess, read_inputs

    pixels = np.random.default_rng(short).integers(0, 256, (300, 417, 3), dtype=np.uint8)
    picture = tmp_path / "photo.png"
    Image.fromarray(pixels).save(picture)
    with Image.open(picture) as opened:
        decoded = pil_to_tensor(opened)  # the PNG's pixels, as torchvision decodes them
    assert torch.equal(decoded, torch.from_numpy(pixels).permute(2, 0, 1))
    reference = _weights_transforms(short)(decoded)

    spec = netspec.load(IMAGENET, params={"short": short})
    model = spec.build(seed=0).eval()
    artifact_path = tmp_path / "tiny.ts.pt"
    export_model(model, spec, artifact_path)
    artifact = load_artifact(artifact_path)

    (sample,) = read_inputs([str(picture)])
    prepared = preprocess(sample, artifact.meta)
    assert prepared.shape == (3, 224, 224) and torch.equal(prepared, reference)

    assert main(["predict", str(artifact_path), str(picture), "--json", "--top", "3"]) == 0
    top = json.loads(capsys.readouterr().out)["predictions"][0]["top"]
    with torch.no_grad():
        expected = torch.softmax(model(reference[None]), dim=1)[0]
    for row in top:
        assert row["class"] == spec.classes[row["index"]]
        assert row["probability"] == pytest.approx(float(expected[row["index"]]), abs=1e-6)
    assert preprocess(Sample("x", None, pixels[:, :200]), artifact.meta).shape == (3, 224, 224)


def test_training_batches_are_normalised_by_the_spec() -> None:
    spec = netspec.load(IMAGENET, params={"size": 32, "short": 36})
    images = torch.randint(0, 256, (5, 3, 40, 50), dtype=torch.uint8)
    batches = Batches(images, torch.zeros(5, dtype=torch.int64), batch_size=8,
                      preprocessing=spec.preprocessing, device=torch.device("cpu"),
                      shuffle=False)  # fmt: skip
    ((batch, _),) = list(batches)
    from torchvision.transforms._presets import ImageClassification  # what transforms() is

    expected = torch.stack([ImageClassification(crop_size=32, resize_size=36)(i) for i in images])
    assert torch.equal(batch, expected)
    assert torch.equal(to_float_images(images, spec.preprocessing), expected)
