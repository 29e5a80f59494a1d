"""Runtime ``nn.Module`` classes that kinds build when no torch module fits as is.

``Inception`` is the seed's block with its attribute names and functional ReLUs (the
``inception`` kind); ``Merge`` runs the branches of ``concat`` and ``add``; ``Dataflow``
runs a layer list that is not a plain chain (``from``, functional layers). It imports torch
at import time, so kinds import it only inside their builders, and the front end never.
"""

from __future__ import annotations

import warnings
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NamedTuple, NoReturn

import torch
import torch.nn.functional as F
from torch import nn


class Inception(nn.Module):
    """d2l's Inception block with the seed's attribute names, so its state_dict loads."""

    def __init__(
        self,
        p1_1: nn.Module,
        p2_1: nn.Module,
        p2_2: nn.Module,
        p3_1: nn.Module,
        p3_2: nn.Module,
        p4_1: nn.Module,
        p4_2: nn.Module,
    ) -> None:
        super().__init__()
        self.p1_1 = p1_1
        self.p2_1 = p2_1
        self.p2_2 = p2_2
        self.p3_1 = p3_1
        self.p3_2 = p3_2
        self.p4_1 = p4_1
        self.p4_2 = p4_2
        #: ReLU in place on the convolutions' fresh outputs (never on ``x``, which all four
        #: branches read). Off in the plain build; :func:`netspec.optimize.speed_up` sets it.
        self.inplace = False

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        inplace = self.inplace
        p1 = F.relu(self.p1_1(x), inplace=inplace)
        p2 = F.relu(self.p2_2(F.relu(self.p2_1(x), inplace=inplace)), inplace=inplace)
        p3 = F.relu(self.p3_2(F.relu(self.p3_1(x), inplace=inplace)), inplace=inplace)
        p4 = F.relu(self.p4_2(self.p4_1(x)), inplace=inplace)
        return torch.cat((p1, p2, p3, p4), dim=1)


class Merge(nn.Sequential):
    """Parallel branches from one input, merged by ``torch.cat`` on channels or by a sum.

    The branch layers are this module's own children, in branch order, under the names
    the spec gave them — so a ``concat`` written like the seed's Inception has its
    state_dict keys (``p1_1.weight``...). Which child starts and which ends a branch is
    kept in two lists, and identity branches are the input itself. Subclassing
    ``nn.Sequential`` keeps it scriptable: TorchScript unrolls ``for m in self``.
    """

    def __init__(
        self,
        modules: list[tuple[str, nn.Module]],
        starts: list[bool],
        ends: list[int],
        branches: int,
        add: bool,
    ) -> None:
        super().__init__(OrderedDict(modules))
        #: ``starts[i]``: child i is the first layer of its branch (it reads the input).
        self.starts = starts
        #: ``ends[i]``: the branch whose output child i is, or -1 if it is not the last.
        self.ends = ends
        self.branches = branches
        self.is_sum = add

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        outs: list[torch.Tensor] = [x for _ in range(self.branches)]
        y = x
        for i, module in enumerate(self):
            if self.starts[i]:
                y = x
            y = module(y)
            if self.ends[i] >= 0:
                outs[self.ends[i]] = y
        if self.is_sum:
            total = outs[0]
            for out in outs[1:]:
                total = total + out
            return total
        return torch.cat(outs, 1)

    def extra_repr(self) -> str:
        return f"{'add' if self.is_sum else 'concat'} of {self.branches} branches"


class Step(NamedTuple):
    """One step of a :class:`Dataflow`'s program: plain data, so the module deep-copies,
    pickles and prints.

    A module step calls the child ``name`` on the value ``inputs[0]``; a functional step
    (``kind`` set) calls that kind's functional form on all of its ``inputs`` with the
    layer's arguments (``name`` is then its label, possibly empty).
    """

    name: str
    #: Values read: 0 is the Dataflow's input, i the output of step i (1-based).
    inputs: tuple[int, ...]
    kind: str = ""
    apply: Callable[[list[torch.Tensor], Any, nn.Module], torch.Tensor] | None = None
    args: Any = None


