"""Speed without changing the numbers: rewrites that make a built model faster.

The plain build mirrors the seed's hand-written code module for module, so that its
state_dicts load and its outputs are the book's. Speed is a separate, later step, as in a
compiler's back end:

* :func:`speed_up` — training-safe rewrites of a built model, in place: ReLUs in place
  where their input is a fresh tensor nobody reads again, and the channels-last memory
  format where it is faster. Parameter names, shapes and values are untouched (only their
  strides change), so the seed's state_dicts still load with ``strict=True``, and outputs
  and gradients agree with the plain build to float rounding.
* :func:`prepare_for_inference` — rewrites that are only valid with frozen weights, on a
  copy: batch norm folded into the convolution or linear layer before it, and an Inception
  block's three 1×1 convolutions of the same input merged into one wider convolution.

Which of these rewrites is fastest on a given machine is measured, not assumed:
:mod:`netspec.tuning` times the candidates on the target for ``--optimize``.

torch is imported at module level: only code that builds, trains or exports a network
imports this module.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from .errors import BuildError
from .modules import Inception, Merge

MemoryFormat = Literal["auto", "channels_last", "contiguous"]

#: Modules whose output is a tensor they allocated, and whose backward does not read that
#: output — an in-place ReLU after them changes nothing but the memory traffic.
_FRESH_OUTPUT = (
    nn.Conv2d,
    nn.Linear,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    Inception,
)


# --------------------------------------------------------------------------- traversal


def _chains(model: nn.Module) -> Iterator[tuple[nn.Module, list[str], list[bool]]]:
    """Every container whose children run one after another, with where each chain starts.

    For a plain ``nn.Sequential`` only child 0 reads the container's input; in a
    :class:`~netspec.modules.Merge` every branch's first child reads the shared input, which
    must never be overwritten — ``starts[i]`` marks those children.
    """
    for module in model.modules():
        names = list(module._modules)
        if not names:
            continue
        if isinstance(module, Merge):
            yield module, names, list(module.starts)
        elif isinstance(module, nn.Sequential):
            yield module, names, [i == 0 for i in range(len(names))]


def _allocates_output(module: nn.Module) -> bool:
    """Whether ``module`` returns a tensor of its own that no other code still reads."""
    if isinstance(module, (*_FRESH_OUTPUT, FusedInception)):
        return True
    if isinstance(module, Merge):
        # cat always copies; a sum of two or more branches is a new tensor; a "sum" of one
        # branch may be the input itself.
        return not module.is_sum or module.branches >= 2
    if type(module) is nn.Sequential and len(module) > 0:
        return _allocates_output(module[len(module) - 1])
    return False


# ------------------------------------------------------------------ training-safe rewrites


def inplace_activations(model: nn.Module) -> int:
    """Make ReLUs in place where that is safe; returns how many were changed.

    Safe means: the ReLU is not the first layer of its chain (its input is not the
    container's — possibly shared — input), and the layer before it allocated that input
    and does not need it for its backward pass (convolution, linear, batch norm, pooling,
    concatenation). Inception blocks apply the same rule inside (never to their input).
    """
    changed = 0
    for container, names, starts in _chains(model):
        for i, name in enumerate(names):
            module = container._modules[name]
            if not isinstance(module, nn.ReLU) or module.inplace or starts[i]:
                continue
            previous = container._modules[names[i - 1]]
            if previous is not None and _allocates_output(previous):
                module.inplace = True
                changed += 1
    for module in model.modules():
        if isinstance(module, Inception) and not module.inplace:
            module.inplace = True
            changed += 1
    return changed


def has_convolutions(model: nn.Module) -> bool:
    return any(isinstance(m, nn.Conv2d) for m in model.modules())


def prefers_channels_last(model: nn.Module, device: torch.device | str) -> bool:
    """Whether a conv network should run channels-last on ``device`` (the "auto" rule).

    Convolutions in NHWC avoid oneDNN's (CPU) and cuDNN's (GPU) layout reorders around every
    convolution, and make pooling and ReLU vectorise over channels. Measured on this
    project's 2-core CPU: training steps of all five seed networks were faster (1.05x AlexNet
    to 1.7x small VGG; LeNet about 1.8x), and so was inference (LeNet 1.12x). One rule
    serves ``build(fast=True)``, ``--optimize``'s default and ``netspec train``. The choice
    depends only on the model and the device type, so a resumed run makes the same one.
    """
    device = torch.device(device)
    if device.type not in ("cpu", "cuda"):
        return False
    if device.type == "cpu" and not torch.backends.mkldnn.is_available():
        return False
    return has_convolutions(model)


def speed_up(
    model: nn.Module,
    *,
    device: torch.device | str | None = None,
    memory_format: MemoryFormat = "auto",
    inplace: bool = True,
) -> nn.Module:
    """Make a built model faster for training and inference; returns the same model.

    ``device`` is where the model will run (default: where its parameters are). Nothing
    about the parameters changes but their memory layout, so ``load_state_dict`` of the
    seed's weights still works (before or after), and so does the optimizer.
    """
    if device is None:
        first = next(model.parameters(), None)
        device = first.device if first is not None else torch.device("cpu")
    if inplace:
        inplace_activations(model)
    if memory_format == "auto":
        memory_format = "channels_last" if prefers_channels_last(model, device) else "contiguous"
    if memory_format == "channels_last":
        # Weights in NHWC make convolutions produce NHWC (oneDNN and cuDNN follow the
        # weight's format), so later layers stay in it; flatten is reshape-based and gives
        # the same vector in either format.
        model.to(memory_format=torch.channels_last)
    elif memory_format != "contiguous":
        raise BuildError(f"unknown memory format '{memory_format}'")
    return model


def compile_model(model: nn.Module, **options: object) -> nn.Module:
    """``torch.compile`` a model (opt-in: compiling takes a while, and pays off over time).

    The compiled wrapper's ``state_dict`` keys carry an ``_orig_mod.`` prefix: save and
    export the *original* model, whose keys are the spec's.
    """
    return torch.compile(model, **options)  # type: ignore[return-value]


# ------------------------------------------------------------------ inference-only rewrites


class FusedInception(nn.Module):
    """An Inception block for inference: the three 1×1 convolutions of its input as one.

    Branches 1, 2 and 3 each start with a 1×1 convolution of the same input; stacking their
    weights gives one convolution with c1 + c2[0] + c3[0] outputs — one larger matrix
    product instead of three smaller ones, and one pass over the input instead of three.
    The outputs are split back by channel. Exact up to float summation order.
    """

    def __init__(self, block: Inception) -> None:
        super().__init__()
        heads = [block.p1_1, block.p2_1, block.p3_1]
        if not all(isinstance(h, nn.Conv2d) and h.kernel_size == (1, 1) for h in heads):
            raise BuildError("FusedInception needs 1x1 convolutions at the branch heads")
        self.splits: list[int] = [h.out_channels for h in heads]  # type: ignore[union-attr]
        first: nn.Conv2d = block.p1_1  # type: ignore[assignment]
        self.heads = nn.Conv2d(first.in_channels, sum(self.splits), 1, bias=True)
        with torch.no_grad():
            self.heads.weight.copy_(torch.cat([h.weight for h in heads]))
            biases = [h.bias if h.bias is not None else torch.zeros(h.out_channels) for h in heads]
            self.heads.bias.copy_(torch.cat(biases))  # type: ignore[union-attr]
        self.heads.to(first.weight.device)
        self.p2_2 = block.p2_2
        self.p3_2 = block.p3_2
        self.p4_1 = block.p4_1
        self.p4_2 = block.p4_2

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # The channel slices are strided views; the convolutions read them as they are
        # (an explicit .contiguous() would pin them to NCHW in exported graphs).
        parts = torch.split(F.relu(self.heads(x), inplace=True), self.splits, dim=1)
        p2 = F.relu(self.p2_2(parts[1]), inplace=True)
        p3 = F.relu(self.p3_2(parts[2]), inplace=True)
        p4 = F.relu(self.p4_2(self.p4_1(x)), inplace=True)
        return torch.cat((parts[0], p2, p3, p4), dim=1)


def fold_batchnorm(model: nn.Module) -> int:
    """Fold each eval-mode batch norm into the convolution/linear layer right before it.

    ``bn(conv(x)) == conv'(x)`` with rescaled weights and a shifted bias once the running
    statistics are frozen; the batch norm becomes ``nn.Identity``. Returns the count.
    """
    from torch.nn.utils.fusion import fuse_conv_bn_eval, fuse_linear_bn_eval

    folded = 0
    for container, names, starts in _chains(model):
        for i in range(1, len(names)):
            if starts[i]:
                continue
            previous = container._modules[names[i - 1]]
            norm = container._modules[names[i]]
            if isinstance(previous, nn.Conv2d) and isinstance(norm, nn.BatchNorm2d):
                fused: nn.Module = fuse_conv_bn_eval(previous, norm)  # type: ignore[arg-type]
            elif isinstance(previous, nn.Linear) and isinstance(norm, nn.BatchNorm1d):
                fused = fuse_linear_bn_eval(previous, norm)  # type: ignore[arg-type]
            else:
                continue
            if norm.running_mean is None:  # track_running_stats=False: nothing to fold
                continue
            container._modules[names[i - 1]] = fused
            container._modules[names[i]] = nn.Identity()
            folded += 1
    return folded


def fuse_branches(model: nn.Module) -> int:
    """Replace every Inception block by a :class:`FusedInception`; returns the count."""
    fused = 0
    for module in list(model.modules()):
        for name, child in list(module._modules.items()):
            if isinstance(child, Inception):
                module._modules[name] = FusedInception(child)
                fused += 1
    return fused


def prepare_for_inference(
    model: nn.Module,
    *,
    memory_format: Literal["channels_last", "contiguous"] = "contiguous",
    fuse: bool = False,
) -> nn.Module:
    """A frozen-weights copy of ``model``: eval mode, batch norm folded, ReLUs in place,
    optionally Inception heads fused, in the given memory format. ``model`` is untouched."""
    prepared = copy.deepcopy(model).eval()
    for parameter in prepared.parameters():
        parameter.requires_grad_(False)
    fold_batchnorm(prepared)
    if fuse:
        fuse_branches(prepared)
    inplace_activations(prepared)
    if memory_format == "channels_last":
        prepared.to(memory_format=torch.channels_last)
    return prepared


def inception_count(model: nn.Module) -> int:
    return sum(isinstance(m, Inception) for m in model.modules())
