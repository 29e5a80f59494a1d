"""The JSON Schema of the spec language (``netspec schema``), for editors.

The package ships the generated schema (src/netspec/netspec.schema.json, package data)
and every shipped spec points at it, so these tests check that the copy is current, that
every shipped spec validates against it, that it rejects what the compiler rejects in the
common cases, and that every kind and field carries a description and an example for the
editor to show.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import ROOT
from netspec.blocks import registry
from netspec.cli import main
from netspec.langschema import SCHEMA_PATH, schema_text, spec_json_schema

jsonschema = pytest.importorskip("jsonschema")

SHIPPED = sorted((ROOT / "specs").rglob("*.yaml"))


def load_yaml(path: Path):
    from ruamel.yaml import YAML

    return YAML(typ="safe", pure=True).load(path.read_text())


@pytest.fixture(scope="module")
def validator():
    schema = json.loads((ROOT / SCHEMA_PATH).read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


def test_committed_schema_is_current() -> None:
    assert (ROOT / SCHEMA_PATH).read_text() == schema_text(), (
        f"{SCHEMA_PATH} is stale: run 'PYTHONPATH=src python -m netspec schema -o {SCHEMA_PATH}'"
    )


def test_cli_writes_the_schema(tmp_path: Path, capsys) -> None:
    assert main(["schema"]) == 0
    assert capsys.readouterr().out == schema_text()
    assert main(["schema", "-o", str(tmp_path / "s.json")]) == 0
    assert json.loads((tmp_path / "s.json").read_text()) == spec_json_schema()


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(p.relative_to(ROOT)))
def test_shipped_specs_reference_and_satisfy_the_schema(path: Path, validator) -> None:
    first = path.read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    target = (path.parent / first.split("$schema=", 1)[1]).resolve()
    assert target == (ROOT / SCHEMA_PATH).resolve()
    errors = [e.message for e in validator.iter_errors(load_yaml(path))]
    assert errors == []


@pytest.mark.parametrize(
    "layers",
    [
        [{"conv": {"outt": 64, "kernel": 3}}],  # misspelt field
        [{"conv": {"kernel": 3}}],  # missing field
        [{"conv": {"out": 64, "kernel": 3}, "relu": None}],  # two kinds in one layer
        [{"maxpool": {"kernel": 3, "ceil_mode": 1}}],  # not a boolean
        [{"add": {"projection": "always", "branches": [[], []]}}],  # not a choice
        [{"linear": {"name": "not an identifier", "out": 3}}],
        [3],
    ],
)
def test_schema_rejects_common_mistakes(layers, validator) -> None:
    spec = {"name": "t", "input": [1, 28, 28], "layers": layers}
    assert list(validator.iter_errors(spec))


def test_schema_accepts_user_blocks_and_imports(validator) -> None:
    spec = {
        "name": "t",
        "input": [3, 32, 32],
        "imports": ["lib/blocks.yaml"],
        "blocks": {
            "cbr": {
                "params": {"out": "int", "k": 3, "mid": {"type": "int", "default": "out // 2"}},
                "layers": [{"conv": {"out": "out", "kernel": "k"}}, "batchnorm", "relu"],
            },
            "act": ["relu"],
        },
        "layers": ["act", {"cbr": {"out": 8}}, {"concat": [[], [{"cbr": None}]]}],
    }
    assert [e.message for e in validator.iter_errors(spec)] == []
    assert list(validator.iter_errors({**spec, "train": {"optimizer": "rmsprop"}}))


def test_every_kind_and_field_is_documented_with_examples() -> None:
    schema = spec_json_schema()
    kinds = schema["$defs"]["layer"]["anyOf"][2]["properties"]
    assert set(kinds) == set(registry.all_blocks())
    missing = []
    for kind, entry in kinds.items():
        if not entry.get("description") or not entry.get("examples"):
            missing.append(kind)
        model = schema["$defs"][entry["anyOf"][0]["$ref"].rsplit("/", 1)[1]]
        for field, prop in model["properties"].items():
            if not prop.get("description") or not prop.get("examples"):
                missing.append(f"{kind}.{field}")
    for name in ("SpecHeader", "Library", "BlockDef", "ParamSpec"):
        for field, prop in schema["$defs"][name]["properties"].items():
            if not prop.get("description") or not prop.get("examples"):
                missing.append(f"{name}.{field}")
    assert missing == []


def test_kind_examples_satisfy_the_schema(validator) -> None:
    kinds = spec_json_schema()["$defs"]["layer"]["anyOf"][2]["properties"]
    for kind, entry in kinds.items():
        layer = {kind: entry["examples"][0]}
        spec = {"name": "t", "input": [3, 32, 32], "layers": [layer]}
        assert [e.message for e in validator.iter_errors(spec)] == [], kind
