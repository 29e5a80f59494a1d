"""Every CNN classifier of ``torchvision.models`` is a spec in ``specs/torchvision/``.

The builders are found, not listed: each variant of each ``specs/torchvision/*.yaml`` (or
the spec's name, for a spec without variants) names the torchvision builder it stands for.
Every classification builder must be covered that way or sit on ``EXCLUDED`` with a
reason, and every variant must be a real builder. Adding a family is adding a spec file
(and, if its smallest input is not 1, a row of ``SMALLEST``).

Per builder, at two input sizes (the smallest the architecture accepts, where a wrong
stride can hide behind a 1x1 map, and an odd larger one):

* torchvision's model is built on ``meta``, given real storage and filled with random
  weights, batch-norm statistics and layer scales (:mod:`torchvision_support`);
* the spec's network is built on ``meta`` and takes the reference's state_dict with
  ``strict=True, assign=True`` — every key and shape checked, no copy, no initialisation;
* the eval outputs agree to 1e-4.

Without torch, at the size of the DEFAULT weights' crop: parameters equal the weights'
``num_params`` and multiply-accumulates their ``_ops`` (GMACs, to three decimals), which
checks the full-size arithmetic (strides, paddings, ceil modes) that small inputs cannot;
and the spec's ``preprocess:`` equals the DEFAULT weights' ``transforms()`` (their enum's
metadata: nothing is downloaded). One end-to-end case: ``netspec build`` and ``netspec
predict`` on a PNG against torchvision's resnet18 on ``weights.transforms()`` of it.

The largest RegNets are ``slow`` (``pytest -m "not slow"`` leaves them out; CI runs both).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from torchvision import models

import netspec
from conftest import SPECS
from netspec.cli import main
from netspec.runtime import quiet_jit
from torchvision_support import randomise

pytestmark = pytest.mark.usefixtures("single_thread")

SPEC_DIR = SPECS / "torchvision"

_TRANSFORMER = "a transformer (issue 9 leaves them out): "
#: Builders that no spec covers, each with the reason.
EXCLUDED = {
    **dict.fromkeys(
        ["vit_b_16", "vit_b_32", "vit_l_16", "vit_l_32", "vit_h_14"],
        _TRANSFORMER + "class token, learned position embedding tied to the image size, "
        "multi-head attention",
    ),
    **dict.fromkeys(
        ["swin_t", "swin_s", "swin_b", "swin_v2_t", "swin_v2_s", "swin_v2_b"],
        _TRANSFORMER + "shifted-window attention, relative position bias tables, patch merging",
    ),
    "maxvit_t": _TRANSFORMER + "block and grid attention with relative position bias; "
    "its builder fixes the input size",
}

#: The smallest square input each architecture accepts (1 for those not listed); measured
#: by bisection, equal to the weights' ``min_size`` except efficientnet_v2 (33 there, a
#: property of its training recipe: the architecture accepts 1).
SMALLEST = {
    "alexnet": 63,
    **dict.fromkeys(["vgg11", "vgg13", "vgg16", "vgg19"], 32),
    **dict.fromkeys(["vgg11_bn", "vgg13_bn", "vgg16_bn", "vgg19_bn"], 32),
    **dict.fromkeys(["densenet121", "densenet161", "densenet169", "densenet201"], 29),
    "squeezenet1_0": 21,
    "squeezenet1_1": 17,
    "googlenet": 15,
    "inception_v3": 75,
    **dict.fromkeys(["convnext_tiny", "convnext_small", "convnext_base", "convnext_large"], 32),
}
#: The second size: odd (to exercise rounding), with a last feature map of at least 2x2.
SECOND = {"alexnet": 127, "inception_v3": 139}
DEFAULT_SECOND = 65

#: Keyword arguments of the reference builds: the auxiliary classifiers run in training
#: only and the specs leave them out; init_weights=False avoids a FutureWarning (and the
#: fill replaces the initial weights anyway).
BUILD_ARGS = {
    "googlenet": {"aux_logits": False, "init_weights": False},
    "inception_v3": {"aux_logits": False, "init_weights": False},
}
#: Heads that a weights file's ``num_params`` counts but the spec leaves out.
AUX_HEADS = {"inception_v3": "AuxLogits"}

#: Builder keyword arguments that the spec takes as params of the same name, compared too:
#: torchvision switches transform_input on when it loads its pretrained weights.
SETTINGS = {"googlenet": {"transform_input": True}, "inception_v3": {"transform_input": True}}
#: Builders whose published weights files name their tensors unlike the model, and the
#: keyword arguments that build a model with the files' keys (their auxiliary heads). One
#: variant per spec file: a spec's ``weights:`` section holds for all its variants.
PUBLISHED_ARGS = {
    "densenet121": {},
    "googlenet": {"aux_logits": True, "init_weights": False},
    "inception_v3": {"aux_logits": True, "init_weights": False},
}
#: DenseNet's files use the names of before 2018: ``denselayer1.norm.1.weight``, read by
#: torchvision's ``densenet._load_state_dict`` with a regex.
LEGACY_DENSENET = re.compile(r"(denselayer\d+\.(?:norm|conv))([12])\.")

#: Over 2.5 s each (above 100 M parameters; regnet_y_128gf alone needs about 3 GB).
SLOW = {"regnet_y_128gf", "regnet_y_32gf", "regnet_x_32gf"}

#: Builders whose blocks drop their residual branch with a probability that grows with
#: depth (visible only while training, so the output comparison cannot see it).
STOCHASTIC_DEPTH = ["efficientnet_b0", "convnext_tiny"]


def discover(spec_dir: Path) -> dict[str, tuple[Path, str | None]]:
    """builder -> (spec file, variant or None) for every spec of ``spec_dir``."""
    covered: dict[str, tuple[Path, str | None]] = {}
    for path in sorted(spec_dir.glob("*.yaml")):
        names: list[str | None] = list(netspec.variants(path)) or [None]
        for variant in names:
            builder = variant or netspec.load(path).name
            assert builder not in covered, f"{builder} is in {covered[builder][0]} and {path}"
            covered[builder] = (path, variant)
    return covered


COVERED = discover(SPEC_DIR)
BUILDERS = sorted(models.list_models(module=torchvision.models))


def parity_cases() -> list:
    return [
        pytest.param(name, marks=[pytest.mark.slow] if name in SLOW else [])
        for name in sorted(COVERED)
    ]


def load(builder: str, **params: object) -> netspec.Spec:
    path, variant = COVERED[builder]
    return netspec.load(path, variant=variant, params=params or None)


def test_every_builder_is_covered_or_excluded() -> None:
    missing = [name for name in BUILDERS if name not in COVERED and name not in EXCLUDED]
    assert missing == [], f"no spec variant and not on the exclusion list: {' '.join(missing)}"
    assert set(COVERED) & set(EXCLUDED) == set(), "covered builders are not excluded"


def test_every_spec_variant_is_a_builder() -> None:
    assert sorted(set(COVERED) - set(BUILDERS)) == [], "spec variants that are no builder"
    assert sorted(set(EXCLUDED) - set(BUILDERS)) == [], "exclusions that are no builder"
    assert set(SMALLEST) <= set(BUILDERS) and set(SECOND) <= set(BUILDERS)


def reference(builder: str, **settings: object) -> torch.nn.Module:
    """torchvision's model with random weights and statistics, in eval mode."""
    kwargs = {**BUILD_ARGS.get(builder, {}), **settings}
    try:
        with torch.device("meta"):
            model = models.get_model(builder, weights=None, **kwargs)
        model = model.to_empty(device="cpu")
    except NotImplementedError:  # regnet computes its widths with torch ops while building
        model = models.get_model(builder, weights=None, **kwargs)
    randomise(model)
    return model.eval()


