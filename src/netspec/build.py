"""Stage 5 — turn a compiled node tree into a ``torch.nn.Module``.

The module tree mirrors the node tree one to one: every node becomes one module whose
attribute name is the node's name, so ``state_dict`` keys equal the summary's paths and a
hand-written model with the same structure loads with ``strict=True``.
"""

from __future__ import annotations

from typing import Protocol

import torch
from torch import nn

from .blocks.api import build_list
from .errors import BuildError
from .ir import Node
from .limits import ENV, parameters_too_large


class NodeTree(Protocol):
    """What building needs: the root of a compiled network (a ``CompiledSpec`` has it)."""

    root: Node


def build_node(node: Node) -> nn.Module:
    """Build one node (and, through its block's builder, its children).

    The compiler records on each node the block that builds it, because a user block's
    kind is not a built-in one (it builds as a sequence, or as the one layer it holds).
    """
    assert node.block is not None, node.kind
    module = node.block.build(node, build_node)
    assert isinstance(module, nn.Module)
    return module


def build_model(
    spec: NodeTree,
    seed: int | None = None,
    *,
    fast: bool = False,
    device: str | torch.device | None = None,
) -> nn.Module:
    """Build the network; with ``seed`` the initial weights are the same on every run.

    The top level is built like any layer list: an ``nn.Sequential`` of the spec's layers
    under their names, or a :class:`~netspec.modules.Dataflow` when they are wired.
    The random state is forked so that building a model does not disturb the caller's.
    ``device`` moves the model there. ``fast`` makes it faster on that device
    (:func:`netspec.optimize.speed_up`: in-place ReLUs, channels-last where it pays) without
    changing its module tree, state_dict keys or — beyond float rounding — its numbers;
    the plain build stays the seed's code, module for module. A network whose parameters
    would exceed the memory limit (:mod:`netspec.limits`) is refused before anything is
    allocated.
    """
    too_large = parameters_too_large(spec.root.params)
    if too_large is not None:
        raise BuildError(
            f"cannot build '{spec.root.name}': {too_large}",
            hint=f"{ENV} sets the limit (default: half of the physical memory), e.g. {ENV}=80%",
            code="NS501",
        )
    devices: list[int] = []
    with torch.random.fork_rng(devices=devices, enabled=seed is not None):
        if seed is not None:
            torch.manual_seed(seed)
        model = build_list(spec.root, build_node)
    if device is not None:
        model.to(device)
    if fast:
        from .optimize import speed_up

        speed_up(model, device=device)
    return model
