"""The lowest supported versions: stated once in pyproject.toml, repeated in the README,
met by what is installed, and no upper bound on torch.

The minimums are where the APIs netspec calls appeared (see pyproject.toml); the installed
torch is checked to offer each of them, so a rename in a future torch fails here first.
"""

from __future__ import annotations

import importlib.metadata
import re
from pathlib import Path

import pytest

from conftest import ROOT

tomllib = pytest.importorskip("tomllib")  # Python 3.11+; 3.10 runs the rest of the suite

DEPENDENCIES = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]


def numbers(version: str) -> tuple[int, ...]:
    """``2.14.1+cpu`` → (2, 14, 1): the release numbers, enough to compare with a minimum."""
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3])


def minimums() -> dict[str, str]:
    found = {}
    for requirement in DEPENDENCIES:
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(?:>=\s*([\d.]+))?(.*)", requirement)
        assert match, requirement
        if match[2]:
            found[match[1]] = match[2]
    return found


def test_torch_has_no_upper_bound() -> None:
    for requirement in DEPENDENCIES:
        if requirement.startswith(("torch", "torchvision")):
            assert "<" not in requirement and "==" not in requirement, requirement


def test_installed_versions_meet_the_minimums() -> None:
    for name, lowest in minimums().items():
        installed = importlib.metadata.version(name)
        assert numbers(installed) >= numbers(lowest), f"{name} {installed} < {lowest}"


def test_readme_states_the_minimums() -> None:
    readme = (ROOT / "README.md").read_text()
    for name in ("torch", "torchvision"):
        assert f"{name} {minimums()[name]}+" in readme


def test_installed_torch_offers_the_apis_netspec_uses() -> None:
    """Read from torch's sources (importing torch._inductor and torch.onnx takes seconds)."""
    import importlib.util

    spec = importlib.util.find_spec("torch")
    assert spec is not None and spec.origin is not None
    torch_dir = Path(spec.origin).parent

    def defines(module: str, *names: str) -> None:
        text = (torch_dir / module).read_text()
        for name in names:
            assert re.search(rf"^(def|class) {name}\b|^{name} = ", text, re.M), (module, name)

    defines("export/__init__.py", "export", "save", "load")
    defines("export/dynamic_shapes.py", "Dim")
    defines("export/passes/__init__.py", "move_to_device_pass")
    defines("_inductor/__init__.py", "aoti_compile_and_package", "aoti_load_package")
    onnx_export = (torch_dir / "onnx/__init__.py").read_text()
    for parameter in ("dynamo", "dynamic_shapes", "optimize"):
        assert re.search(rf"^\s+{parameter}: ", onnx_export, re.M), parameter
    assert "weights_only" in (torch_dir / "serialization.py").read_text()
    assert "extra_files" in (torch_dir / "export/__init__.py").read_text()
