"""The complete specs in docs/authoring.md compile: the page teaches what netspec accepts."""

from __future__ import annotations

import re

import pytest

import netspec
from conftest import ROOT

PAGE = (ROOT / "docs" / "authoring.md").read_text()
SPECS = re.findall(r"```yaml\n(name: .*?)```", PAGE, re.S)


@pytest.mark.parametrize("text", SPECS, ids=[re.match(r"name: (\S+)", t)[1] for t in SPECS])
def test_authoring_example_compiles(text: str) -> None:
    spec = netspec.load(text)
    for variant in netspec.variants(text):
        assert netspec.load(text, variant=variant).name == variant
    assert spec.total_params > 0
