"""Every shipped spec compiles to the node tree and builds the module tree it always did.

``tests/data/spec_snapshot.json`` was recorded from ``main`` before the language-v2 work
(dataflow wiring, functional layers, new names) changed the compiler: a spec written for
the old language must mean exactly what it meant, row for row and module for module.
"""

from __future__ import annotations

import json

import pytest

import netspec
from conftest import SPECS
from spec_snapshot import SNAPSHOT, SPEC_FILES, module_rows, node_rows

RECORDED = json.loads(SNAPSHOT.read_text())


def test_the_snapshot_covers_every_shipped_spec() -> None:
    assert sorted(RECORDED) == SPEC_FILES


@pytest.mark.parametrize("name", SPEC_FILES)
def test_node_tree_is_unchanged(name: str) -> None:
    spec = netspec.load(SPECS / name)
    assert json.loads(json.dumps(node_rows(spec))) == RECORDED[name]["nodes"]


@pytest.mark.parametrize("name", SPEC_FILES)
def test_module_tree_is_unchanged(name: str) -> None:
    spec = netspec.load(SPECS / name)
    assert json.loads(json.dumps(module_rows(spec))) == RECORDED[name]["modules"]
