"""``repeat``: copies in their own Sequential or spliced into the list, the copy index in
expressions and templates, and the messages about names the copies share."""

from __future__ import annotations

import pytest

import netspec

HEAD = "name: t\ninput: [3, 8, 8]\n"


def load(layers: str, head: str = HEAD) -> netspec.Spec:
    return netspec.load(f"{head}layers:\n{layers}")


def error(layers: str, head: str = HEAD) -> netspec.NetspecError:
    with pytest.raises(netspec.NetspecError) as caught:
        load(layers, head)
    return caught.value


def paths(spec: netspec.Spec) -> list[str]:
    return [node.path for _, node in spec.rows()]


def test_spliced_copies_join_the_enclosing_list() -> None:
    spec = load(
        "  - conv: {out: 4, kernel: 1}\n"
        "  - repeat:\n"
        "      times: 2\n"
        "      splice: true\n"
        "      layers: [conv: {out: 4, kernel: 1}, relu]\n"
        "  - flatten\n"
    )
    assert paths(spec) == ["0", "1", "2", "3", "4", "5"]
    assert type(spec.build()).__name__ == "Sequential"


def test_the_index_reaches_expressions_and_nested_loops() -> None:
    spec = load(
        "  - repeat:\n"
        "      times: 2\n"
        "      index: s\n"
        "      splice: true\n"
        "      layers:\n"
        "        - repeat:\n"
        '            name: "layer{s + 1}"\n'
        "            times: s + 1\n"
        "            layers: [conv: {out: 4 * (s + 1) + i, kernel: 1}]\n"
    )
    rows = {node.path: node.out_shape[0] for _, node in spec.rows()}
    assert rows == {"layer1": 4, "layer1.0": 4, "layer2": 9, "layer2.0": 8, "layer2.1": 9}


def test_a_loop_of_zero_copies_only_when_spliced() -> None:
    spec = load(
        "  - relu\n  - repeat: {times: 0, splice: true, layers: [conv: {out: 2, kernel: 1}]}\n"
    )
    assert paths(spec) == ["0"]
    exc = error("  - repeat: {times: 0, layers: [relu]}\n")
    assert exc.message == (
        "repeat: 'times' is 0, but a repeat without 'splice' is a module and needs a copy"
    )


def test_if_switches_the_whole_spliced_loop_off() -> None:
    spec = load("  - relu\n  - repeat: {times: 3, splice: true, if: false, layers: [relu]}\n")
    assert paths(spec) == ["0"]


def test_a_spliced_repeat_is_not_a_layer() -> None:
    exc = error("  - repeat: {name: r, times: 2, splice: true, layers: [relu]}\n")
    assert exc.message == (
        "repeat: a repeat with 'splice: true' takes no 'name': its copies go straight into "
        "the enclosing list"
    )
    assert (exc.span.line, exc.span.col) == (4, 14)


def test_nested_loops_need_distinct_indices() -> None:
    exc = error(
        "  - repeat:\n"
        "      times: 2\n"
        "      splice: true\n"
        "      layers:\n"
        "        - repeat: {times: 2, layers: [relu]}\n"
    )
    assert exc.message == (
        "repeat: the index 'i' is already the index of the repeat at line 4; name this one "
        "differently, e.g. 'index: j'"
    )


def test_an_index_may_not_hide_a_param() -> None:
    exc = error(
        "  - repeat: {times: 2, index: classes, layers: [relu]}\n",
        HEAD + "params: {classes: 10}\n",
    )
    assert exc.message == "repeat: the index 'classes' would hide the param 'classes'"
    assert exc.first.hint == "name the index differently, e.g. 'index: i'"


def test_same_name_in_every_copy() -> None:
    exc = error("  - repeat:\n      times: 2\n      layers: [conv: {name: c, out: 3, kernel: 1}]\n")
    assert exc.message == (
        "conv: duplicate module name 'c': copies 0 and 1 of the repeat at line 4 both make it"
    )
    assert exc.first.hint == 'put the copy index in the name, e.g. name: "c{i}"'


def test_templates_name_the_copies_of_a_repeat() -> None:
    spec = load(
        "  - repeat:\n"
        "      name: denseblock1\n"
        "      times: 2\n"
        '      layers: [relu: {name: "denselayer{i + 1}"}]\n'
    )
    assert paths(spec) == ["denseblock1", "denseblock1.denselayer1", "denseblock1.denselayer2"]
    assert [name for name, _ in spec.build().named_modules()][1:] == paths(spec)


def test_copies_read_earlier_copies() -> None:
    spec = load(
        "  - repeat:\n"
        "      times: 3\n"
        "      splice: true\n"
        "      layers:\n"
        '        - conv: {name: "c{i}", out: 3, kernel: 1}\n'
        '        - add: {name: "s{i}", from: ["c{i}", input]}\n'
    )
    rows = {node.path: node for _, node in spec.rows()}
    assert rows["(s2)"].inputs == (5, 0)
