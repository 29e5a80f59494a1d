"""The JSON Schema ships inside the package: a spec anywhere can point an editor at it.

"Installed" means two things here. The package being tested is imported from the source
tree (an editable install, ``pip install -e .``, is the same), so ``netspec schema --path``
must name the file beside the imported package's modules. A user's ``pip install``
installs a wheel instead, so a wheel is built from the sources, installed into a
temporary folder and asked for its path there: the file must be in the wheel, and the
wheel's copy must be the current schema.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

import netspec
from conftest import ROOT
from netspec.cli import main
from netspec.langschema import SCHEMA_FILE, SCHEMA_ID, schema_text

jsonschema = pytest.importorskip("jsonschema")

SPEC = """\
name: outside
input: [1, 28, 28]
layers:
  - conv: {out: 6, kernel: 5, padding: 2}
  - relu
  - flatten
  - linear: {out: 10}
"""


def validate_with_modeline(spec: Path) -> list[str]:
    """Validate ``spec`` against the schema its modeline names, as an editor would."""
    from ruamel.yaml import YAML

    first = spec.read_text().splitlines()[0]
    assert first.startswith("# yaml-language-server: $schema=")
    schema = json.loads(Path(first.split("$schema=", 1)[1]).read_text())
    jsonschema.Draft7Validator.check_schema(schema)
    data = YAML(typ="safe", pure=True).load(spec.read_text())
    return [e.message for e in jsonschema.Draft7Validator(schema).iter_errors(data)]


def test_schema_path_is_inside_the_imported_package(capsys) -> None:
    assert main(["schema", "--path"]) == 0
    path = Path(capsys.readouterr().out.strip())
    assert path == Path(netspec.__file__).resolve().parent / SCHEMA_FILE
    assert path.read_text() == schema_text()
    assert json.loads(path.read_text())["$id"] == SCHEMA_ID
    assert SCHEMA_ID.endswith(netspec.__version__)


def test_a_spec_outside_the_repository_validates_against_the_installed_schema(
    tmp_path: Path, capsys
) -> None:
    assert ROOT not in tmp_path.parents
    main(["schema", "--path"])
    installed = capsys.readouterr().out.strip()
    spec = tmp_path / "tiny.netspec.yaml"
    spec.write_text(f"# yaml-language-server: $schema={installed}\n{SPEC}")
    assert validate_with_modeline(spec) == []
    spec.write_text(spec.read_text().replace("kernel: 5", "kernal: 5"))
    assert validate_with_modeline(spec) != []  # the schema does check what it is given
    assert main(["check", str(spec), "-q"]) == 1


def test_schema_o_still_writes_the_schema(tmp_path: Path) -> None:
    assert main(["schema", "-o", str(tmp_path / "s.json")]) == 0
    assert (tmp_path / "s.json").read_text() == schema_text()


def test_the_wheel_ships_the_schema_and_reports_its_path(tmp_path: Path) -> None:
    pytest.importorskip("setuptools")  # the build backend (offline: no build isolation)
    sources = tmp_path / "sources"
    sources.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, sources / name)
    shutil.copytree(
        ROOT / "src" / "netspec",
        sources / "src" / "netspec",
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check", "-q"]
    build = [*pip, "wheel", str(sources), "--no-deps", "--no-build-isolation", "-w", "dist"]
    subprocess.run(build, cwd=tmp_path, check=True)
    (wheel,) = (tmp_path / "dist").glob("netspec-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        assert archive.read(f"netspec/{SCHEMA_FILE}").decode() == schema_text()

    target = tmp_path / "site"
    install = [*pip, "install", "--no-deps", "--no-index", "--target", str(target), str(wheel)]
    subprocess.run(install, check=True)
    env = {**os.environ, "PYTHONPATH": str(target)}
    shown = subprocess.run(
        [sys.executable, "-m", "netspec", "schema", "--path"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(shown) == target / "netspec" / SCHEMA_FILE
    spec = tmp_path / "elsewhere" / "model.netspec.yaml"
    spec.parent.mkdir()
    spec.write_text(f"# yaml-language-server: $schema={shown}\n{SPEC}")
    assert validate_with_modeline(spec) == []
