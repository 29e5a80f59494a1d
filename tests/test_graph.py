"""``netspec graph``: the drawing's structure, DOT and Mermaid text, and rendering.

Rendering needs Graphviz's ``dot`` (the system package ``graphviz``); those tests skip
when it is absent. Everything else — the layout, the text formats and the error for a
missing ``dot`` — is tested everywhere.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import netspec
from conftest import SPECS
from netspec.cli import main
from netspec.graph import Box, Cluster, GraphError, network_graph, to_dot

HAS_DOT = shutil.which("dot") is not None

RESIDUAL = """\
name: res
input: [4, 8, 8]
layers:
  - conv: {out: 4, kernel: 3, padding: 1}
  - add:
      projection: conv
      branches:
        - [{conv: {name: main, out: 8, kernel: 3, padding: 1, stride: 2}}, relu]
        - []
  - concat: [[relu], []]
"""


def boxes(item: Cluster) -> list[Box]:
    out: list[Box] = []
    for child in item.items:
        out.extend([child] if isinstance(child, Box) else boxes(child))
    return out


def test_layout_follows_the_wiring() -> None:
    graph = network_graph(netspec.load(RESIDUAL))
    labels = {b.id: b.lines for b in boxes(graph.root)}
    by_first = {lines[0]: i for i, lines in labels.items()}
    assert labels[by_first["input"]] == ["input", "(4, 8, 8)"]
    assert labels[by_first["main: conv 3x3 /2"]] == ["main: conv 3x3 /2", "(8, 4, 4)"]
    assert labels[by_first["conv 1x1 /2"]] == ["conv 1x1 /2", "(8, 4, 4)"]  # the projection
    edges = {(labels[s][0], labels[t][0], label) for s, t, label in graph.edges}
    assert ("conv 3x3", "main: conv 3x3 /2", "") in edges
    assert ("conv 3x3", "conv 1x1 /2", "") in edges  # both branches read the same input
    assert ("relu", "add", "") in edges and ("conv 1x1 /2", "add", "") in edges
    assert ("add", "concat", "identity") in edges  # an identity branch is an edge
    assert [c.label for c in graph.root.items if isinstance(c, Cluster)] == [
        "1: add",
        "2: concat",
    ]


def test_depth_collapses_blocks() -> None:
    spec = netspec.load(SPECS / "googlenet.yaml")
    full = boxes(network_graph(spec).root)
    shallow = boxes(network_graph(spec, depth=1).root)
    assert len(full) > 80
    assert sum(b.lines[0] == "inception [...]" for b in shallow) == 9
    assert len(boxes(network_graph(spec, depth=0).root)) == 1 + len(spec.root.children)


def test_dot_text() -> None:
    dot = to_dot(network_graph(netspec.load(RESIDUAL)))
    assert dot.startswith("digraph netspec {")
    assert 'label="main: conv 3x3 /2\\n(8, 4, 4)"' in dot
    assert "subgraph cluster_" in dot and 'label="1: add"' in dot
    assert '[label="identity", style=dashed]' in dot
    assert dot.rstrip().endswith("}")


def test_branches_are_drawn_in_spec_order() -> None:
    graph = network_graph(netspec.load(SPECS / "googlenet.yaml"))
    labels = {b.id: b.lines[0] for b in boxes(graph.root)}
    inception = graph.root.items[3].items[0]  # 2: group -> 2.0: inception
    assert [labels[i] for i in inception.row] == [
        "p1_1: conv 1x1",
        "p2_1: conv 1x1",
        "p3_1: conv 1x1",
        "p4_1: maxpool 3x3",
    ]
    dot = to_dot(graph)
    assert f"{{rank=same; {'; '.join(inception.row)};}}" in dot
    assert f"{' -> '.join(inception.row)} [style=invis];" in dot


def test_mermaid_text(capsys) -> None:
    assert main(["graph", "--format", "mermaid", str(SPECS / "resnet18.yaml")]) == 0
    text = capsys.readouterr().out
    assert text.startswith("flowchart TB\n")
    assert '(["input<br/>(1, 96, 96)"])' in text
    assert '["conv 1x1 /2<br/>(128, 12, 12)"]' in text
    assert '["2.0.0: add"]' in text
    assert "-.->|identity|" in text
    assert text.count("subgraph ") == sum(line.strip() == "end" for line in text.splitlines())


def test_dot_file_needs_no_graphviz(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    out = tmp_path / "lenet.dot"
    assert main(["graph", str(SPECS / "lenet.yaml"), "-o", str(out)]) == 0
    assert out.read_text().startswith("digraph netspec {")


def test_missing_dot_is_a_clear_error(tmp_path: Path, monkeypatch, capsys) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # no 'dot' here
    out = tmp_path / "lenet.svg"
    assert main(["graph", str(SPECS / "lenet.yaml"), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"error: cannot draw {out}: Graphviz's 'dot' program is not installed" in err
    assert "apt-get install graphviz" in err and "--format mermaid" in err
    assert not out.exists()
    with pytest.raises(GraphError):
        from netspec.graph import render

        render("digraph {}", out, "svg")


def test_unknown_suffix_is_usage_error(tmp_path: Path, capsys) -> None:
    assert main(["graph", str(SPECS / "lenet.yaml"), "-o", str(tmp_path / "x.jpg")]) == 2
    assert "cannot tell the format" in capsys.readouterr().err


@pytest.mark.skipif(not HAS_DOT, reason="Graphviz 'dot' is not installed")
@pytest.mark.parametrize("suffix", [".svg", ".png"])
def test_renders_pictures(tmp_path: Path, suffix: str) -> None:
    out = tmp_path / f"resnet18{suffix}"
    assert main(["graph", str(SPECS / "resnet18.yaml"), "-o", str(out)]) == 0
    data = out.read_bytes()
    if suffix == ".png":
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
    else:
        assert b"<svg" in data and b"conv 1x1 /2" in data
