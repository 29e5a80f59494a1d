"""Dataflow wiring: ``from``, ``if``, functional layers, ``output`` — the compiler's rules and
the ``Dataflow`` module that runs them."""

from __future__ import annotations

import copy
import importlib.util
import pickle

import pytest
import torch

import netspec
from netspec.modules import Dataflow

HEAD = "name: t\ninput: [3, 8, 8]\n"


def load(layers: str, head: str = HEAD) -> netspec.Spec:
    return netspec.load(f"{head}layers:\n{layers}")


def error(layers: str, head: str = HEAD) -> netspec.NetspecError:
    with pytest.raises(netspec.NetspecError) as caught:
        load(layers, head)
    return caught.value


def where(exc: netspec.NetspecError) -> tuple[int, int]:
    assert exc.span is not None
    return exc.span.line, exc.span.col


FIRE = """\
  - conv: {name: squeeze, out: 4, kernel: 1}
  - relu: {name: squeeze_activation}
  - conv: {name: expand1x1, out: 6, kernel: 1}
  - relu: {name: expand1x1_activation}
  - conv: {name: expand3x3, out: 6, kernel: 3, padding: 1, from: squeeze_activation}
  - relu: {name: expand3x3_activation}
  - concat: {from: [expand1x1_activation, expand3x3_activation]}
"""


def test_a_plain_chain_builds_a_sequential_and_wiring_a_dataflow() -> None:
    assert type(load("  - conv: {out: 4, kernel: 1}\n  - relu\n").build()) is torch.nn.Sequential
    model = load(FIRE).build()
    assert isinstance(model, Dataflow)
    assert [name for name, _ in model.named_children()] == [
        "squeeze",
        "squeeze_activation",
        "expand1x1",
        "expand1x1_activation",
        "expand3x3",
        "expand3x3_activation",
    ]


def test_dataflow_runs_as_a_hand_written_forward() -> None:
    spec = load(FIRE)
    assert spec.output_shape == (12, 8, 8)
    model = spec.build(seed=0).eval()
    x = torch.randn(2, 3, 8, 8)
    m = dict(model.named_children())
    squeezed = m["squeeze_activation"](m["squeeze"](x))
    expected = torch.cat(
        [
            m["expand1x1_activation"](m["expand1x1"](squeezed)),
            m["expand3x3_activation"](m["expand3x3"](squeezed)),
        ],
        1,
    )
    torch.testing.assert_close(model(x), expected, rtol=0, atol=0)


def test_nodes_record_what_they_read() -> None:
    rows = {node.path: node for _, node in load(FIRE).rows()}
    assert rows["expand3x3"].inputs == (2,)
    assert rows["(concat)"].inputs == (4, 6) and not rows["(concat)"].module
    assert rows["squeeze"].inputs == (0,)


def test_program_is_data_it_prints_copies_and_pickles() -> None:
    model = load(FIRE).build(seed=0).eval()
    text = repr(model)
    assert "5 = expand3x3(2)" in text and "7 = concat(4, 6)" in text and "output 7" in text
    x = torch.randn(1, 3, 8, 8)
    for clone in (copy.deepcopy(model), pickle.loads(pickle.dumps(model))):
        torch.testing.assert_close(clone(x), model(x), rtol=0, atol=0)


def test_values_are_released_after_their_last_use() -> None:
    model = load(FIRE).build()
    # step 3 (expand1x1) is the last reader of nothing old; step 5 (expand3x3) is the last
    # reader of value 2 (squeeze_activation); the concat releases both of its inputs.
    assert model._netspec_release[4] == (2,)
    assert model._netspec_release[6] == (4, 6)
    assert model._netspec_release[0] == (0,)


