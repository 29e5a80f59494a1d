"""A deterministic fill for torchvision models, shared by the block and the parity tests.

Default initialisation hides mistakes: batch norms start as the identity (weight 1, bias 0,
running mean 0, variance 1), so a wrong ``eps``, a swapped branch or a missing activation
can leave the outputs unchanged, and ConvNeXt's ``layer_scale`` of 1e-6 hides its whole
residual branch. This fill randomises all of them, and keeps outputs O(1) at any depth.
"""

from __future__ import annotations

import torch
from torch import nn


def randomise(module: nn.Module, seed: int = 0) -> None:
    """Random weights, batch-norm statistics and layer scales, bounded so outputs stay O(1).

    Conv and linear weights are U(±√(3/fan_in)) (variance preserving); 1-D weights (batch
    and layer norms), running variances and layer scales U(0.5, 1.5); biases and running
    means U(±0.1). Integer buffers (``num_batches_tracked``) are left as they are.
    """
    generator = torch.Generator().manual_seed(seed)

    def uniform(tensor: torch.Tensor, low: float, high: float) -> None:
        tensor.uniform_(low, high, generator=generator)  # in place: no temporary copies

    with torch.no_grad():
        for name, tensor in module.state_dict().items():
            if not tensor.is_floating_point():
                continue
            if name.endswith(("running_var", "layer_scale")) or (
                name.endswith("weight") and tensor.dim() == 1
            ):
                uniform(tensor, 0.5, 1.5)
            elif tensor.dim() > 1:
                bound = (3 / tensor[0].numel()) ** 0.5
                uniform(tensor, -bound, bound)
            else:
                uniform(tensor, -0.1, 0.1)
