"""What a shipped spec compiles and builds to, as plain data (for tests/test_spec_snapshot.py).

Run as a script to rewrite ``tests/data/spec_snapshot.json`` — only when a change to the
node tree or module tree of a shipped spec is intended. The language-v2 work (issue 9)
recorded the file from ``main`` before it changed the compiler, so the test proves that
every existing spec compiles to the same nodes and builds the same modules.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
SNAPSHOT = HERE / "data" / "spec_snapshot.json"
#: Every shipped spec (the library folder holds blocks, not networks).
SPEC_FILES = sorted(p.name for p in (ROOT / "specs").glob("*.yaml"))


def node_rows(spec: Any) -> list[list[Any]]:
    """One row per node of ``spec.rows()``: everything the front end computed about it."""
    rows = []
    for depth, node in spec.rows():
        branches = (
            [[child.name for child in branch] for branch in node.branches]
            if node.branches is not None
            else None
        )
        window = (
            [list(node.window.kernel), list(node.window.stride), list(node.window.dilation)]
            if node.window is not None
            else None
        )
        rows.append(
            [
                depth,
                node.path,
                node.name,
                node.kind,
                list(node.in_shape),
                list(node.out_shape),
                node.params,
                node.macs,
                [list(node.rf[0]), list(node.rf[1])] if node.rf else None,
                window,
                branches,
                node.merge,
                node.block.kind if node.block is not None else None,
            ]
        )
    return rows


def module_rows(spec: Any) -> list[list[Any]]:
    """The built module tree: each module's path and class, and each state_dict entry."""
    model = spec.build(seed=0)
    modules = [[name, type(module).__name__] for name, module in model.named_modules()]
    state = [[key, list(value.shape)] for key, value in model.state_dict().items()]
    return [*modules, ["state_dict"], *state]


def snapshot() -> dict[str, Any]:
    import netspec

    out: dict[str, Any] = {}
    for name in SPEC_FILES:
        spec = netspec.load(ROOT / "specs" / name)
        out[name] = {"nodes": node_rows(spec), "modules": module_rows(spec)}
    return out


if __name__ == "__main__":
    SNAPSHOT.write_text(json.dumps(snapshot(), indent=None, separators=(",", ":")) + "\n")
    print(f"wrote {SNAPSHOT}", file=sys.stderr)