def test_absent_layer_reads_as_its_input() -> None:
    blocks = (
        "blocks:\n"
        "  res:\n"
        "    params: {down: false}\n"
        "    layers:\n"
        "      - conv: {name: conv, out: 3, kernel: 1}\n"
        "      - group:\n"
        "          name: downsample\n"
        "          from: input\n"
        "          if: down\n"
        "          layers: [conv: {out: 3, kernel: 1}]\n"
        "      - add: {from: [conv, downsample]}\n"
    )
    spec = load("  - res: {down: true}\n  - res\n", HEAD + blocks)
    rows = {node.path: node for _, node in spec.rows()}
    assert "0.downsample" in rows and "1.downsample" not in rows
    assert rows["1.(add)"].inputs == (1, 0)  # downsample switched off: the input itself
    model = spec.build(seed=0).eval()
    block = model.get_submodule("1")
    x = torch.randn(2, 3, 8, 8)
    torch.testing.assert_close(block(x), block.conv(x) + x, rtol=0, atol=0)


def test_alternatives_share_a_name_when_one_is_present() -> None:
    spec_text = (
        HEAD
        + "blocks:\n  b:\n    params: {hs: false, plain: true}\n    layers:\n"
        + "      - conv: {out: 3, kernel: 1}\n"
        + "      - relu: {name: act, if: plain}\n"
        + "      - hardswish: {name: act, if: hs}\n"
        + "layers:\n  - b: {hs: true, plain: false}\n  - b\n"
    )
    spec = netspec.load(spec_text)
    kinds = {node.path: node.kind for _, node in spec.rows()}
    assert kinds["0.act"] == "hardswish" and kinds["1.act"] == "relu"


def test_output_names_the_lists_value() -> None:
    spec = load(
        "  - group:\n"
        "      name: g\n"
        "      output: a\n"
        "      layers:\n"
        "        - conv: {name: a, out: 4, kernel: 1}\n"
        "        - relu: {name: r, if: false}\n"
        "  - relu\n"
    )
    group = next(node for _, node in spec.rows() if node.path == "g")
    assert [child.name for child in group.children] == ["a"] and group.out_shape == (4, 8, 8)


def test_functional_scale_is_a_parameter_of_the_enclosing_module() -> None:
    spec = load(
        "  - conv: {name: c, out: 4, kernel: 1}\n"
        "  - scale: {name: layer_scale, init: 0.5, functional: true}\n"
    )
    rows = {node.path: node for _, node in spec.rows()}
    assert rows["layer_scale"].params == 4 and not rows["layer_scale"].module
    model = spec.build(seed=0)
    assert model.layer_scale.shape == (4, 1, 1)
    assert sorted(model.state_dict()) == ["c.bias", "c.weight", "layer_scale"]
    x = torch.randn(1, 3, 8, 8)
    torch.testing.assert_close(model(x), 0.5 * model.c(x))


# ---------------------------------------------------------------------------- errors


def test_a_layer_that_reads_itself() -> None:
    exc = error("  - conv: {name: a, out: 4, kernel: 1, from: a}\n")
    assert exc.message == "conv: 'a' reads itself"
    assert where(exc) == (4, 46)


def test_a_later_layer_without_a_cycle() -> None:
    exc = error(
        "  - conv: {name: a, out: 4, kernel: 1}\n"
        "  - conv: {name: b, out: 4, kernel: 1, from: c}\n"
        "  - conv: {name: c, out: 4, kernel: 1, from: input}\n"
    )
    assert exc.message == "conv: 'b' reads 'c', which comes after it (line 6)"
    assert exc.first.hint == "a layer reads only 'input' and the layers above it in its list"


def test_unknown_input_that_is_in_the_enclosing_list() -> None:
    exc = error(
        "  - conv: {name: stem, out: 4, kernel: 1}\n"
        "  - group:\n"
        "      layers:\n"
        "        - conv: {out: 4, kernel: 1, from: stem}\n"
    )
    assert exc.message == "conv: unknown input 'stem' in 'from'"
    assert exc.first.hint == (
        "'stem' is in the enclosing list (line 4); a layer reads only 'input' and the "
        "layers above it in its own list"
    )


def test_unknown_input_that_is_inside_an_earlier_group() -> None:
    exc = error(
        "  - group: {name: g, layers: [conv: {name: inner, out: 4, kernel: 1}]}\n"
        "  - relu: {from: inner}\n"
    )
    assert exc.first.hint == (
        "'inner' is inside 'g' (line 4); a layer reads only 'input' and the layers above it "
        "in its own list"
    )


