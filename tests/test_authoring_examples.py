"""Every complete spec in docs/authoring.md compiles: the page teaches working examples."""

from __future__ import annotations

import re

import pytest

import netspec
from conftest import ROOT

PAGE = (ROOT / "docs" / "authoring.md").read_text()
#: A fenced YAML block that is a whole spec (it has a name, an input and layers).
SPECS = [
    text
    for text in re.findall(r"```yaml\n(.*?)```", PAGE, re.S)
    if re.search(r"^name:", text, re.M) and re.search(r"^layers:", text, re.M)
]


def test_the_page_has_complete_examples() -> None:
    assert len(SPECS) >= 7


@pytest.mark.parametrize("text", SPECS, ids=[re.search(r"^name: (\S+)", t, re.M)[1] for t in SPECS])
def test_example_compiles(text: str) -> None:
    netspec.load(text)
