"""The five seed networks (six with the small VGG) compile to the seed's exact modules.

For each: the compiled model loads the hand-written model's state_dict with strict=True,
gives the same outputs, has the same parameter count as netspec's shape stage predicted,
and the shapes ``summary`` reports are the shapes the seed prints.
"""

from __future__ import annotations

import pytest
import torch

import netspec
from conftest import SPECS
from netspec.summary import summary_table
from seed_models import SEED_NETWORKS


@pytest.fixture(scope="module", params=sorted(SEED_NETWORKS))
def pair(request):  # type: ignore[no-untyped-def]
    spec_file, overrides, factory, input_shape = SEED_NETWORKS[request.param]
    spec = netspec.load(SPECS / spec_file, params=overrides)
    torch.manual_seed(0)
    reference = factory().eval()
    return request.param, spec, reference, input_shape


def test_state_dict_loads_strict_and_outputs_match(pair) -> None:  # type: ignore[no-untyped-def]
    _, spec, reference, input_shape = pair
    assert spec.input_shape == input_shape
    model = spec.build(seed=1).eval()
    ours, theirs = model.state_dict(), reference.state_dict()
    assert list(ours) == list(theirs)
    assert {k: v.shape for k, v in ours.items()} == {k: v.shape for k, v in theirs.items()}
    model.load_state_dict(theirs, strict=True)
    x = torch.rand(2, *input_shape, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-5, atol=1e-5)


def test_parameter_count_predicted_without_torch(pair) -> None:  # type: ignore[no-untyped-def]
    _, spec, reference, _ = pair
    assert spec.total_params == sum(p.numel() for p in reference.parameters())


def test_every_module_shape_matches_torch(pair) -> None:  # type: ignore[no-untyped-def]
    """Every node's inferred output shape is what the built module really produces."""
    _, spec, _, input_shape = pair
    model = spec.build(seed=0).eval()
    modules = dict(model.named_modules())
    seen: dict[str, tuple[int, ...]] = {}

    def hook(path: str):  # type: ignore[no-untyped-def]
        def record(module, inputs, output) -> None:  # type: ignore[no-untyped-def]
            seen[path] = tuple(output.shape[1:])

        return record

    for _, node in spec.rows():
        modules[node.path].register_forward_hook(hook(node.path))
    with torch.no_grad():
        model(torch.rand(1, *input_shape))
    assert seen == {node.path: node.out_shape for _, node in spec.rows()}


# The shapes the seed prints (torch.Size([1, ...]) without the batch dimension).
SEED_PRINTED_SHAPES = {
    "vgg11": [
        ("vgg_block_1", (64, 112, 112)),
        ("vgg_block_2", (128, 56, 56)),
        ("vgg_block_3", (256, 28, 28)),
        ("vgg_block_4", (512, 14, 14)),
        ("vgg_block_5", (512, 7, 7)),
        ("fc", (10,)),
    ],
    "nin": [
        ("0", (96, 54, 54)),
        ("1", (96, 26, 26)),
        ("2", (256, 26, 26)),
        ("3", (256, 12, 12)),
        ("4", (384, 12, 12)),
        ("5", (384, 5, 5)),
        ("6", (384, 5, 5)),
        ("7", (10, 5, 5)),
        ("8", (10, 1, 1)),
        ("9", (10,)),
    ],
    # d2l's GoogLeNet printout for a 96x96 input.
    "googlenet": [
        ("0", (64, 24, 24)),
        ("1", (192, 12, 12)),
        ("2", (480, 6, 6)),
        ("3", (832, 3, 3)),
        ("4", (1024, 1, 1)),
        ("5", (1024,)),
        ("6", (10,)),
    ],
}


@pytest.mark.parametrize("name", sorted(SEED_PRINTED_SHAPES))
def test_summary_prints_the_seeds_shapes(name: str) -> None:
    spec_file, overrides, _, _ = SEED_NETWORKS[name]
    spec = netspec.load(SPECS / spec_file, params=overrides)
    top = [(node.path, node.out_shape) for depth, node in spec.rows() if depth == 0]
    assert top == SEED_PRINTED_SHAPES[name]
    table = summary_table(spec)
    for path, shape in SEED_PRINTED_SHAPES[name]:
        row = next(ln for ln in table.splitlines() if ln.split()[:1] == [path])
        assert "(" + ", ".join(map(str, shape)) + ")" in row


def test_small_vgg_matches_the_seeds_printout() -> None:
    spec = netspec.load(SPECS / "vgg11.yaml", params={"ratio": 8})
    model = spec.build(seed=0)
    fc = model.fc
    assert (fc[1].in_features, fc[1].out_features) == (3136, 512)
    assert repr(model.vgg_block_3[2]) == (
        "Conv2d(32, 32, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1))"
    )
    assert repr(model.vgg_block_1[2]) == (
        "MaxPool2d(kernel_size=2, stride=2, padding=0, dilation=1, ceil_mode=False)"
    )
