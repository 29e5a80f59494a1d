"""The kinds of language v2: shape rules against torch, parameter and MAC counts, receptive
fields, functional forms equal to module forms, and their errors."""

from __future__ import annotations

import pytest
import torch

import netspec


def spec_of(layers: str, shape: str = "[4, 8, 8]") -> netspec.Spec:
    return netspec.load(f"name: t\ninput: {shape}\nlayers:\n{layers}")


def error(layers: str, shape: str = "[4, 8, 8]") -> netspec.NetspecError:
    with pytest.raises(netspec.NetspecError) as caught:
        spec_of(layers, shape)
    return caught.value


def run(spec: netspec.Spec, x: torch.Tensor) -> torch.Tensor:
    model = spec.build(seed=0).eval()
    with torch.no_grad():
        y = model(x)
    assert tuple(y.shape[1:]) == spec.output_shape
    assert sum(p.numel() for p in model.parameters()) == spec.total_params
    return y


X = torch.randn(2, 4, 8, 8)

#: Layers with a module form and a functional form that must agree exactly.
BOTH_FORMS = [
    "relu6",
    "hardswish",
    "hardsigmoid",
    "silu",
    "gelu",
    "gelu: {approximate: tanh}",
    "leaky_relu: {slope: 0.2}",
    "activation: {fn: hardswish}",
    "adaptive_avgpool: {size: [3, 2]}",
    "adaptive_maxpool: {size: 3}",
    "channel_shuffle: {groups: 2}",
    "permute: {dims: [0, 2, 3, 1]}",
    "upsample: {scale: 2, mode: bilinear}",
    "upsample: {size: [5, 11]}",
    "maxpool: {kernel: 3, stride: 2, padding: 1, ceil_mode: true}",
    "avgpool: {kernel: 2}",
    "gap",
    "flatten",
    "dropout: {p: 0.3}",
    "identity",
    "stochastic_depth: {p: 0.2}",
]


@pytest.mark.parametrize("layer", BOTH_FORMS)
def test_functional_form_equals_module_form(layer: str) -> None:
    module = run(spec_of(f"  - {layer}\n"), X)
    kind, _, rest = layer.partition(":")
    fields = rest.strip()[1:-1] if rest else ""
    functional = f"{kind}: {{{fields}{', ' if fields else ''}functional: true}}"
    as_function = spec_of(f"  - {functional}\n")
    assert not as_function.rows()[0][1].module
    torch.testing.assert_close(run(as_function, X), module, rtol=0, atol=0)


def test_activation_builds_the_named_kinds_module() -> None:
    for fn in ("relu", "relu6", "silu", "gelu", "hardsigmoid", "leaky_relu", "identity"):
        by_name = spec_of(f"  - activation: {{fn: {fn}}}\n").build()
        assert type(by_name[0]) is type(spec_of(f"  - {fn}\n").build()[0])


def test_activation_takes_a_block_param_that_names_it() -> None:
    blocks = (
        "blocks:\n  act_of:\n"
        "    params: {act: {type: str, choices: [relu6, silu]}}\n"
        "    layers: [activation: {fn: act}]\n"
    )
    spec = netspec.load(f"name: t\ninput: [4, 8, 8]\n{blocks}layers:\n  - act_of: {{act: silu}}\n")
    assert type(spec.build()[0]) is torch.nn.SiLU


def test_layernorm_over_channels_is_torchvisions_layernorm2d() -> None:
    from torchvision.models.convnext import LayerNorm2d

    spec = spec_of("  - layernorm: {eps: 0.000001}\n")
    ours = spec.build(seed=0).eval()
    theirs = LayerNorm2d(4, eps=1e-6)
    theirs.load_state_dict({k: torch.randn_like(v) for k, v in theirs.state_dict().items()})
    ours.load_state_dict({f"0.{k}": v for k, v in theirs.state_dict().items()})
    torch.testing.assert_close(ours(X), theirs(X), rtol=0, atol=0)
    assert spec.total_params == 8


