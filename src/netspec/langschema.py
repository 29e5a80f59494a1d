"""The JSON Schema of the spec language, generated from the pydantic models (no torch).

Editors that speak JSON Schema (VS Code's YAML extension, JetBrains IDEs, anything built
on yaml-language-server) use it to complete kinds and fields, show their descriptions and
flag unknown keys while a spec is typed. It is generated, never written by hand, so it
cannot drift from what the compiler accepts: every built-in kind's argument model, the
spec header, the training recipe and the block-definition models contribute their
descriptions and examples. ``netspec schema`` writes it; the repository keeps a copy in
``schema/netspec.schema.json`` that the shipped specs point at.

The schema is looser than the compiler in one way: it cannot know which blocks a spec
defines, so any identifier is accepted as a layer kind (built-in kinds are still listed
for completion and checked field by field).
"""

from __future__ import annotations

import io
from typing import Any

from pydantic.json_schema import models_json_schema

from . import blocks
from .recipe import TrainRecipe
from .schema import LAYER_REF, Library, SpecHeader
from .userblocks import BlockDef, ParamSpec

#: Where the generated schema is kept in the repository, relative to its root.
SCHEMA_PATH = "schema/netspec.schema.json"
_IDENTIFIER = "^[A-Za-z_][A-Za-z0-9_]*$"


def _example(text: str) -> tuple[str, Any]:
    """A block's one-line example ('conv: {out: 96, ...}') as (kind, its arguments)."""
    from ruamel.yaml import YAML

    data = YAML(typ="safe", pure=True).load(io.StringIO(text))
    if isinstance(data, str):
        return data, None
    ((kind, args),) = data.items()
    return kind, args


def _fill_examples(definition: dict[str, Any]) -> None:
    """Give each field an example: its own, else its default (editors show both)."""
    for prop in definition.get("properties", {}).values():
        if "examples" not in prop and prop.get("default") is not None:
            prop["examples"] = [prop["default"]]


def spec_json_schema() -> dict[str, Any]:
    """The whole language: a spec or an imported block library, and every layer kind."""
    kinds_by_name = blocks.all_blocks()
    models: list[Any] = [*(b.args for b in kinds_by_name.values())]
    models += [SpecHeader, Library, BlockDef, ParamSpec, TrainRecipe]
    refs, top = models_json_schema(
        [(m, "validation") for m in dict.fromkeys(models)],
        by_alias=True,
        ref_template="#/$defs/{model}",
    )
    defs: dict[str, Any] = top["$defs"]
    for definition in defs.values():
        _fill_examples(definition)

    layers = {"type": "array", "items": {"$ref": LAYER_REF}}
    kinds: dict[str, Any] = {}
    for kind, block in kinds_by_name.items():
        options: list[Any] = [refs[(block.args, "validation")]]
        if "layers" in block.args.model_fields:
            options.append(layers)  # '- group: [...]'
        if "branches" in block.args.model_fields:
            options.append({"type": "array", "items": layers})  # '- concat: [[...], [...]]'
        if block.takes_no_args:
            options.append({"type": "null"})  # '- relu:'
        _, example = _example(block.example)
        kinds[kind] = {"description": block.summary, "examples": [example], "anyOf": options}
    bare = sorted(kind for kind, block in kinds_by_name.items() if block.takes_no_args)
    defs["layer"] = {
        "description": "one layer: a kind such as 'relu', or one kind mapped to its fields "
        "such as 'conv: {out: 64, kernel: 3}'; a name that is not built in is a block that "
        "the spec (or a file it imports) defines under 'blocks'",
        "examples": ["relu", {"conv": {"out": 64, "kernel": 3, "padding": 1}}],
        "anyOf": [
            {"type": "string", "enum": bare},
            {
                "type": "string",
                "pattern": _IDENTIFIER,
                "description": "a user-defined block whose params all have defaults",
            },
            {
                "type": "object",
                "minProperties": 1,
                "maxProperties": 1,
                "properties": kinds,
                "additionalProperties": {
                    "type": ["object", "null"],
                    "description": "the arguments of a user-defined block",
                },
            },
        ],
    }

    block_def = {
        "anyOf": [{"$ref": "#/$defs/BlockDef"}, layers],
        "description": "a block: {description, params, layers}, or just its list of layers",
    }
    for name in ("SpecHeader", "Library"):
        props = defs[name]["properties"]
        props["blocks"].update(
            {"additionalProperties": block_def, "propertyNames": {"pattern": _IDENTIFIER}}
        )
        props["blocks"]["examples"] = [
            {"conv_bn": {"params": {"out": "int"}, "layers": ["batchnorm", "relu"]}}
        ]
        props["imports"]["items"] = {"type": "string", "pattern": r"\.(ya?ml|json)$"}
    header = defs["SpecHeader"]["properties"]
    number = {"anyOf": [{"type": "number"}, {"type": "string"}]}
    header["params"].update(
        {"additionalProperties": number, "examples": [{"ratio": 1, "hidden": "4096 // ratio"}]}
    )
    header["input"].update({"items": number, "minItems": 1, "maxItems": 3})
    header["input"]["examples"] = [[1, 28, 28]]
    header["train"] = {
        "anyOf": [{"$ref": "#/$defs/TrainRecipe"}, {"type": "null"}],
        "description": header["train"].get("description", "the training recipe"),
        "examples": [{"optimizer": "sgd", "lr": 0.05, "epochs": 10}],
    }
    for name, example in (("name", "resnet18"), ("description", "d2l ResNet-18")):
        header[name]["examples"] = [example]
    header["classes"]["examples"] = [["T-shirt", "Trouser"]]
    return {
        "$schema": "http://json-schema.org/draft-07/schema#",
        "title": "netspec spec",
        "description": "A netspec network spec (name, input, layers...) or a file of block "
        "definitions that specs import. Generated by 'netspec schema'.",
        "anyOf": [{"$ref": "#/$defs/SpecHeader"}, {"$ref": "#/$defs/Library"}],
        "$defs": defs,
    }


def schema_text() -> str:
    """The schema as the file ``netspec schema`` writes (stable order, final newline)."""
    import json

    return json.dumps(spec_json_schema(), indent=2, ensure_ascii=False) + "\n"
