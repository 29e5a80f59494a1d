"""Runtime ``nn.Module`` classes that blocks build when no torch module fits as is.

This is the only module besides ``build``/``export`` that imports torch at import time;
blocks import it from inside their builders.
"""

from __future__ import annotations

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

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        p1 = F.relu(self.p1_1(x))
        p2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
        p3 = F.relu(self.p3_2(F.relu(self.p3_1(x))))
        p4 = F.relu(self.p4_2(self.p4_1(x)))
        return torch.cat((p1, p2, p3, p4), dim=1)
