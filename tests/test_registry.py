"""The block registry, and every registered block round-tripped like torchvision's models."""

from __future__ import annotations

import pytest
import torch

import netspec
from netspec.blocks import registry
from netspec.blocks.registry import Block, DuplicateBlockError
from netspec.formats.torchscript import script
from netspec.runtime import quiet_jit
from netspec.schema import LayerArgs

BLOCKS = registry.all_blocks()
#: An input on which each block's documented example is valid.
IMAGE = "[3, 32, 32]"


def test_duplicate_registration_is_refused() -> None:
    conv = BLOCKS["conv"]
    with pytest.raises(DuplicateBlockError, match="block kind 'conv' is already registered"):
        registry.register(conv)


def test_a_new_block_touches_one_place() -> None:
    class Identity(LayerArgs):
        """Passes its input through."""

    def build(node, build_child):  # type: ignore[no-untyped-def]
        return torch.nn.Identity()

    registry.register(
        Block(
            "identity_test",
            Identity,
            lambda a, s, c: __import__("netspec.ir", fromlist=["Inferred"]).Inferred(s),
            build,
            "",
            "identity_test",
        )
    )
    try:
        spec = netspec.load("name: t\ninput: [4]\nlayers:\n  - identity_test\n")
        assert spec.output_shape == (4,)
        assert isinstance(spec.build()[0], torch.nn.Identity)
    finally:
        registry.unregister("identity_test")


def test_unknown_kind_suggests_the_closest() -> None:
    def hint(kind: str) -> str | None:
        with pytest.raises(netspec.SchemaError) as caught:
            netspec.load(f"name: t\ninput: [4]\nlayers:\n  - {kind}\n")
        return caught.value.first.hint

    assert hint("maxpol") == "did you mean 'maxpool'?"
    assert hint("zzzzzz").startswith("known kinds: ")


def test_seed_kinds_are_registered() -> None:
    assert {
        "conv",
        "linear",
        "maxpool",
        "avgpool",
        "gap",
        "flatten",
        "dropout",
        "relu",
        "sigmoid",
        "tanh",
        "batchnorm",
        "vgg_block",
        "nin_block",
        "inception",
        "group",
    } <= set(BLOCKS)


def _example_spec(kind: str) -> str:
    example = BLOCKS[kind].example.replace("[...]", "[relu]")
    flat = kind in ("linear",)
    head = "  - flatten\n" if flat else ""
    return f"name: ex\ninput: {IMAGE}\nlayers:\n{head}  - {example}\n"


@pytest.mark.parametrize("kind", sorted(BLOCKS))
def test_every_block_example_compiles_builds_and_scripts(kind: str) -> None:
    """Each block's documented example: shapes match torch, TorchScript matches eager."""
    spec = netspec.load(_example_spec(kind))
    model = spec.build(seed=0).eval()
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        eager = model(x)
    assert tuple(eager.shape[1:]) == spec.output_shape
    assert sum(p.numel() for p in model.parameters()) == spec.total_params
    with quiet_jit():
        scripted = script(model, frozen=False)  # traces dataflow lists, scripts the rest
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), eager)


@pytest.mark.parametrize("kind", sorted(BLOCKS))
def test_every_block_documents_itself(kind: str) -> None:
    block = BLOCKS[kind]
    assert block.summary.strip(), f"{kind} has no docstring"
    for name, info in block.args.model_fields.items():
        assert info.description, f"{kind}.{name} has no description"
