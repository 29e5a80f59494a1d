"""Hostile and malformed inputs are refused cleanly at the source stage."""

from __future__ import annotations

from pathlib import Path

import pytest

import netspec
from netspec.errors import SourceError
from netspec.source import MAX_DEPTH, MAX_FILE_BYTES, read_text


def _load_file(path: Path) -> SourceError:
    with pytest.raises(SourceError) as caught:
        netspec.load(path)
    return caught.value


def test_empty_file(tmp_path: Path) -> None:
    (tmp_path / "e.yaml").write_text("")
    err = _load_file(tmp_path / "e.yaml")
    assert (err.message, err.line, err.col) == ("spec file is empty", 1, 1)


def test_comment_only_file_is_empty(tmp_path: Path) -> None:
    (tmp_path / "e.yaml").write_text("# nothing here\n\n")
    assert _load_file(tmp_path / "e.yaml").message == "spec file is empty"


def test_binary_file(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_bytes(b"name: x\n\x00\x01\x02")
    assert _load_file(tmp_path / "b.yaml").message == (
        "spec file is binary, not text (NUL byte at offset 8)"
    )


def test_non_utf8_file(tmp_path: Path) -> None:
    (tmp_path / "b.yaml").write_bytes(b"name: \xff\xfe\n")
    assert _load_file(tmp_path / "b.yaml").message == (
        "spec file is not UTF-8 text (invalid byte at offset 6)"
    )


def test_directory_is_refused(tmp_path: Path) -> None:
    assert "is a directory" in _load_file(tmp_path).message


def test_too_large_file(tmp_path: Path) -> None:
    (tmp_path / "big.yaml").write_text("# " + "x" * MAX_FILE_BYTES)
    assert _load_file(tmp_path / "big.yaml").message.startswith("spec file is too large")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("42\n", "a spec must be a mapping with 'name', 'input' and 'layers', not a number"),
        ("just text\n", "a spec must be a mapping with 'name', 'input' and 'layers', not a string"),
        ("[1, 2]\n", "a spec must be a mapping with 'name', 'input' and 'layers', not a list"),
        ("? [1, 2]\n: 3\n", "mapping keys must be strings, not a list"),
        (
            "a: 2024-01-01\n",
            "unsupported YAML value of type 'date': use numbers, strings, lists and mappings",
        ),
        (
            "a: !!binary aGVsbG8=\n",
            "unsupported YAML value of type 'bytes': use numbers, strings, lists and mappings",
        ),
        (
            "a: !!set {x}\n",
            "unsupported YAML value of type 'CommentedSet': use numbers, strings, "
            "lists and mappings",
        ),
        ("a: !custom 3\n", "YAML tag '!custom' is not allowed: specs are plain data"),
        (
            "a: !!python/name:os.system\n",
            "YAML tag '!!python/name:os.system' is not allowed: specs are plain data",
        ),
    ],
)
def test_refused_documents(text: str, message: str) -> None:
    with pytest.raises(SourceError) as caught:
        read_text(text)
    assert caught.value.message == message


def test_python_tags_are_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    text = (
        f"name: !!python/object/apply:os.system ['touch {marker}']\n"
        "input: [1, 28, 28]\nlayers: [flatten]\n"
    )
    with pytest.raises(SourceError):
        read_text(text)
    assert not marker.exists()


def test_deep_nesting_is_refused() -> None:
    text = "a: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"
    with pytest.raises(SourceError) as caught:
        read_text(text)
    assert caught.value.message == f"spec is nested too deeply (the limit is {MAX_DEPTH} levels)"


def test_very_deep_nesting_does_not_crash_the_parser() -> None:
    text = "a: " + "[" * 5000 + "]" * 5000 + "\n"
    with pytest.raises(SourceError) as caught:
        read_text(text)
    assert "nested too deeply" in caught.value.message


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 10):
        prev = f"*a{i - 1}"
        lines.append(f"a{i}: &a{i} [{', '.join([prev] * 10)}]")
    with pytest.raises(SourceError) as caught:
        read_text("\n".join(lines) + "\n")
    assert caught.value.message.startswith("spec has too many nodes")


def test_anchors_for_reuse_still_work() -> None:
    spec = netspec.load(
        "name: t\ninput: [1, 28, 28]\nlayers:\n  - conv: &c {out: 4, kernel: 3}\n  - conv: *c\n"
    )
    assert spec.output_shape == (4, 24, 24)


def test_json_spec_with_positions(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"name": "j", "input": [1, 28, 28],\n "layers": ["flatten", {"linea": {}}]}\n')
    with pytest.raises(netspec.SchemaError) as caught:
        netspec.load(path)
    assert (caught.value.message, caught.value.line, caught.value.col) == (
        "unknown layer kind 'linea'",
        2,
        25,
    )


def test_json_duplicate_key(tmp_path: Path) -> None:
    path = tmp_path / "s.json"
    path.write_text('{"name": "j", "name": "k"}')
    assert _load_file(path).message == "duplicate key 'name'"
