"""ResNet-18 and DenseNet from specs against d2l's PyTorch definitions of those networks.

The references below are d2l's code (chapter "Modern CNNs", PyTorch edition), written
out here so the test does not depend on the d2l package. Beyond equal parameter counts
and output shapes, the reference's weights are copied into the spec-built model, layer by
layer in forward order, and both must compute the same outputs: that checks the wiring
(shortcuts, concatenations, where the ReLUs are), not only the sizes.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F
from torch import nn

import netspec
from conftest import SPECS


# --- d2l's ResNet-18 -------------------------------------------------------------------
class Residual(nn.Module):
    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.conv1 = nn.Conv2d(
            input_channels, num_channels, kernel_size=3, padding=1, stride=strides
        )
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        if use_1x1conv:
            self.conv3 = nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides)
        else:
            self.conv3 = None
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.bn2 = nn.BatchNorm2d(num_channels)

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        Y += X
        return F.relu(Y)


def resnet_block(input_channels, num_channels, num_residuals, first_block=False):
    blk = []
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blk.append(Residual(input_channels, num_channels, use_1x1conv=True, strides=2))
        else:
            blk.append(Residual(num_channels, num_channels))
    return blk


def d2l_resnet18() -> nn.Module:
    b1 = nn.Sequential(
        nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    )
    b2 = nn.Sequential(*resnet_block(64, 64, 2, first_block=True))
    b3 = nn.Sequential(*resnet_block(64, 128, 2))
    b4 = nn.Sequential(*resnet_block(128, 256, 2))
    b5 = nn.Sequential(*resnet_block(256, 512, 2))
    return nn.Sequential(
        b1, b2, b3, b4, b5, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, 10)
    )


# --- d2l's DenseNet --------------------------------------------------------------------
def conv_block(input_channels, num_channels):
    return nn.Sequential(
        nn.BatchNorm2d(input_channels),
        nn.ReLU(),
        nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1),
    )


class DenseBlock(nn.Module):
    def __init__(self, num_convs, input_channels, num_channels):
        super().__init__()
        layer = []
        for i in range(num_convs):
            layer.append(conv_block(num_channels * i + input_channels, num_channels))
        self.net = nn.Sequential(*layer)

    def forward(self, X):
        for blk in self.net:
            Y = blk(X)
            X = torch.cat((X, Y), dim=1)
        return X


def transition_block(input_channels, num_channels):
    return nn.Sequential(
        nn.BatchNorm2d(input_channels),
        nn.ReLU(),
        nn.Conv2d(input_channels, num_channels, kernel_size=1),
        nn.AvgPool2d(kernel_size=2, stride=2),
    )


def d2l_densenet() -> nn.Module:
    b1 = nn.Sequential(
        nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2, padding=1),
    )
    num_channels, growth_rate = 64, 32
    num_convs_in_dense_blocks = [4, 4, 4, 4]
    blks = []
    for i, num_convs in enumerate(num_convs_in_dense_blocks):
        blks.append(DenseBlock(num_convs, num_channels, growth_rate))
        num_channels += num_convs * growth_rate
        if i != len(num_convs_in_dense_blocks) - 1:
            blks.append(transition_block(num_channels, num_channels // 2))
            num_channels = num_channels // 2
    return nn.Sequential(
        b1,
        *blks,
        nn.BatchNorm2d(num_channels),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d((1, 1)),
        nn.Flatten(),
        nn.Linear(num_channels, 10),
    )


# --- helpers ---------------------------------------------------------------------------
REFERENCES = {"resnet18": d2l_resnet18, "densenet": d2l_densenet}


def stateful_in_forward_order(module: nn.Module) -> list[nn.Module]:
    """Modules with parameters or buffers, in the order the forward pass uses them.

    d2l's Residual registers conv3 before the batch norms although it runs last; the spec's
    residual runs (and registers) the main path first, then the shortcut.
    """
    if isinstance(module, Residual):
        order = [module.conv1, module.bn1, module.conv2, module.bn2]
        return order + ([module.conv3] if module.conv3 is not None else [])
    children = list(module.children())
    if not children:
        has_state = any(True for _ in module.parameters(recurse=False)) or any(
            True for _ in module.buffers(recurse=False)
        )
        return [module] if has_state else []
    return [m for child in children for m in stateful_in_forward_order(child)]


def param_count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.fixture(scope="module", params=sorted(REFERENCES))
def pair(request: pytest.FixtureRequest) -> tuple[str, netspec.CompiledSpec, nn.Module]:
    name = request.param
    return name, netspec.load(SPECS / f"{name}.yaml"), REFERENCES[name]()


def test_parameter_counts_equal_d2l(pair) -> None:
    name, spec, reference = pair
    expected = {"resnet18": 11_178_378, "densenet": 758_226}[name]
    assert param_count(reference) == expected
    assert spec.total_params == expected  # from the pure shape stage, no torch
    assert param_count(spec.build(seed=0)) == expected


def test_output_shapes_equal_d2l(pair) -> None:
    _, spec, reference = pair
    x = torch.randn(2, 1, 96, 96)
    assert spec.input_shape == (1, 96, 96)
    assert tuple(reference(x).shape) == (2, *spec.output_shape) == (2, 10)
    assert tuple(spec.build(seed=0)(x).shape) == (2, 10)


def test_same_function_as_d2l_with_the_same_weights(pair) -> None:
    _, spec, reference = pair
    model = spec.build(seed=0)
    ours, theirs = stateful_in_forward_order(model), stateful_in_forward_order(reference)
    assert [type(m) for m in ours] == [type(m) for m in theirs]
    torch.manual_seed(1)
    with torch.no_grad():
        for mine, ref in zip(ours, theirs, strict=True):
            if isinstance(ref, nn.BatchNorm2d):  # non-trivial statistics, so eval mode tells
                ref.running_mean.normal_()
                ref.running_var.uniform_(0.5, 1.5)
                ref.weight.normal_()
                ref.bias.normal_()
            mine.load_state_dict(ref.state_dict(), strict=True)
    model.eval()
    reference.eval()
    x = torch.randn(2, 1, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(model(x), reference(x), rtol=1e-4, atol=1e-4)


def test_scriptable(pair) -> None:
    _, spec, _ = pair
    model = spec.build(seed=0).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(model)
    x = torch.randn(2, 1, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), model(x))


@pytest.mark.parametrize("name", sorted(REFERENCES))
def test_trains_with_netspec_train_on_synthetic_data(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`netspec train` runs an epoch of ResNet-18 / DenseNet (resized to 96x96) end to end."""
    from netspec.cli import main
    from train_support import write_fashion_mnist

    data = write_fashion_mnist(tmp_path / "data", train=32, test=16)
    status = main([
        "train", str(SPECS / f"{name}.yaml"), "--data-dir", str(data), "--no-download",
        "--out", str(tmp_path / "run"), "--epochs", "1", "--batch-size", "16",
        "--device", "cpu",
    ])  # fmt: skip
    out = capsys.readouterr().out
    assert status == 0
    assert out.startswith("epoch 1, loss ")
    for produced in ("last.pt", "best.pt", "metrics.csv", "curves.png", "spec.yaml"):
        assert (tmp_path / "run" / produced).is_file()
