"""The training loop: the seed's ``train_ch5``, with its numbers, minus its stalls.

What is kept from the seed, so results and printed numbers compare one to one: mean
cross-entropy per batch, ``zero_grad/backward/step``, the epoch's loss is the mean of the
batch losses, train accuracy counts argmax hits over all samples, test accuracy is taken
in ``eval()`` mode without gradients after every epoch, and the epoch line has the seed's
format. What changes: loss and hit counts are summed on the device and read once per
epoch (the seed's two ``.item()`` calls per batch force a GPU sync each step), batches
come from :class:`netspec.data.Batches`, and with several processes the sums are
all-reduced so every rank reports the global numbers.

What a recipe adds to a step (:class:`StepRules`): the learning rate of every step from
the schedule (a pure function of the step number, so a resumed run continues exactly),
label smoothing, gradient clipping, fp16 autocast with a gradient scaler, and frozen
parameters (:class:`netspec.train.finetune.Freeze`).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from typing import Protocol

import torch
import torch.nn.functional as F
from torch import nn

from netspec.recipe import TrainRecipe, lr_factor
from netspec.train.distributed import Distributed
from netspec.train.progress import Progress

EPOCH_LINE = "epoch %d, loss %.4f, train acc %.3f, test acc %.3f, time %.1f sec"
"""The seed's per-epoch line, verbatim."""


@dataclass(frozen=True)
class EpochMetrics:
    """One row of ``metrics.csv``; ``epoch`` is 1-based as printed."""

    epoch: int
    loss: float
    train_acc: float
    test_acc: float
    time_sec: float

    def line(self) -> str:
        return EPOCH_LINE % (self.epoch, self.loss, self.train_acc, self.test_acc, self.time_sec)

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


@dataclass
class TrainState:
    """Progress of a run beyond the weights: what a checkpoint needs to continue it."""

    epochs_done: int = 0
    history: list[EpochMetrics] = field(default_factory=list)
    best_test_acc: float | None = None

    @property
    def best_epoch(self) -> int | None:
        """The first epoch that reached the best test accuracy (the one in ``best.pt``)."""
        if not self.history:
            return None
        return max(self.history, key=lambda row: (row.test_acc, -row.epoch)).epoch


@dataclass(frozen=True)
class Accuracy:
    """Per-class hit and sample counts; overall and per-class accuracy derive from them."""

    correct: torch.Tensor  # int64 (num_classes,)
    total: torch.Tensor  # int64 (num_classes,)
    #: The class names, in label order, when the caller knows them.
    classes: tuple[str, ...] = ()

    @property
    def overall(self) -> float:
        count = int(self.total.sum())
        return int(self.correct.sum()) / count if count else math.nan


_INITIALIZERS: dict[str, Callable[[torch.Tensor], object]] = {
    "xavier_uniform": nn.init.xavier_uniform_,
    "xavier_normal": nn.init.xavier_normal_,
    "kaiming_uniform": lambda weight: nn.init.kaiming_uniform_(weight, nonlinearity="relu"),
    "kaiming_normal": lambda weight: nn.init.kaiming_normal_(weight, nonlinearity="relu"),
}


def initialize_weights(model: nn.Module, scheme: str) -> None:
    """Re-initialise the weights of every Linear and Conv layer with ``scheme``.

    Like d2l's ``init_weights`` (which the LeNet recipe uses), only weights change and
    biases keep PyTorch's default. ``default`` leaves the model untouched.
    """
    if scheme == "default":
        return
    initializer = _INITIALIZERS[scheme]
    layer_types = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, layer_types):
                initializer(module.weight)


def make_optimizer(
    model: nn.Module, recipe: TrainRecipe, frozen: Iterable[nn.Parameter] = ()
) -> torch.optim.Optimizer:
    """The recipe's optimizer; ``frozen`` parameters form a second group at ``frozen_lr``.

    Frozen parameters are in the optimizer from the start (so its state's layout never
    changes when they are unfrozen) but have no gradient while frozen, and every
    optimizer here leaves a parameter without a gradient untouched — weight decay
    included. Each group remembers its ``base_lr`` for the schedule.
    """
    frozen_ids = {id(p) for p in frozen}
    trained = [p for p in model.parameters() if id(p) not in frozen_ids]
    held = [p for p in model.parameters() if id(p) in frozen_ids]
    groups = [{"params": trained, "lr": recipe.lr, "base_lr": recipe.lr}]
    if held:
        groups.append({"params": held, "lr": recipe.frozen_lr, "base_lr": recipe.frozen_lr})
    if recipe.optimizer == "sgd":
        return torch.optim.SGD(
            groups, lr=recipe.lr, momentum=recipe.momentum, nesterov=recipe.nesterov,
            weight_decay=recipe.weight_decay,
        )  # fmt: skip
    optimizer_class = torch.optim.AdamW if recipe.optimizer == "adamw" else torch.optim.Adam
    return optimizer_class(groups, lr=recipe.lr, weight_decay=recipe.weight_decay)