def compare(builder: str, sizes: tuple[int, ...], **settings: object) -> None:
    """The spec's outputs against torchvision's at each size; ``settings`` go to both the
    builder (as keyword arguments) and the spec (as params)."""
    ref = reference(builder, **settings)
    state = ref.state_dict()
    for size in sizes:
        spec = load(builder, size=size, **settings)
        with torch.device("meta"):
            ours = spec.build()
        ours.load_state_dict(state, strict=True, assign=True)
        ours.eval()
        left_on_meta = [
            n for n, t in [*ours.named_parameters(), *ours.named_buffers()] if t.is_meta
        ]
        assert left_on_meta == [], f"{builder}: tensors the state_dict does not set"
        x = torch.rand(2, 3, size, size, generator=torch.Generator().manual_seed(size))
        with torch.no_grad():
            expected, got = ref(x), ours(x)
        assert tuple(got.shape[1:]) == spec.output_shape == tuple(expected.shape[1:])
        diff = (expected - got).abs().max().item()
        assert diff < 1e-4, f"{builder} at {size}x{size}: max abs diff {diff:.3g}"


@pytest.mark.parametrize("builder", parity_cases())
def test_outputs_equal_torchvisions(builder: str) -> None:
    compare(builder, (SMALLEST.get(builder, 1), SECOND.get(builder, DEFAULT_SECOND)))


