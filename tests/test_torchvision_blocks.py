"""User blocks written as dataflow lists build exactly torchvision's modules.

For each hard case of issue 9 — ResNet's Bottleneck and BasicBlock with ``downsample``,
SqueezeNet's Fire, Inception-v3's InceptionE and BasicConv2d, SqueezeExcitation,
ConvNeXt's CNBlock, RegNet's ResBottleneckBlock, DenseNet's _DenseLayer — the spec's
block has torchvision's module names and state_dict keys, loads its state_dict with
``strict=True`` and gives the same eval outputs, with random batch-norm statistics (so a
wrong eps, a missing activation or a swapped branch shows). Small inputs keep it quick.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn

import netspec
from torchvision_support import randomise

pytestmark = pytest.mark.usefixtures("single_thread")


def compare(
    spec_text: str, theirs: nn.Module, shape: tuple[int, ...], *, concat_input=False
) -> None:
    """The spec's only layer against ``theirs``: names, keys, strict load, eval outputs."""
    spec = netspec.load(spec_text)
    ours = spec.build(seed=0).get_submodule("0")
    randomise(theirs)
    # Registration order may differ (the spec registers a module where it is first used);
    # names, keys and shapes may not.
    assert sorted(n for n, _ in ours.named_modules()) == sorted(
        n for n, _ in theirs.named_modules()
    )
    assert sorted(ours.state_dict()) == sorted(theirs.state_dict())
    ours.load_state_dict(theirs.state_dict(), strict=True)
    ours.eval()
    theirs.eval()
    x = torch.randn(2, *shape, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        expected = theirs(x)
        if concat_input:
            expected = torch.cat([x, expected], 1)
        torch.testing.assert_close(ours(x), expected, rtol=0, atol=0)
    assert tuple(expected.shape[1:]) == spec.output_shape


RESNET = """\
name: t
input: [16, 9, 9]
blocks:
  bottleneck:
    params: {planes: int, stride: 1, downsample: false}
    layers:
      - conv: {name: conv1, out: planes, kernel: 1, bias: false}
      - batchnorm: {name: bn1}
      - relu: {name: relu}
      - conv: {name: conv2, out: planes, kernel: 3, stride: stride, padding: 1, bias: false}
      - batchnorm: {name: bn2}
      - relu: {functional: true}
      - conv: {name: conv3, out: planes * 4, kernel: 1, bias: false}
      - batchnorm: {name: bn3}
      - group:
          name: downsample
          from: input
          if: downsample
          layers: [conv: {out: planes * 4, kernel: 1, stride: stride, bias: false}, batchnorm]
      - add: {from: [bn3, downsample]}
      - relu: {functional: true}
  basic_block:
    params: {planes: int, stride: 1, downsample: false}
    layers:
      - conv: {name: conv1, out: planes, kernel: 3, stride: stride, padding: 1, bias: false}
      - batchnorm: {name: bn1}
      - relu: {name: relu}
      - conv: {name: conv2, out: planes, kernel: 3, padding: 1, bias: false}
      - batchnorm: {name: bn2}
      - group:
          name: downsample
          from: input
          if: downsample
          layers: [conv: {out: planes, kernel: 1, stride: stride, bias: false}, batchnorm]
      - add: {from: [bn2, downsample]}
      - relu: {functional: true}
layers:
"""


def _downsample(inplanes: int, out: int, stride: int) -> nn.Module:
    return nn.Sequential(nn.Conv2d(inplanes, out, 1, stride, bias=False), nn.BatchNorm2d(out))


def test_bottleneck_with_downsample() -> None:
    from torchvision.models.resnet import Bottleneck

    theirs = Bottleneck(16, 8, 2, _downsample(16, 32, 2))
    compare(
        RESNET + "  - bottleneck: {planes: 8, stride: 2, downsample: true}\n", theirs, (16, 9, 9)
    )


def test_bottleneck_without_downsample() -> None:
    from torchvision.models.resnet import Bottleneck

    compare(RESNET + "  - bottleneck: {planes: 4}\n", Bottleneck(16, 4), (16, 9, 9))


def test_basic_block() -> None:
    from torchvision.models.resnet import BasicBlock

    theirs = BasicBlock(16, 8, 2, _downsample(16, 8, 2))
    compare(
        RESNET + "  - basic_block: {planes: 8, stride: 2, downsample: true}\n", theirs, (16, 9, 9)
    )


def test_fire() -> None:
    from torchvision.models.squeezenet import Fire

    spec = """\
name: t
input: [8, 7, 7]
blocks:
  fire:
    params: {squeeze: int, expand: int}
    layers:
      - conv: {name: squeeze, out: squeeze, kernel: 1}
      - relu: {name: squeeze_activation}
      - conv: {name: expand1x1, out: expand, kernel: 1}
      - relu: {name: expand1x1_activation}
      - conv: {name: expand3x3, out: expand, kernel: 3, padding: 1, from: squeeze_activation}
      - relu: {name: expand3x3_activation}
      - concat: {from: [expand1x1_activation, expand3x3_activation]}
layers:
  - fire: {squeeze: 4, expand: 6}
"""
    compare(spec, Fire(8, 4, 6, 6), (8, 7, 7))


BASIC_CONV2D = """\
  basic_conv2d:
    params: {out: int, kernel: [1, 1], padding: [0, 0], stride: 1}
    layers:
      - conv: {name: conv, out: out, kernel: kernel, stride: stride, padding: padding, bias: false}
      - batchnorm: {name: bn, eps: 0.001}
      - relu: {functional: true}
"""


def test_basic_conv2d() -> None:
    from torchvision.models.inception import BasicConv2d

    spec = (
        "name: t\ninput: [3, 9, 9]\nblocks:\n"
        + BASIC_CONV2D
        + "layers:\n  - basic_conv2d: {out: 8, kernel: [3, 3], stride: 2}\n"
    )
    compare(spec, BasicConv2d(3, 8, kernel_size=3, stride=2), (3, 9, 9))


def test_inception_e() -> None:
    from torchvision.models.inception import InceptionE

    spec = (
        "name: t\ninput: [8, 3, 3]\nblocks:\n"
        + BASIC_CONV2D
        + """\
  inception_e:
    layers:
      - basic_conv2d: {name: branch1x1, out: 320}
      - basic_conv2d: {name: branch3x3_1, out: 384, from: input}
      - basic_conv2d: {name: branch3x3_2a, out: 384, kernel: [1, 3], padding: [0, 1]}
      - basic_conv2d:
          {name: branch3x3_2b, out: 384, kernel: [3, 1], padding: [1, 0], from: branch3x3_1}
      - concat: {name: branch3x3, from: [branch3x3_2a, branch3x3_2b]}
      - basic_conv2d: {name: branch3x3dbl_1, out: 448, from: input}
      - basic_conv2d: {name: branch3x3dbl_2, out: 384, kernel: [3, 3], padding: [1, 1]}
      - basic_conv2d: {name: branch3x3dbl_3a, out: 384, kernel: [1, 3], padding: [0, 1]}
      - basic_conv2d:
          {name: branch3x3dbl_3b, out: 384, kernel: [3, 1], padding: [1, 0], from: branch3x3dbl_2}
      - concat: {name: branch3x3dbl, from: [branch3x3dbl_3a, branch3x3dbl_3b]}
      - avgpool: {functional: true, kernel: 3, stride: 1, padding: 1, from: input}
      - basic_conv2d: {name: branch_pool, out: 192}
      - concat: {from: [branch1x1, branch3x3, branch3x3dbl, branch_pool]}
layers:
  - inception_e
"""
    )
    compare(spec, InceptionE(8), (8, 3, 3))


SQUEEZE_EXCITATION = """\
  squeeze_excitation:
    params: {squeeze: int}
    layers:
      - adaptive_avgpool: {name: avgpool, size: 1}
      - conv: {name: fc1, out: squeeze, kernel: 1}
      - relu: {name: activation}
      - conv: {name: fc2, out: in_channels, kernel: 1}
      - sigmoid: {name: scale_activation}
      - mul: {from: [scale_activation, input]}
"""


def test_squeeze_excitation() -> None:
    from torchvision.ops import SqueezeExcitation

    spec = (
        "name: t\ninput: [8, 5, 5]\nblocks:\n"
        + SQUEEZE_EXCITATION
        + "layers:\n  - squeeze_excitation: {squeeze: 4}\n"
    )
    compare(spec, SqueezeExcitation(8, 4), (8, 5, 5))


def test_cn_block_with_layer_scale_on_the_block() -> None:
    from torchvision.models.convnext import CNBlock

    spec = """\
name: t
input: [16, 5, 5]
blocks:
  cn_block:
    params: {layer_scale: float, sd_prob: float}
    layers:
      - group:
          name: block
          layers:
            - conv: {out: in_channels, kernel: 7, padding: 3, groups: in_channels}
            - permute: {dims: [0, 2, 3, 1]}
            - layernorm: {eps: 0.000001}
            - linear: {out: 4 * in_channels}
            - gelu
            - linear: {out: in_channels}
            - permute: {dims: [0, 3, 1, 2]}
      - scale: {name: layer_scale, init: layer_scale, functional: true}
      - stochastic_depth: {name: stochastic_depth, p: sd_prob, mode: row}
      - add: {from: [stochastic_depth, input]}
layers:
  - cn_block: {layer_scale: 0.000001, sd_prob: 0.1}
"""
    compare(spec, CNBlock(16, 1e-6, 0.1), (16, 5, 5))


def test_regnet_res_bottleneck_block() -> None:
    from torchvision.models.regnet import ResBottleneckBlock

    spec = (
        "name: t\ninput: [8, 6, 6]\nblocks:\n"
        + SQUEEZE_EXCITATION
        + """\
  conv_bn_relu:
    params: {out: int, kernel: 1, stride: 1, groups: 1}
    layers:
      - conv: {out: out, kernel: kernel, stride: stride, padding: auto, groups: groups, bias: false}
      - batchnorm
      - relu
  conv_bn:
    params: {out: int, stride: 1}
    layers:
      - conv: {out: out, kernel: 1, stride: stride, bias: false}
      - batchnorm
  res_bottleneck:
    params: {out: int, stride: 1, group_width: int, project: false}
    layers:
      - conv_bn: {name: proj, if: project, out: out, stride: stride}
      - group:
          name: f
          from: input
          layers:
            - conv_bn_relu: {name: a, out: out}
            - conv_bn_relu:
                {name: b, out: out, kernel: 3, stride: stride, groups: out // group_width}
            - squeeze_excitation: {name: se, squeeze: 2}
            - conv_bn: {name: c, out: out}
      - add: {from: [proj, f]}
      - relu: {name: activation}
layers:
  - res_bottleneck: {out: 16, stride: 2, group_width: 8, project: true}
"""
    )
    theirs = ResBottleneckBlock(
        8, 16, 2, nn.BatchNorm2d, nn.ReLU, group_width=8, bottleneck_multiplier=1.0, se_ratio=0.25
    )
    compare(spec, theirs, (8, 6, 6))


def test_dense_layer_returns_the_running_concatenation() -> None:
    from torchvision.models.densenet import _DenseLayer

    spec = """\
name: t
input: [8, 5, 5]
blocks:
  dense_layer:
    params: {growth: int, bn_size: 4}
    layers:
      - batchnorm: {name: norm1}
      - relu: {name: relu1}
      - conv: {name: conv1, out: bn_size * growth, kernel: 1, bias: false}
      - batchnorm: {name: norm2}
      - relu: {name: relu2}
      - conv: {name: conv2, out: growth, kernel: 3, padding: 1, bias: false}
      - concat: {from: [input, conv2]}
layers:
  - dense_layer: {growth: 4}
"""
    theirs = _DenseLayer(8, growth_rate=4, bn_size=4, drop_rate=0.0)
    compare(spec, theirs, (8, 5, 5), concat_input=True)
