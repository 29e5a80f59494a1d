"""``summary``: receptive field and activation memory per layer, ``--json``, no torch."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import netspec
from conftest import ROOT, SPECS
from netspec.cli import main
from netspec.summary import activation_total, summary_json, summary_table


def rows(name: str) -> dict[str, netspec.CompiledSpec]:
    return {node.path: node for _, node in netspec.load(SPECS / f"{name}.yaml").rows()}


def test_receptive_fields_by_hand() -> None:
    lenet = rows("lenet")
    # conv 5 -> 5; avgpool 2/2 -> 6 (jump 2); conv 5 -> 6 + 4*2 = 14; avgpool 2/2 -> 16
    # (jump 4); flatten sees the whole 5x5 map -> 16 + 4*4 = 32
    assert [lenet[p].receptive_field for p in ("0", "2", "3", "5", "6", "11")] == [
        (5, 5),
        (6, 6),
        (14, 14),
        (16, 16),
        (32, 32),
        (32, 32),
    ]
    assert lenet["5"].rf[1] == (4, 4)
    alexnet = rows("alexnet")
    assert alexnet["conv.0"].receptive_field == (11, 11)
    assert alexnet["conv"].receptive_field == (195, 195)  # the classic AlexNet figure


def test_a_squeeze_excitation_gate_keeps_the_maps_jump() -> None:
    # The gate's global pool has the whole 8x8 map as its window (and a jump of 8); the
    # product's positions are the map's, so the conv after it grows the field by 2, not 16.
    spec = netspec.load(
        "name: t\ninput: [4, 8, 8]\nlayers:\n"
        "  - adaptive_avgpool: {name: pool, size: 1}\n"
        "  - conv: {name: gate, out: 4, kernel: 1}\n"
        "  - mul: {from: [gate, input]}\n"
        "  - conv: {out: 4, kernel: 3}\n"
    )
    by_path = {node.path: node for _, node in spec.rows()}
    assert by_path["pool"].rf == ((8, 8), (8, 8))
    assert by_path["(mul)"].rf == ((8, 8), (1, 1))
    assert by_path["2"].receptive_field == (10, 10)


def test_activation_bytes_are_fp32_outputs() -> None:
    lenet = netspec.load(SPECS / "lenet.yaml")
    first = lenet.rows()[0][1]
    assert first.activation_bytes == 6 * 28 * 28 * 4
    expected = 4 * (2 * 6 * 28 * 28 + 6 * 14 * 14 + 2 * 16 * 10 * 10 + 16 * 5 * 5 + 400)
    expected += 4 * (2 * 120 + 2 * 84 + 10)
    assert activation_total(lenet) == expected


def test_merges_count_their_output_once() -> None:
    spec = netspec.load("name: t\ninput: [2, 4, 4]\nlayers:\n  - concat: [[relu], []]\n")
    # relu output (2x4x4) + the concatenation (4x4x4); the identity branch makes nothing
    assert activation_total(spec) == 4 * (2 * 16 + 4 * 16)


def test_table_has_the_new_columns() -> None:
    table = summary_table(netspec.load(SPECS / "lenet.yaml"))
    header = table.splitlines()[2].split()
    assert header == ["module", "kind", "output", "params", "MACs", "RF", "activations"]
    assert table.splitlines()[5].split() == [
        "0",
        "conv",
        "(6,",
        "28,",
        "28)",
        "156",
        "117,600",
        "5x5",
        "18.4",
        "KiB",
    ]
    assert table.splitlines()[-1].endswith("of activations per sample (fp32)")


def test_json_rows_and_totals(capsys) -> None:
    assert main(["summary", str(SPECS / "resnet18.yaml"), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    spec = netspec.load(SPECS / "resnet18.yaml")
    assert data == summary_json(spec)
    assert data["totals"]["params"] == 11_178_378
    assert data["output_shape"] == [10]
    first = data["rows"][0]
    assert set(first) == {
        "path",
        "name",
        "kind",
        "depth",
        "output_shape",
        "params",
        "macs",
        "receptive_field",
        "jump",
        "activation_bytes",
    }
    assert first["path"] == "0" and first["receptive_field"] == [11, 11]
    shortcut = next(r for r in data["rows"] if r["path"] == "2.0.0.1_0")
    assert shortcut["kind"] == "conv" and shortcut["params"] == 64 * 128 + 128


def test_flat_networks_have_no_receptive_field() -> None:
    spec = netspec.load("name: t\ninput: [8]\nlayers: [{linear: {out: 2}}]\n")
    assert summary_json(spec)["rows"][0]["receptive_field"] is None
    assert " - " in summary_table(spec).splitlines()[5] + " "


def test_check_summary_and_graph_text_do_not_import_torch() -> None:
    code = (
        "import sys\n"
        "from netspec.cli import main\n"
        "for argv in (['check', '-q', 'specs/resnet18.yaml'],\n"
        "             ['summary', '--json', 'specs/densenet.yaml'],\n"
        "             ['graph', '--format', 'mermaid', 'specs/googlenet_user.yaml'],\n"
        "             ['schema']):\n"
        "    assert main(argv) == 0, argv\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
