"""Runtime ``nn.Module`` classes that kinds build when no torch module fits as is.

``Inception`` is the seed's block with its attribute names and functional ReLUs (the
``inception`` kind); ``Merge`` runs the branches of ``concat`` and ``add``. It imports torch
at import time, so kinds import it only inside their builders, and the front end never.
"""

from __future__ import annotations

from collections import OrderedDict

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