def test_channels_last_linear_and_layernorm() -> None:
    spec = spec_of(
        "  - permute: {dims: [0, 2, 3, 1]}\n"
        "  - layernorm\n"
        "  - linear: {out: 16}\n"
        "  - permute: {dims: [0, 3, 1, 2]}\n"
    )
    rows = [node for _, node in spec.rows()]
    assert [n.layout for n in rows] == ["HWC", "HWC", "HWC", "CHW"]
    assert rows[2].out_shape == (8, 8, 16)
    assert rows[2].macs == 8 * 8 * 4 * 16 and rows[2].params == 4 * 16 + 16
    run(spec, X)


def test_linear_on_channels_first_keeps_its_message() -> None:
    exc = error("  - linear: {out: 3}\n")
    assert exc.message.startswith("linear: needs a flat input but gets (4, 8, 8)")


def test_groupnorm() -> None:
    spec = spec_of("  - groupnorm: {groups: 2, eps: 0.001}\n")
    assert spec.total_params == 8
    module = spec.build()[0]
    assert isinstance(module, torch.nn.GroupNorm) and module.num_groups == 2
    exc = error("  - groupnorm: {groups: 3}\n")
    assert (
        exc.message
        == "groupnorm: groups=3 must divide the input's 4 channels from the input at line 2"
    )


def test_adaptive_pool_receptive_field() -> None:
    node = spec_of("  - adaptive_avgpool: {size: 2}\n").rows()[0][1]
    assert node.out_shape == (4, 2, 2)
    assert node.window is not None and node.window.kernel == (4, 4) and node.window.stride == (4, 4)


def test_gap_without_keepdim() -> None:
    spec = spec_of("  - gap: {keepdim: false, functional: true}\n")
    assert spec.output_shape == (4,)
    torch.testing.assert_close(run(spec, X), X.mean([2, 3]), rtol=0, atol=0)
    exc = error("  - gap: {keepdim: false}\n")
    assert exc.message == "gap: 'keepdim: false' is x.mean([2, 3]), which torch has no module for"


def test_channel_split_is_chunk() -> None:
    spec = spec_of(
        "  - channel_split: {name: a, take: 0}\n"
        "  - channel_split: {name: b, take: 1, from: input}\n"
        "  - concat: {from: [b, a]}\n"
    )
    torch.testing.assert_close(run(spec, X), torch.cat([X[:, 2:], X[:, :2]], 1))
    assert error("  - channel_split: {parts: 3, take: 0}\n").message == (
        "channel_split: cannot cut the input's 4 channels from the input at line 2 into 3 equal "
        "slices"
    )
    assert error("  - channel_split: {take: 2}\n").message == (
        "channel_split: 'take' is 2, but there are only 2 slices (0 to 1)"
    )


def test_channel_shuffle_is_torchvisions() -> None:
    from torchvision.models.shufflenetv2 import channel_shuffle

    spec = spec_of("  - channel_shuffle: {groups: 2}\n")
    torch.testing.assert_close(run(spec, X), channel_shuffle(X, 2), rtol=0, atol=0)


def test_permute_rules() -> None:
    assert spec_of("  - permute: {dims: [0, 1, 3, 2]}\n").rows()[0][1].layout == "other"
    assert error("  - permute: {dims: [1, 0, 2, 3]}\n").message == (
        "permute: the batch dimension must stay first: 'dims' must start with 0"
    )
    assert error("  - permute: {dims: [0, 2, 1]}\n").message.startswith(
        "permute: 'dims' must order all 4 dimensions 0 to 3 of the input"
    )
    exc = error("  - permute: {dims: [0, 1, 3, 2]}\n  - conv: {out: 4, kernel: 1}\n")
    assert "gets the permuted (4, 8, 8)" in exc.message


def test_scale_as_a_module() -> None:
    spec = spec_of("  - scale: {init: 2}\n")
    assert spec.total_params == 4
    model = spec.build()
    assert model[0].weight.shape == (4, 1, 1)
    torch.testing.assert_close(run(spec, X), 2 * X)


