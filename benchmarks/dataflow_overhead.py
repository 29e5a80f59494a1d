"""What does netspec's Dataflow interpreter cost against a hand-written forward?

Two of torchvision's blocks, each written as a spec whose module tree is torchvision's:
a ResNet-50 bottleneck stage (``layer1``: three Bottlenecks with ``downsample``, 56x56)
and a MobileNetV3-Large inverted residual with squeeze-excitation (``features[5]``,
28x28, where per-layer work is small and the interpreter's share shows most). Both get
torchvision's weights (strict load) and must give bit-equal outputs. Each is timed in
eval mode, batch 1, one thread, alternating in rounds, against two references:

* ``hand``: a hand-written forward over the very same submodules, doing the same
  operations (nothing in place) — the difference is the interpreter alone;
* ``torchvision``: torchvision's own module, which also uses in-place ReLUs and ``+=``.

The ratio netspec / reference of each round is reported as median, quartiles and range.
Run from the repository root:

    python benchmarks/dataflow_overhead.py [--rounds 15]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from torch import nn

import netspec

BOTTLENECK_STAGE = """\
name: layer1
input: [64, 56, 56]
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
layers:
  - bottleneck: {planes: 64, downsample: true}
  - bottleneck: {planes: 64}
  - bottleneck: {planes: 64}
"""

MOBILENET_BLOCK = """\
name: features5
input: [40, 28, 28]
blocks:
  conv_bn_relu:
    params: {out: int, kernel: 1, groups: 1}
    layers:
      - conv: {out: out, kernel: kernel, padding: auto, groups: groups, bias: false}
      - batchnorm: {eps: 0.001, momentum: 0.01}
      - relu
  conv_bn:
    params: {out: int}
    layers:
      - conv: {out: out, kernel: 1, bias: false}
      - batchnorm: {eps: 0.001, momentum: 0.01}
  squeeze_excitation:
    params: {squeeze: int}
    layers:
      - adaptive_avgpool: {name: avgpool, size: 1}
      - conv: {name: fc1, out: squeeze, kernel: 1}
      - relu: {name: activation}
      - conv: {name: fc2, out: in_channels, kernel: 1}
      - hardsigmoid: {name: scale_activation}
      - mul: {from: [scale_activation, input]}
layers:
  - group:
      name: block
      layers:
        - conv_bn_relu: {out: 120}
        - conv_bn_relu: {out: 120, kernel: 5, groups: 120}
        - squeeze_excitation: {squeeze: 32}
        - conv_bn: {out: 40}
  - add: {from: [block, input]}
"""


class HandBottleneck(nn.Module):
    """torchvision's Bottleneck.forward over a spec-built block's own submodules."""

    def __init__(self, built: nn.Module) -> None:
        super().__init__()
        self.m = built

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.m
        out = m.relu(m.bn1(m.conv1(x)))
        out = torch.relu(m.bn2(m.conv2(out)))
        out = m.bn3(m.conv3(out))
        identity = m.downsample(x) if hasattr(m, "downsample") else x
        return torch.relu(out + identity)


class HandStage(nn.Module):
    def __init__(self, built: nn.Module) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(HandBottleneck(block) for block in built)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x)
        return x


class HandInvertedResidual(nn.Module):
    """torchvision's InvertedResidual and SqueezeExcitation forwards over the spec's modules."""

    def __init__(self, built: nn.Module) -> None:
        super().__init__()
        self.m = built

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        block = self.m.block
        out = block[1](block[0](x))
        se = block[2]
        scale = se.scale_activation(se.fc2(se.activation(se.fc1(se.avgpool(out)))))
        out = block[3](scale * out)
        return out + x


def torchvision_stage() -> nn.Module:
    from torchvision.models import resnet50

    return resnet50().layer1


def torchvision_block() -> nn.Module:
    from torchvision.models import mobilenet_v3_large

    return mobilenet_v3_large().features[5]


def randomise_statistics(module: nn.Module) -> None:
    """Random batch-norm statistics and affine parameters (default init hides mistakes)."""
    with torch.no_grad():
        for norm in module.modules():
            if isinstance(norm, nn.BatchNorm2d):
                norm.weight.uniform_(0.5, 1.5)
                norm.bias.uniform_(-0.1, 0.1)
                norm.running_mean.uniform_(-0.1, 0.1)
                norm.running_var.uniform_(0.5, 1.5)


def matched(spec_text: str, reference: nn.Module, hand: type[nn.Module]) -> tuple[nn.Module, ...]:
    """The spec-built module with the reference's weights, the hand-written forward over it,
    the reference, and an input; all in eval mode and checked to give equal outputs."""
    spec = netspec.load(spec_text)
    ours = spec.build(seed=0)
    randomise_statistics(reference)
    ours.load_state_dict(reference.state_dict(), strict=True)
    ours.eval()
    reference.eval()
    written = hand(ours).eval()
    x = torch.randn(1, *spec.input_shape)
    with torch.no_grad():
        for other in (reference, written):
            difference = (ours(x) - other(x)).abs().max().item()
            assert difference == 0.0, f"outputs differ by {difference}"
    return ours, written, reference, x


def seconds(module: nn.Module, x: torch.Tensor, iterations: int) -> float:
    start = time.perf_counter()
    for _ in range(iterations):
        module(x)
    return (time.perf_counter() - start) / iterations


def ratios(
    ours: nn.Module, reference: nn.Module, x: torch.Tensor, rounds: int, iterations: int
) -> list[float]:
    """netspec / torchvision time per round, the two alternating within each round."""
    found = []
    with torch.no_grad():
        for module in (ours, reference):
            seconds(module, x, 3)  # warm-up
        for _ in range(rounds):
            theirs = seconds(reference, x, iterations)
            mine = seconds(ours, x, iterations)
            found.append(mine / theirs)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=15)
    parser.add_argument("--iterations", type=int, default=5, help="at least, per round")
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    cases = [
        ("ResNet-50 layer1, 56x56", BOTTLENECK_STAGE, torchvision_stage(), HandStage),
        (
            "MobileNetV3-L features[5], 28x28",
            MOBILENET_BLOCK,
            torchvision_block(),
            HandInvertedResidual,
        ),
    ]
    for label, text, reference, hand in cases:
        ours, written, reference, x = matched(text, reference, hand)
        with torch.no_grad():  # enough iterations for a round of about a quarter second
            iterations = max(args.iterations, round(0.25 / seconds(reference, x, 5)))
        for name, other in (("hand", written), ("torchvision", reference)):
            found = sorted(ratios(ours, other, x, args.rounds, iterations))
            low, _, high = statistics.quantiles(found, n=4)
            with torch.no_grad():
                base = seconds(other, x, iterations) * 1000
            print(
                f"{label:32s} netspec / {name:11s} median {statistics.median(found):.3f}  "
                f"quartiles {low:.3f}-{high:.3f}  range {found[0]:.3f}-{found[-1]:.3f}  "
                f"({args.rounds} rounds of {iterations}; {name} {base:.2f} ms)"
            )


if __name__ == "__main__":
    main()
