"""Fine-tuning: which parameters are frozen, and when they thaw.

The recipe's ``freeze:`` patterns (:mod:`netspec.patterns`) select parameters by name or
by a module path above them — ``features`` freezes ``features.0.weight`` and every other
parameter under ``features``; ``["*", "!fc"]`` freezes everything but ``fc``. Frozen
parameters get no gradient (``requires_grad`` off), so no optimizer — momentum and weight
decay included — changes them: they stay bit-identical. A batch-norm layer whose
parameters are all frozen is also kept in evaluation mode while frozen, so its running
statistics stay those of the weights it was given.

With ``unfreeze_epoch: N`` the frozen parameters train from epoch N on, at their own
learning rate (``unfrozen_lr``, default lr / 10): the optimizer holds them as a second
parameter group from the start. What is frozen at an epoch depends on the epoch alone,
so a resumed run freezes exactly as an uninterrupted one.
"""

from __future__ import annotations

from torch import nn

from netspec.patterns import parse_selection, selected
from netspec.recipe import TrainRecipe
from netspec.train.errors import TrainUsageError

_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


class Freeze:
    """The frozen parameters of ``model`` under ``recipe``, and switching them per epoch."""

    def __init__(self, model: nn.Module, recipe: TrainRecipe) -> None:
        patterns = parse_selection(recipe.freeze)
        self.names = [name for name, _ in model.named_parameters() if selected(name, patterns)]
        if recipe.freeze and not self.names:
            some = ", ".join(name for name, _ in list(model.named_parameters())[:4])
            raise TrainUsageError(
                f"freeze: {recipe.freeze} matches no parameter of the network (its "
                f"parameters are named like {some})"
            )
        everything = [name for name, _ in model.named_parameters()]
        if everything and len(self.names) == len(everything):
            raise TrainUsageError(
                f"freeze: {recipe.freeze} freezes every parameter of the network; leave "
                f"something to train (add a '!' pattern such as '!head')"
            )
        chosen = set(self.names)
        self.parameters = [p for name, p in model.named_parameters() if name in chosen]
        self.norms = [
            module
            for path, module in model.named_modules()
            if isinstance(module, _NORMS)
            and any(True for _ in module.parameters())
            and all(f"{path}.{n}" in chosen for n, _ in module.named_parameters())
        ]
        self.unfreeze_epoch = recipe.unfreeze_epoch
        self.frozen_now = False

    def frozen_at(self, epoch_index: int) -> bool:
        """Whether the parameters are frozen during epoch ``epoch_index`` (0-based)."""
        return bool(self.parameters) and (
            self.unfreeze_epoch is None or epoch_index + 1 < self.unfreeze_epoch
        )

    def set_epoch(self, epoch_index: int) -> None:
        self.frozen_now = self.frozen_at(epoch_index)
        for parameter in self.parameters:
            parameter.requires_grad_(not self.frozen_now)

    def after_train_mode(self) -> None:
        """Called after ``model.train()``: frozen batch norms keep their statistics."""
        if self.frozen_now:
            for module in self.norms:
                module.eval()
