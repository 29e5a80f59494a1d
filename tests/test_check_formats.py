"""``netspec check --format text|json|sarif``, several files at once, and the error codes.

Every case of the error catalogue (docs/errors.md) goes through all three formats: the
JSON positions are the text renderer's and the SARIF log validates against the official
SARIF 2.1.0 schema (tests/formats_support.py). The codes are stable API: every catalogue
section names its code, every code used in the sources is listed in docs/errors.md with
one meaning, and one kind of message always has one code.
"""

from __future__ import annotations

import ast
import importlib
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT
from formats_support import check_formats, run_check
from netspec.cli import main
from netspec.errors import NetspecError, SchemaError, SourceError
from test_error_catalogue import CATALOGUE, EXAMPLES, command_of

_CODE_LINE = re.compile(r"^Code: (?P<codes>`NS\d{3}`(?:, `NS\d{3}`)*)$", re.M)
_TABLE_ROW = re.compile(r"^\| `(?P<code>NS\d{3})` \| (?P<meaning>.+) \|$", re.M)


def documented_codes() -> dict[str, str]:
    """The code table of docs/errors.md: code -> meaning (each code once)."""
    rows = _TABLE_ROW.findall(CATALOGUE.read_text())
    codes = [code for code, _ in rows]
    assert len(codes) == len(set(codes)), "a code is listed twice in docs/errors.md"
    return dict(rows)


def section_codes() -> dict[str, list[str]]:
    """The ``Code:`` line of each catalogue section, by title."""
    found: dict[str, list[str]] = {}
    for section in CATALOGUE.read_text().split("\n## ")[1:]:
        title = section.split("\n", 1)[0]
        match = _CODE_LINE.search(section.split("```", 1)[0])
        found[title] = re.findall(r"NS\d{3}", match["codes"]) if match else []
    return found


@pytest.mark.parametrize(
    ("title", "fmt", "spec", "expected"), EXAMPLES, ids=[e[0] for e in EXAMPLES]
)
def test_catalogue_example_in_every_format(
    title: str, fmt: str, spec: str, expected: str, tmp_path: Path, monkeypatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / f"spec.{fmt}").write_text(spec + "\n")
    diagnostics = check_formats(*command_of(title, fmt)[1:])
    assert [d["file"] for d in diagnostics] == [f"spec.{fmt}"] * len(diagnostics)
    codes = section_codes()[title]
    assert codes, f"section '{title}' of docs/errors.md needs a 'Code: `NS...`' line"
    assert sorted({d["code"] for d in diagnostics}) == sorted(codes)


def test_every_code_is_documented_once_with_its_stage() -> None:
    table = documented_codes()
    used = _codes_in_sources()
    assert used - set(table) == set(), "codes raised in src/netspec but not in docs/errors.md"
    for section, codes in section_codes().items():
        assert set(codes) <= set(table), section
    families = {"0", "1", "2", "3", "4", "5", "6", "7", "8", "9"}
    assert {code[2] for code in table} <= families


def test_class_default_codes_are_documented() -> None:
    classes = _netspec_error_classes()
    table = documented_codes()
    defaults = {cls.__name__: cls.default_code for cls in classes}
    assert set(defaults.values()) <= set(table), defaults
    # A class that names a default code names its own; one that does not shares its
    # parent's (a subclass within one stage).
    own = [cls.__dict__["default_code"] for cls in classes if "default_code" in cls.__dict__]
    assert len(set(own)) == len(own), own


def test_one_kind_of_message_has_one_code(tmp_path: Path, monkeypatch) -> None:
    """Messages that differ only in names, numbers and shapes share one code."""
    monkeypatch.chdir(tmp_path)
    codes_of: dict[str, set[str]] = {}
    for title, fmt, spec, _ in EXAMPLES:
        (tmp_path / f"spec.{fmt}").write_text(spec + "\n")
        _, out, _ = run_check(*command_of(title, fmt)[1:], "--format", "json")
        for d in json.loads(out):
            codes_of.setdefault(_template(d["message"]), set()).add(d["code"])
    assert {t: c for t, c in codes_of.items() if len(c) > 1} == {}


def _template(message: str) -> str:
    """A message with what varies (quoted names, numbers, shapes, the owner) taken out."""
    message = re.sub(r"^[\w ()-]+?: ", "", message)
    message = re.sub(r"'[^']*'", "'…'", message)
    message = re.sub(r"\([\d, ]*\)", "(…)", message)
    return re.sub(r"\d+", "N", message)


def _codes_in_sources() -> set[str]:
    """Every ``code="NS..."`` literal in src/netspec."""
    found = set()
    for path in (ROOT / "src" / "netspec").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            is_text = isinstance(node, ast.Constant) and isinstance(node.value, str)
            if is_text and re.fullmatch(r"NS\d{3}", node.value):
                found.add(node.value)
    return found


def _netspec_error_classes() -> list[type[NetspecError]]:
    # The modules that define GraphError, CheckpointError and RunDirError.
    for module in ("netspec.graph", "netspec.train.checkpoint", "netspec.train.rundir"):
        importlib.import_module(module)

    seen: list[type[NetspecError]] = []
    todo = [NetspecError]
    while todo:
        cls = todo.pop()
        seen.append(cls)
        todo.extend(cls.__subclasses__())
    return seen