@pytest.mark.parametrize("builder", [b for b in sorted(COVERED) if b in SETTINGS])
def test_outputs_equal_torchvisions_with_other_settings(builder: str) -> None:
    compare(builder, (SMALLEST.get(builder, 1),), **SETTINGS[builder])


def published_keys(builder: str) -> list[str]:
    """The state_dict keys of torchvision's weights files for ``builder``."""
    with torch.device("meta"):
        model = models.get_model(builder, weights=None, **PUBLISHED_ARGS[builder])
    keys = list(model.state_dict())
    if builder.startswith("densenet"):
        keys = [LEGACY_DENSENET.sub(r"\1.\2.", key) for key in keys]
    return keys


@pytest.mark.parametrize("builder", [b for b in sorted(COVERED) if b in PUBLISHED_ARGS])
def test_the_weights_section_reads_the_published_files_keys(builder: str) -> None:
    with torch.device("meta"):
        expected = list(
            models.get_model(builder, weights=None, **BUILD_ARGS.get(builder, {})).state_dict()
        )
    published = published_keys(builder)
    weights = load(builder).weights
    assert weights is not None, "the files' keys differ from the model's: the spec needs weights:"
    assert list(weights.apply(published).values()) == expected


def aux_head_params(builder: str) -> int:
    """Parameters of the head that the weights' ``num_params`` counts and the spec omits."""
    if builder not in AUX_HEADS:
        return 0
    with torch.device("meta"):
        model = models.get_model(builder, weights=None, init_weights=False)
    return sum(p.numel() for p in model.get_submodule(AUX_HEADS[builder]).parameters())


@pytest.mark.parametrize("builder", sorted(COVERED))
def test_full_size_params_and_macs_equal_the_weights_meta(builder: str) -> None:
    weights = models.get_model_weights(builder).DEFAULT
    spec = load(builder)  # the spec's default size: the DEFAULT weights' crop
    crop = weights.transforms().crop_size[0]
    assert spec.input_shape == (3, crop, crop)
    assert spec.total_params == weights.meta["num_params"] - aux_head_params(builder)
    assert abs(spec.total_macs / 1e9 - weights.meta["_ops"]) <= 0.0005, (
        f"{spec.total_macs / 1e9:.4f} GMACs, torchvision says {weights.meta['_ops']}"
    )


@pytest.mark.parametrize("builder", sorted(COVERED))
def test_the_smallest_size_is_the_smallest(builder: str) -> None:
    smallest = SMALLEST.get(builder, 1)
    load(builder, size=smallest)
    if smallest > 1:
        with pytest.raises(netspec.ShapeError):
            load(builder, size=smallest - 1)


@pytest.mark.parametrize("builder", STOCHASTIC_DEPTH)
def test_stochastic_depth_probabilities_equal_torchvisions(builder: str) -> None:
    if builder not in COVERED:
        pytest.skip(f"{builder} has no spec yet (the coverage test fails for it)")
    with torch.device("meta"):
        theirs = models.get_model(builder, weights=None)
        ours = load(builder, size=SMALLEST.get(builder, 1)).build()

    def probabilities(model: torch.nn.Module) -> dict[str, tuple[float, str]]:
        return {
            name: (round(module.p, 12), module.mode)
            for name, module in model.named_modules()
            if type(module).__name__ == "StochasticDepth"
        }

    expected, got = probabilities(theirs), probabilities(ours)
    assert got, "the spec has no stochastic_depth modules"
    assert {name: expected.get(name) for name in got} == got
    # torchvision also registers one in blocks without a residual, and never calls it there.
    unused = {name for name in expected if not uses_its_residual(theirs, name)}
    assert set(expected) - set(got) == unused


