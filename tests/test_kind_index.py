"""The kinds' index: each kind file is found by its ``@kind("name")`` lines and imported
only when a spec uses one of its kinds, so ``netspec check`` pays for what it uses."""

from __future__ import annotations

import os
import subprocess
import sys

from conftest import ROOT, SRC
from netspec.blocks import DECLARATION, all_blocks, kind_names


def test_every_declared_kind_is_registered_by_its_file() -> None:
    declared = [
        name
        for path in sorted((SRC / "netspec" / "blocks").glob("*.py"))
        if path.stem not in ("api", "registry", "__init__")
        for name in DECLARATION.findall(path.read_text())
    ]
    assert list(all_blocks()) == declared == kind_names()


def test_checking_a_spec_imports_only_the_kinds_it_uses() -> None:
    code = (
        "import sys, netspec\n"
        "netspec.load('specs/lenet.yaml')\n"
        "kinds = [m.rsplit('.', 1)[1] for m in sys.modules if m.startswith('netspec.blocks.')]\n"
        "kinds.sort()\n"
        "print(' '.join(kinds))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(SRC)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    )
    # lenet: conv, sigmoid (activations), avgpool (pool), flatten, linear
    assert result.stdout.split() == [
        "activations",
        "api",
        "conv",
        "flatten",
        "linear",
        "pool",
        "registry",
    ]