def test_arity() -> None:
    exc = error(
        "  - conv: {name: a, out: 3, kernel: 1}\n  - conv: {out: 3, kernel: 1, from: [a, input]}\n"
    )
    assert exc.message == "conv: conv reads one input; 'from' names 2"
    exc = error("  - conv: {name: a, out: 3, kernel: 1}\n  - add: {from: [a]}\n")
    assert exc.message == "add: add merges two or more inputs; 'from' names 1"
    exc = error("  - conv: {out: 3, kernel: 1}\n  - mul\n")
    assert exc.message == "mul: mul needs two or more inputs in 'from'"


def test_merge_forms_do_not_mix() -> None:
    exc = error("  - add: {from: [input, input], branches: [[], []]}\n")
    assert exc.message == "add: use either 'branches' or 'from', not both"
    exc = error("  - add: {branches: [[relu: {from: input}], []]}\n")
    assert exc.message == (
        "relu: inside 'branches' layers run in order; use the dataflow form (from: [...]) "
        "for other wiring"
    )
    exc = error("  - add: {from: [input, input], projection: conv}\n")
    assert exc.message == "add: 'projection' works only with 'branches'"


def test_functional_where_it_cannot_be() -> None:
    exc = error("  - mul: {from: [input, input], functional: false}\n")
    assert exc.message == "mul: mul makes no module: torch has none for it"
    exc = error("  - concat: {from: [input, input], functional: false}\n")
    assert exc.message == "concat: concat with 'from' makes no module: torch has none for it"
    exc = error("  - scale: {functional: true}\n")
    assert exc.message.startswith("scale: 'functional: true' needs a 'name'")
    exc = error("  - group: {functional: true, layers: [relu]}\n")
    assert exc.message == "group: 'functional: true' is not available: group has no functional form"


def test_reading_a_switched_off_merge() -> None:
    exc = error(
        "  - conv: {name: a, out: 3, kernel: 1}\n"
        "  - add: {name: sum, from: [a, input], if: false}\n"
        "  - relu: {from: sum}\n"
    )
    assert exc.message == (
        "relu: 'sum' is switched off by its 'if' (line 5) and has 2 inputs, so it cannot "
        "stand for one value"
    )
    assert where(exc) == (6, 18)


def test_a_switched_off_merge_at_the_end_leaves_the_last_present_layer_as_output() -> None:
    # MobileNet's and EfficientNet's residual: `add: {if: residual, ...}` ends the block.
    blocks = (
        "blocks:\n"
        "  res:\n"
        "    params: {out: int}\n"
        "    layers:\n"
        "      - conv: {name: conv, out: out, kernel: 1}\n"
        "      - add: {if: in_channels == out, from: [conv, input]}\n"
    )
    spec = load("  - res: {out: 3}\n  - res: {out: 5}\n", HEAD + blocks)
    assert spec.output_shape == (5, 8, 8)
    model = spec.build(seed=0).eval()
    x = torch.randn(2, 3, 8, 8)
    first, second = model.get_submodule("0"), model.get_submodule("1")
    torch.testing.assert_close(first(x), first.conv(x) + x, rtol=0, atol=0)
    torch.testing.assert_close(second(x), second.conv(x), rtol=0, atol=0)


def test_every_layer_switched_off() -> None:
    exc = error("  - relu: {if: false}\n")
    assert exc.message == "spec: every layer of this list is switched off by its 'if'"


def test_unknown_output() -> None:
    with pytest.raises(netspec.NetspecError) as caught:
        netspec.load(HEAD + "output: fcc\nlayers:\n  - flatten\n  - linear: {name: fc, out: 2}\n")
    assert caught.value.message == "spec: 'output' names 'fcc', which is not a layer of this list"
    assert caught.value.first.hint == "did you mean 'fc'?"