def uses_its_residual(model: torch.nn.Module, name: str) -> bool:
    """Whether the block holding stochastic-depth module ``name`` uses it (has a residual)."""
    block = model.get_submodule(name.rsplit(".", 1)[0])
    return getattr(block, "use_res_connect", True)


def weights_preprocessing(builder: str) -> dict[str, object]:
    """What the DEFAULT weights' ``transforms()`` (torchvision's ImageClassification) does,
    read from its attributes: enum metadata only, nothing downloaded."""
    transform = models.get_model_weights(builder).DEFAULT.transforms()
    (crop,), (resize,) = transform.crop_size, transform.resize_size
    return {
        "resize": resize,
        "crop": (crop, crop),
        "interpolation": transform.interpolation.value,
        "antialias": transform.antialias,
        "mean": tuple(transform.mean),
        "std": tuple(transform.std),
    }


@pytest.mark.parametrize("builder", sorted(COVERED))
def test_preprocess_equals_the_default_weights_transforms(builder: str) -> None:
    prepared = load(builder).preprocessing  # compiled only: no network is built
    got = {name: getattr(prepared, name) for name in weights_preprocessing(builder)}
    assert got == weights_preprocessing(builder)
    assert prepared.channels == 3 and prepared.scale == 1 / 255


#: One grey level after ImageNet normalisation (1/255 over the smallest std): netspec
#: resizes uint8 images as ``v2.Resize`` does, ``weights.transforms()`` through float with
#: rounding, so their inputs differ by up to this much (tests/test_preprocess.py).
GREY_LEVEL = 1 / 255 / 0.224


def test_predict_on_a_png_equals_torchvision_on_its_weights_transforms(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``netspec build`` a torchvision spec, ``netspec predict`` a PNG with it, and run
    torchvision's resnet18 with the artifact's state_dict on ``weights.transforms()`` of
    the same file: same top-1, and log-probabilities (the logits less their log-sum-exp)
    within one normalised grey level times the spread of the logits — an input moved by
    at most one grey level, at about half the pixels, cannot move them further."""
    from PIL import Image

    rows, cols = np.mgrid[0:260, 0:300]
    smooth = np.stack([cols * 255 / 300, rows * 255 / 260, (rows + cols) * 255 / 560], -1)
    noise = np.random.default_rng(0).normal(0, 40, smooth.shape)
    picture = tmp_path / "photo.png"
    Image.fromarray(np.clip(smooth + noise, 0, 255).astype(np.uint8)).save(picture)

    artifact = tmp_path / "resnet18.ts.pt"
    spec = str(SPEC_DIR / "resnet.yaml")
    assert main(["build", spec, "--variant", "resnet18", "-o", str(artifact), "--seed", "0"]) == 0
    capsys.readouterr()
    assert main(["predict", str(artifact), str(picture), "--json", "--top", "1000"]) == 0
    (prediction,) = json.loads(capsys.readouterr().out)["predictions"]
    ours = torch.zeros(1000, dtype=torch.float64)
    for row in prediction["top"]:
        ours[row["index"]] = row["probability"]

    with quiet_jit():
        state = torch.jit.load(str(artifact)).state_dict()
    theirs = models.resnet18(weights=None)
    theirs.load_state_dict(state, strict=True)
    decoded = torch.from_numpy(np.array(Image.open(picture))).permute(2, 0, 1)
    prepared = models.ResNet18_Weights.DEFAULT.transforms()(decoded)  # uint8 CHW, as PNG holds it
    with torch.no_grad():
        logits = theirs.eval()(prepared[None])[0].double()
    assert int(ours.argmax()) == int(logits.argmax())
    diff = (ours.log() - torch.log_softmax(logits, 0)).abs().max().item()
    assert diff <= GREY_LEVEL * logits.std().item(), f"{diff:.3g} vs logit std {logits.std():.3g}"