def autocast(device: torch.device, amp: str) -> contextlib.AbstractContextManager[object]:
    """bf16 or fp16 autocast when asked for (fp16 needs a gradient scaler: :class:`StepRules`)."""
    if amp in ("bf16", "fp16"):
        dtype = torch.bfloat16 if amp == "bf16" else torch.float16
        return torch.autocast(device_type=device.type, dtype=dtype)
    return contextlib.nullcontext()


class FrozenParts(Protocol):
    """What the loop needs from :class:`netspec.train.finetune.Freeze`."""

    def set_epoch(self, epoch_index: int) -> None: ...

    def after_train_mode(self) -> None: ...


@dataclass
class StepRules:
    """What a recipe adds to ``zero_grad/backward/step``; the defaults add nothing."""

    recipe: TrainRecipe | None = None
    steps_per_epoch: int = 0
    #: fp16's gradient scaler (CUDA); None otherwise.
    scaler: torch.amp.GradScaler | None = None
    frozen: FrozenParts | None = None

    @property
    def label_smoothing(self) -> float:
        return self.recipe.label_smoothing if self.recipe is not None else 0.0

    def set_lr(self, optimizer: torch.optim.Optimizer, step: int) -> None:
        """Every group's learning rate at global step ``step`` (0-based), from the schedule."""
        if self.recipe is None or (
            self.recipe.schedule == "none" and not self.recipe.warmup_epochs
        ):
            return
        factor = lr_factor(self.recipe, step, self.steps_per_epoch)
        for group in optimizer.param_groups:
            group["lr"] = group["base_lr"] * factor

    def step(self, model: nn.Module, optimizer: torch.optim.Optimizer, loss: torch.Tensor) -> None:
        """Backward and step, with the scaler and gradient clipping when the recipe has them."""
        clip = self.recipe.clip_grad_norm if self.recipe is not None else None
        if self.scaler is None:
            loss.backward()
            if clip is not None:
                _clip(model, clip)
            optimizer.step()
            return
        self.scaler.scale(loss).backward()
        if clip is not None:
            self.scaler.unscale_(optimizer)
            _clip(model, clip)
        self.scaler.step(optimizer)
        self.scaler.update()


def _clip(model: nn.Module, max_norm: float) -> None:
    parameters = [p for p in model.parameters() if p.grad is not None]
    torch.nn.utils.clip_grad_norm_(parameters, max_norm)


def _accumulator_dtype(device: torch.device) -> torch.dtype:
    # float64 sums match the seed's Python-float sums; MPS has no float64.
    return torch.float32 if device.type == "mps" else torch.float64