def test_unused_output_before_the_named_output() -> None:
    with pytest.raises(netspec.NetspecError) as caught:
        netspec.load(HEAD + "output: a\nlayers:\n  - relu: {name: a}\n  - relu: {name: b}\n")
    assert caught.value.message == "relu: the output of 'b' is never used"
    assert caught.value.first.notes[0][0] == "the list's output is 'a'"


def test_if_must_be_a_boolean() -> None:
    exc = error("  - relu: {if: 1}\n")
    assert exc.message == "relu: 'if' must be true or false, got the integer 1"
    assert exc.first.hint == "write true or false, or compare values (if: stride != 1)"


def test_absent_layers_are_not_validated() -> None:
    spec = load("  - conv: {if: false, out: 0, kernel: nonsense}\n  - relu\n")
    assert [node.kind for _, node in spec.rows()] == ["relu"]


def test_channels_last_into_batchnorm() -> None:
    exc = error("  - permute: {dims: [0, 2, 3, 1]}\n  - batchnorm\n")
    assert exc.message == (
        "batchnorm: needs a channels-first (C, H, W) input but gets the channels-last "
        "(8, 8, 3) from 'permute' at line 4"
    )


# ---------------------------------------------------------------------------- formats


HAVE_ONNX = all(importlib.util.find_spec(m) for m in ("onnx", "onnxscript", "onnxruntime"))


@pytest.mark.parametrize(
    "fmt",
    [
        "torchscript",
        "export",
        pytest.param("onnx", marks=pytest.mark.skipif(not HAVE_ONNX, reason="pip install .[onnx]")),
    ],
)
def test_dataflow_networks_export(fmt: str, tmp_path, single_thread) -> None:  # type: ignore[no-untyped-def]
    from netspec.export import export_model

    spec = load(FIRE + "  - gap: {functional: true, keepdim: false}\n  - linear: {out: 2}\n")
    model = spec.build(seed=0)
    suffix = {"torchscript": ".ts.pt", "export": ".pt2", "onnx": ".onnx"}[fmt]
    report = export_model(model, spec, tmp_path / f"fire{suffix}", format=fmt)
    assert report.max_abs_diff < 1e-5
    assert isinstance(model, Dataflow)  # the caller's model is not replaced by its trace


def test_torch_jit_script_says_what_to_use() -> None:
    model = load(FIRE).build()
    with pytest.raises(RuntimeError, match=r"netspec\.formats\.torchscript\.script"):
        torch.jit.script(model)


# ---------------------------------------------------------------------------- summary, graph


def test_summary_shows_functional_rows_and_what_rows_read() -> None:
    from netspec.summary import summary_json, summary_table

    spec = load(FIRE)
    table = summary_table(spec).splitlines()
    assert table[2].split() == [
        "module",
        "kind",
        "output",
        "params",
        "MACs",
        "RF",
        "activations",
        "reads",
    ]
    row = next(line for line in table if line.startswith("expand3x3 "))
    assert row.endswith("  squeeze_activation")
    concat = next(line for line in table if line.startswith("(concat)"))
    assert concat.endswith("expand1x1_activation, expand3x3_activation")
    rows = {row["path"]: row for row in summary_json(spec)["rows"]}
    assert rows["(concat)"]["module"] is False and rows["squeeze"]["reads"] == []
    assert rows["expand3x3"]["reads"] == ["squeeze_activation"]


def test_graph_draws_an_edge_per_input() -> None:
    from netspec.graph import network_graph, to_dot

    graph = network_graph(load(FIRE))
    boxes = {item.lines[0].split(":")[0]: item for item in graph.root.items}
    concat = next(item for item in graph.root.items if item.lines[0] == "concat")
    into_concat = {source for source, target, _ in graph.edges if target == concat.id}
    assert into_concat == {boxes["expand1x1_activation"].id, boxes["expand3x3_activation"].id}
    assert concat.dashed and 'style="rounded,filled,dashed"' in to_dot(graph)
    squeeze = boxes["squeeze_activation"].id
    assert {t for s, t, _ in graph.edges if s == squeeze} == {
        boxes["expand1x1"].id,
        boxes["expand3x3"].id,
    }
