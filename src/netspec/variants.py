"""Families in one file: a spec's ``variants:``, each a named set of param values.

::

    params:
      block: {type: str, default: bottleneck, choices: [basic, bottleneck]}
      depths: [3, 4, 6, 3]
    variants:
      resnet18: {block: basic, depths: [2, 2, 2, 2]}
      resnet50: {}

A variant holds values, never expressions (derived values belong in param defaults); they
are applied over the defaults and under ``--set`` (:func:`netspec.params.resolve_params`
checks their types). This module reads the section — names, and that every key is a param
— and picks the variant a command asks for.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from .errors import SchemaError, UsageError, did_you_mean
from .source import Located

#: A variant's name becomes a file name (``resnet50.ts.pt``).
VARIANT_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$")


@dataclass
class Variants:
    """The variants of one spec, in the order written: name → param → written value."""

    values: dict[str, dict[str, Located]]
    #: The spec, as messages name it (the path given on the command line).
    spec: str

    def choose(self, name: str) -> str:
        """``name`` if the spec defines it; misuse of ``--variant`` otherwise."""
        if name in self.values:
            return name
        if not self.values:
            raise UsageError(
                f"--variant {name}: {self.spec} defines no variants",
                hint="a spec lists its variants under 'variants:'; without them, leave out "
                "--variant",
                code="NS904",
            )
        raise UsageError(
            f"unknown variant '{name}'; {self.spec} defines {', '.join(self.values)}",
            hint=did_you_mean(name, list(self.values)),
            code="NS904",
        )


def read_variants(section: Mapping[str, Located], params: Sequence[str], spec: str) -> Variants:
    """The ``variants:`` mapping, with every name and every key checked (values are checked
    against the param types when the params are resolved)."""
    found: dict[str, dict[str, Located]] = {}
    for name, node in section.items():
        if not VARIANT_NAME.match(name):
            raise SchemaError(
                f"variants: '{name}' is not a valid variant name",
                node.key_span(),
                "a variant name becomes a file name: letters, digits, '_', '-' and '.', "
                "not starting with '-' or '.'",
                code="NS229",
            )
        if node.value is None:
            found[name] = {}
            continue
        if not isinstance(node.value, dict):
            raise SchemaError(
                f"variants: '{name}' must be a mapping of params to values, such as "
                "{depths: [2, 2, 2, 2]}",
                node.span,
                code="NS229",
            )
        for key, value in node.value.items():
            if key not in params:
                hint = did_you_mean(key, list(params)) or (
                    f"this spec's params: {', '.join(params)}"
                    if params
                    else "declare it under 'params:' first"
                )
                raise SchemaError(
                    f"variants: '{name}' sets '{key}', which is not a param",
                    value.key_span(),
                    hint,
                    code="NS229",
                )
        found[name] = dict(node.value)
    return Variants(found, spec)
