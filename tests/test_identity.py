"""``identity``, the worked example of adding a kind (docs/architecture.md): one file."""

from __future__ import annotations

import torch

import netspec
from conftest import SRC
from netspec.blocks import lookup
from netspec.langschema import spec_json_schema


def test_identity_keeps_the_shape_and_adds_no_parameters() -> None:
    spec = netspec.load(
        "name: t\ninput: [3, 8, 8]\nlayers:\n"
        "  - identity\n  - identity: {name: skip}\n  - flatten\n  - identity\n"
    )
    assert [(node.path, node.out_shape) for _, node in spec.rows()] == [
        ("0", (3, 8, 8)),
        ("skip", (3, 8, 8)),
        ("2", (192,)),
        ("3", (192,)),
    ]
    assert spec.total_params == 0
    assert spec.rows()[0][1].receptive_field == (1, 1)
    model = spec.build(seed=0)
    assert isinstance(model.skip, torch.nn.Identity)
    x = torch.rand(2, 3, 8, 8)
    torch.testing.assert_close(model(x), x.flatten(1))


def test_identity_is_one_file_and_in_the_json_schema() -> None:
    block = lookup("identity")
    assert block is not None
    assert block.args.__module__ == "netspec.blocks.identity"
    assert (SRC / "netspec" / "blocks" / "identity.py").is_file()
    assert "identity" not in (SRC / "netspec" / "blocks" / "__init__.py").read_text()
    layer = spec_json_schema()["$defs"]["layer"]
    assert "identity" in layer["anyOf"][0]["enum"]  # '- identity' alone is a layer
    assert "identity" in layer["anyOf"][2]["properties"]