def train_epoch(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    device: torch.device,
    amp: str = "none",
    dist: Distributed | None = None,
    progress: Progress | None = None,
    num_batches: int | None = None,
    rules: StepRules | None = None,
    epoch_index: int = 0,
) -> tuple[float, float]:
    """One pass over ``batches``; returns (mean batch loss, train accuracy), global over ranks.

    ``rules`` add the recipe's schedule, label smoothing, clipping, scaler and frozen
    parts; ``epoch_index`` places the epoch's steps on the schedule.
    """
    rules = rules or StepRules()
    model.train()
    if rules.frozen is not None:
        rules.frozen.after_train_mode()
    acc_dtype = _accumulator_dtype(device)
    loss_sum = torch.zeros((), dtype=acc_dtype, device=device)
    correct = torch.zeros((), dtype=torch.int64, device=device)
    samples = batch_count = 0
    first_step = epoch_index * rules.steps_per_epoch
    for images, labels in batches:
        rules.set_lr(optimizer, first_step + batch_count)
        with autocast(device, amp):
            logits = model(images)
        loss = F.cross_entropy(logits.float(), labels, label_smoothing=rules.label_smoothing)
        optimizer.zero_grad(set_to_none=True)
        rules.step(model, optimizer, loss)
        loss_sum += loss.detach().to(acc_dtype)
        correct += (logits.detach().argmax(dim=1) == labels).sum()
        samples += labels.shape[0]
        batch_count += 1
        if progress is not None:
            progress.update(batch_count, num_batches, loss_sum, batch_count)
        if num_batches is not None and batch_count >= num_batches:
            break
    totals = torch.stack(
        [
            loss_sum.to(torch.float64).cpu(),
            torch.tensor(float(batch_count), dtype=torch.float64),
            correct.to(torch.float64).cpu(),
            torch.tensor(float(samples), dtype=torch.float64),
        ]
    )
    if dist is not None:
        totals = dist.all_reduce_sum(totals)
    loss_total, batch_total, correct_total, sample_total = totals.tolist()
    return loss_total / max(batch_total, 1.0), correct_total / max(sample_total, 1.0)


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    *,
    num_classes: int,
    device: torch.device,
    amp: str = "none",
    dist: Distributed | None = None,
) -> Accuracy:
    """Per-class accuracy of ``model`` in eval mode, summed over ranks; restores train mode."""
    was_training = model.training
    model.eval()
    correct = torch.zeros(num_classes, dtype=torch.int64, device=device)
    total = torch.zeros(num_classes, dtype=torch.int64, device=device)
    try:
        for images, labels in batches:
            with autocast(device, amp):
                predictions = model(images).argmax(dim=1)
            total += torch.bincount(labels, minlength=num_classes)
            correct += torch.bincount(labels[predictions == labels], minlength=num_classes)
    finally:
        model.train(was_training)
    counts = torch.stack([correct, total]).cpu()
    if dist is not None:
        counts = dist.all_reduce_sum(counts)
    return Accuracy(correct=counts[0], total=counts[1])


EpochCallback = Callable[[EpochMetrics, TrainState, bool], None]
"""Called after every epoch with its metrics, the updated state and whether it set a new best."""


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    train_batches: object,
    test_batches: object,
    *,
    epochs: int,
    state: TrainState,
    device: torch.device,
    num_classes: int,
    amp: str = "none",
    dist: Distributed | None = None,
    progress: Progress | None = None,
    on_epoch_end: EpochCallback | None = None,
    eval_model: nn.Module | None = None,
    rules: StepRules | None = None,
) -> TrainState:
    """Train from ``state.epochs_done`` up to ``epochs``, calling ``on_epoch_end`` after each.

    ``train_batches``/``test_batches`` are :class:`netspec.data.Batches` (anything with
    ``set_epoch``, ``__len__`` and ``__iter__``). ``eval_model`` is the unwrapped module
    when ``model`` is a DistributedDataParallel wrapper: evaluation needs no gradient
    synchronisation.
    """
    for epoch_index in range(state.epochs_done, epochs):
        start = time.time()
        train_batches.set_epoch(epoch_index)  # type: ignore[attr-defined]
        if rules is not None and rules.frozen is not None:
            rules.frozen.set_epoch(epoch_index)
        if progress is not None:
            progress.start(f"epoch {epoch_index + 1}/{epochs}")
        loss, train_acc = train_epoch(
            model,
            optimizer,
            train_batches,  # type: ignore[arg-type]
            device=device,
            amp=amp,
            dist=dist,
            progress=progress,
            num_batches=len(train_batches),  # type: ignore[arg-type]
            rules=rules,
            epoch_index=epoch_index,
        )
        if progress is not None:
            progress.finish()
        test_acc = evaluate(
            eval_model or model,
            test_batches,  # type: ignore[arg-type]
            num_classes=num_classes,
            device=device,
            amp=amp,
            dist=dist,
        ).overall
        metrics = EpochMetrics(epoch_index + 1, loss, train_acc, test_acc, time.time() - start)
        state.epochs_done = epoch_index + 1
        state.history.append(metrics)
        improved = state.best_test_acc is None or test_acc > state.best_test_acc
        if improved:
            state.best_test_acc = test_acc
        if on_epoch_end is not None:
            on_epoch_end(metrics, state, improved)
    return state