def test_stochastic_depth_is_torchvisions() -> None:
    from torchvision.ops import stochastic_depth

    model = spec_of("  - stochastic_depth: {p: 0.5, mode: row}\n").build().train()
    torch.manual_seed(3)
    ours = model(X)
    torch.manual_seed(3)
    torch.testing.assert_close(ours, stochastic_depth(X, 0.5, "row", True), rtol=0, atol=0)
    assert torch.equal(model.eval()(X), X)


def test_upsample_and_its_receptive_field() -> None:
    spec = spec_of("  - upsample: {scale: 1.5}\n  - conv: {out: 2, kernel: 3}\n")
    rows = [node for _, node in spec.rows()]
    assert rows[0].out_shape == (4, 12, 12) and rows[0].rf is None and rows[1].rf is None
    run(spec, X)
    assert error("  - upsample: {}\n").message == "upsample: give either 'scale' or 'size'"


def test_conv_transpose_shape_params_and_macs() -> None:
    spec = spec_of(
        "  - conv_transpose: {out: 6, kernel: 3, stride: 2, padding: 1, output_padding: 1}\n"
    )
    node = spec.rows()[0][1]
    assert node.out_shape == (6, 16, 16)
    assert node.params == 4 * 6 * 9 + 6 and node.macs == 4 * 8 * 8 * 6 * 9
    run(spec, X)
    assert error("  - conv_transpose: {out: 6, kernel: 3, output_padding: 1}\n").message == (
        "conv_transpose: 'output_padding' 1 must be smaller than the stride or the dilation (1)"
    )


def test_conv_padding_auto() -> None:
    spec = spec_of("  - conv: {out: 4, kernel: [3, 5], stride: 2, dilation: 2, padding: auto}\n")
    conv = spec.build()[0]
    assert conv.padding == (2, 4)
    assert spec.output_shape == (4, 4, 4)
    run(spec, X)


def test_mul_broadcasts() -> None:
    spec = spec_of(
        "  - gap: {name: g}\n  - sigmoid: {name: gate}\n  - mul: {from: [gate, input]}\n"
    )
    assert spec.output_shape == (4, 8, 8)
    torch.testing.assert_close(run(spec, X), torch.sigmoid(X.mean([2, 3], keepdim=True)) * X)


def test_mul_shapes_that_do_not_broadcast() -> None:
    exc = error("  - maxpool: {name: small, kernel: 2}\n  - mul: {from: [input, small]}\n")
    assert exc.message == (
        "mul: input 'small' (line 4) gives (4, 4, 4), which does not broadcast with (4, 8, 8) "
        "from the list's input (line 2): each size must be equal or 1"
    )
    assert (exc.span.line, exc.span.col) == (5, 25)


def test_concat_inputs_that_do_not_fit() -> None:
    exc = error("  - maxpool: {name: small, kernel: 2}\n  - concat: {from: [input, small]}\n")
    assert exc.message == (
        "concat: input 'small' (line 4) gives (4, 4, 4) but the list's input (line 2) gives "
        "(4, 8, 8); concat joins channels, so height and width must match"
    )


def test_channel_affine() -> None:
    spec = spec_of("  - channel_affine: {scale: [1, 2, 3, 4], shift: [0, 1, 0, -1]}\n")
    scale = torch.tensor([1.0, 2, 3, 4]).view(1, -1, 1, 1)
    shift = torch.tensor([0.0, 1, 0, -1]).view(1, -1, 1, 1)
    torch.testing.assert_close(run(spec, X), X * scale + shift, rtol=0, atol=0)
    assert error("  - channel_affine: {scale: [1, 2], shift: [0, 1, 0, 0]}\n").message == (
        "channel_affine: 'scale' has 2 values, one per channel, but the input (4, 8, 8) from "
        "the input at line 2 has 4 channels"
    )


def test_only_conv_linear_and_conv_transpose_count_macs() -> None:
    spec = spec_of(
        "  - layernorm\n  - groupnorm: {groups: 2}\n  - silu\n  - adaptive_avgpool: {size: 1}\n"
        "  - upsample: {scale: 2}\n  - scale\n"
    )
    assert spec.total_macs == 0