def test_an_error_without_a_code_gets_its_class_code() -> None:
    assert SchemaError("something new").code == "NS200"
    assert SourceError("x", code="NS105").code == "NS105"
    merged = SchemaError(diagnostics=[*SourceError("a").diagnostics, *SchemaError("b").diagnostics])
    assert [d.code for d in merged.diagnostics] == ["NS100", "NS200"]


GOOD = "name: good\ninput: [4]\nlayers: [relu]\n"
BAD = "name: bad\ninput: [4]\nlayers:\n  - linear: {out: 2, bias: maybe}\n"


def test_several_files_report_each_and_exit_with_the_worst(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    monkeypatch.chdir(tmp_path)
    Path("good.yaml").write_text(GOOD)
    Path("bad.yaml").write_text(BAD)
    assert main(["check", "good.yaml", "bad.yaml", "missing.yaml"]) == 1
    out, err = capsys.readouterr()
    assert out == "good.yaml: ok: good, input (4) -> output (4), 0 parameters, 1 modules\n"
    assert err == (
        "bad.yaml:4:28: error: linear: 'bias' must be true or false, got the string 'maybe'\n"
        "    4 |   - linear: {out: 2, bias: maybe}\n"
        "      |                            ^\n"
        "\n"
        "netspec: error: spec file not found: missing.yaml\n"
    )
    diagnostics = check_formats("good.yaml", "bad.yaml", "missing.yaml")
    assert [(d["file"], d["code"], d["line"]) for d in diagnostics] == [
        ("bad.yaml", "NS203", 4),
        ("missing.yaml", "NS101", None),
    ]


def test_misuse_in_one_file_makes_the_exit_status_2(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    Path("good.yaml").write_text(GOOD)
    vgg = str(ROOT / "specs" / "vgg11.yaml")
    status, out, err = run_check(vgg, "good.yaml", "--set", "ratio=8", "-q")
    assert (status, out) == (2, "")
    assert err.startswith("netspec check: error: unknown param 'ratio' in --set\n")
    status, out, _ = run_check(vgg, "good.yaml", "--set", "ratio=8", "--format", "json")
    assert status == 2
    assert [d["code"] for d in json.loads(out)] == ["NS901"]


def test_valid_specs_give_an_empty_report(capsys) -> None:
    specs = [str(p) for p in sorted((ROOT / "specs").glob("*.yaml"))]
    assert main(["check", *specs, "--format", "json"]) == 0
    assert json.loads(capsys.readouterr().out) == []
    assert main(["check", *specs, "--format", "sarif"]) == 0
    log = json.loads(capsys.readouterr().out)
    assert log["runs"][0]["results"] == []


def test_a_network_over_the_memory_limit_is_a_warning_in_every_format(
    tmp_path: Path, monkeypatch
) -> None:
    """Exit status 0 (the spec is valid), and a warning with the code of the refusal
    ``netspec build`` would print (NS501), in text, JSON and SARIF alike."""
    from formats_support import sarif_validator

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("NETSPEC_MEMORY_LIMIT", "1K")
    Path("good.yaml").write_text(GOOD.replace("layers: [relu]", "layers: [{linear: {out: 1000}}]"))
    Path("bad.yaml").write_text(BAD)
    words = "the parameters need 19.5 KiB (5,000 float32 values), more than the memory limit of 1.0 KiB; netspec build will refuse it"  # noqa: E501
    status, out, err = run_check("good.yaml", "-q")
    assert (status, out, err) == (0, "", f"good.yaml: warning: {words}\n")
    status, out, _ = run_check("bad.yaml", "good.yaml", "--format", "json")
    assert status == 1
    report = [(d["severity"], d["code"], d["file"], d["message"]) for d in json.loads(out)]
    bias = "linear: 'bias' must be true or false, got the string 'maybe'"
    expected = [("error", "NS203", "bad.yaml", bias), ("warning", "NS501", "good.yaml", words)]
    assert report == expected
    status, out, _ = run_check("good.yaml", "--format", "sarif")
    log = json.loads(out)
    sarif_validator().validate(log)
    assert [(r["ruleId"], r["level"]) for r in log["runs"][0]["results"]] == [("NS501", "warning")]


def test_summary_format_json_is_the_old_json_flag(capsys) -> None:
    lenet = str(ROOT / "specs" / "lenet.yaml")
    assert main(["summary", lenet, "--json"]) == 0
    old = capsys.readouterr().out
    assert main(["summary", lenet, "--format", "json"]) == 0
    assert capsys.readouterr().out == old
    assert json.loads(old)["name"] == "lenet"
    assert main(["summary", lenet, "--format", "text"]) == 0
    assert capsys.readouterr().out.startswith("lenet\n")


def test_machine_formats_and_completion_never_import_torch(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text(BAD)
    googlenet = str(ROOT / "specs" / "googlenet.yaml")
    code = (
        "import sys, contextlib, io\n"
        "from netspec.cli import main\n"
        "with contextlib.redirect_stdout(io.StringIO()):\n"
        "    for fmt in ('json', 'sarif'):\n"
        f"        assert main(['check', {googlenet!r}, 'bad.yaml', '--format', fmt]) == 1\n"
        f"    assert main(['completion', '--params', {googlenet!r}]) == 0\n"
        "    assert main(['completion', 'bash']) == 0\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