class Dataflow(nn.Module):
    """A layer list that is not a plain chain, run as written: netspec's eager interpreter.

    Its children are the list's module layers, registered in written order under their
    names, so ``state_dict``, ``named_modules`` and ``get_submodule`` are those of the
    hand-written module (torchvision's ``Bottleneck``: ``conv1 … bn3, downsample``). Its
    program is a tuple of :class:`Step`: ``forward`` keeps the values in a list (0 is the
    input), runs each step on the values it reads and drops every value after its last
    use, so it holds no more memory than a hand-written forward.

    The program is data, never generated code: ``torch.fx``'s code generator would paste
    module names into Python source, and a spec's names are input. TorchScript cannot
    compile an interpreter, so the TorchScript format records it with :meth:`traced` for
    its compiled input shape; ``torch.export`` and ONNX trace the eager code directly.
    """

    def __init__(
        self,
        modules: list[tuple[str, nn.Module]],
        steps: list[Step],
        output: int,
        in_shape: tuple[int, ...],
        parameters: list[tuple[str, nn.Parameter]] = (),  # type: ignore[assignment]
    ) -> None:
        super().__init__()
        for name, module in modules:
            self.add_module(name, module)
        for name, parameter in parameters:
            self.register_parameter(name, parameter)
        last_use = {value: 0 for value in range(len(steps) + 1)}
        for number, step in enumerate(steps, 1):
            for value in step.inputs:
                last_use[value] = number
        last_use[output] = len(steps) + 1
        released = [
            tuple(v for v in range(number) if last_use[v] == number)
            for number in range(len(steps) + 1)
        ]
        self._netspec_steps = tuple(steps)
        #: Values no step needs after step i (index i - 1): dropped right after it ran.
        self._netspec_release = tuple(released[1:])
        self._netspec_output = output
        #: The compiled input shape of one sample (for tracing).
        self._netspec_in_shape = tuple(in_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        values: list[torch.Tensor | None] = [x]
        modules = self._modules
        for step, release in zip(self._netspec_steps, self._netspec_release, strict=True):
            if step.apply is None:
                values.append(modules[step.name](values[step.inputs[0]]))
            else:
                values.append(step.apply([values[i] for i in step.inputs], step.args, self))
            for value in release:
                values[value] = None
        return values[self._netspec_output]  # type: ignore[return-value]

    def extra_repr(self) -> str:
        lines = []
        for number, step in enumerate(self._netspec_steps, 1):
            reads = ", ".join(str(i) for i in step.inputs)
            if step.apply is None:
                lines.append(f"{number} = {step.name}({reads})")
            else:
                label = f"{step.name}: " if step.name else ""
                lines.append(f"{number} = {label}{step.kind}({reads})")
        lines.append(f"output {self._netspec_output}")
        return "\n".join(lines)

    def traced(self) -> torch.jit.ScriptModule:
        """This module recorded by ``torch.jit.trace`` in eval mode for its input shape.

        The trace keeps every parameter name; dropout and stochastic depth are recorded as
        the identities they are in eval mode, which is what an inference artifact needs.
        """
        reference = next(self.parameters(), None)
        if reference is None:
            reference = next(self.buffers(), None)
        example = torch.zeros(
            (2, *self._netspec_in_shape),
            dtype=reference.dtype if reference is not None else torch.float32,
            device=reference.device if reference is not None else None,
        )
        modes = [(module, module.training) for module in self.modules()]
        self.eval()
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return torch.jit.trace(self, example, check_trace=False)
        finally:
            for module, training in modes:
                module.training = training

    def __prepare_scriptable__(self) -> NoReturn:
        """``torch.jit.script`` cannot compile an interpreter: say what can.

        (Returning the trace here would make torch replace this module by its eval-mode
        trace inside the caller's own model, silently.)
        """
        raise RuntimeError(
            "torch.jit.script cannot compile a netspec Dataflow module (a layer list with "
            "'from' or functional layers): use netspec.formats.torchscript.script(model), "
            "which traces these modules first (as 'netspec build' does), or torch.export"
        )


class LayerNorm2d(nn.LayerNorm):
    """Layer norm over the channels of an (N, C, H, W) tensor at each position.

    torchvision's ``convnext.LayerNorm2d``: the same parameters as ``nn.LayerNorm(C)``
    (``weight``, ``bias``), applied channels-last and permuted back, so its state_dict and
    outputs are torchvision's.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x.permute(0, 2, 3, 1)
        x = F.layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)
        return x.permute(0, 3, 1, 2)


class Permute(nn.Module):
    """``torch.permute`` as a module (as ``torchvision.ops.Permute``); ``dims`` include the
    batch dimension."""

    def __init__(self, dims: list[int]) -> None:
        super().__init__()
        self.dims = dims

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.permute(x, self.dims)

    def extra_repr(self) -> str:
        return f"dims={self.dims}"


class Scale(nn.Module):
    """A learnable scale per channel: ``weight * x`` (ConvNeXt's layer scale as a module)."""

    def __init__(self, shape: tuple[int, ...], init: float) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.full(shape, float(init)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.weight * x


def stochastic_depth(x: torch.Tensor, p: float, mode: str, training: bool) -> torch.Tensor:
    """torchvision's ``ops.stochastic_depth``: drop whole samples (``row``) or the whole batch
    (``batch``) with probability ``p`` while training, scaling the survivors by 1/(1 - p)."""
    if not training or p == 0.0:
        return x
    survival = 1.0 - p
    size = [x.shape[0]] + [1] * (x.ndim - 1) if mode == "row" else [1] * x.ndim
    noise = torch.empty(size, dtype=x.dtype, device=x.device).bernoulli_(survival)
    if survival > 0.0:
        noise.div_(survival)
    return x * noise


class StochasticDepth(nn.Module):
    """:func:`stochastic_depth` as a module (torchvision's ``ops.StochasticDepth``)."""

    def __init__(self, p: float, mode: str) -> None:
        super().__init__()
        self.p = p
        self.mode = mode

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return stochastic_depth(x, self.p, self.mode, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}, mode={self.mode}"


def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """torchvision's ``shufflenetv2.channel_shuffle``: interleave the channels of ``groups``
    equal groups (views, a transpose and a copy)."""
    batch, channels, height, width = x.size()
    x = x.view(batch, groups, channels // groups, height, width)
    x = torch.transpose(x, 1, 2).contiguous()
    return x.view(batch, channels, height, width)
