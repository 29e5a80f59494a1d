"""One training run, start to finish: the part of ``netspec train`` that is not argument parsing.

It takes a compiled spec (anything shaped like :class:`SpecLike`), a resolved recipe and
run options; loads the data, builds and initialises the network, restores a checkpoint
when resuming, trains, and after every epoch prints the seed's line and (on rank 0)
rewrites the run directory. Keeping it apart from the CLI lets tests drive it with a
hand-built module and interrupt it at an exact epoch.

Reproducibility rules, which make ``--resume`` land on the same weights as an
uninterrupted run: the weights are drawn right after ``manual_seed(recipe.seed)``; the
shuffle order of epoch *e* depends only on ``(seed, e)``; the RNG that dropout draws from
is seeded once per rank and its state is saved in every checkpoint and restored on resume.
"""

from __future__ import annotations

import contextlib
import datetime
import os
import platform
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

import torch
from torch import nn

from netspec.atomic import atomic_link_or_copy, signals_deferred
from netspec.data import NUM_CLASSES, Batches, FashionMNIST, derive_seed, load_fashion_mnist
from netspec.errors import NetspecError
from netspec.optimize import compile_model, prefers_channels_last
from netspec.preprocessing import Preprocessing
from netspec.recipe import TrainRecipe
from netspec.train import rundir
from netspec.train.checkpoint import load_checkpoint, make_checkpoint, save_checkpoint
from netspec.train.distributed import Distributed, setup, training_device
from netspec.train.errors import TrainingError, TrainUsageError
from netspec.train.loop import (
    Accuracy,
    EpochCallback,
    EpochMetrics,
    TrainState,
    evaluate,
    fit,
    initialize_weights,
    make_optimizer,
)
from netspec.train.plot import write_curves
from netspec.train.progress import Progress, progress_wanted
from netspec.weights import load_weights

T = TypeVar("T")


class SpecLike(Protocol):
    """What training needs from a compiled spec (``netspec.spec.Spec``, as netspec.load gives)."""

    name: str
    input_shape: tuple[int, ...]
    params: Mapping[str, int | float]
    source_text: str
    path: str | None

    def build(self, seed: int | None = None) -> nn.Module: ...


@dataclass
class RunOptions:
    """Everything about a run that is not a hyper-parameter: where, on what, how to report."""

    data_dir: str | os.PathLike[str] | None = None
    out: str | os.PathLike[str] | None = None
    resume: str | os.PathLike[str] | None = None
    device: str = "auto"
    channels_last: str = "auto"
    #: torch.compile the training model (opt-in: compiling costs seconds up front, and fused
    #: kernels round differently, so a compiled run is not bit-identical to an eager one).
    compile: bool = False
    progress: bool | None = None
    download: bool = True
    #: ``--force``: use ``out`` even when it holds another run or files that are not a run.
    force: bool = False
    command: list[str] = field(default_factory=lambda: list(sys.argv))


@dataclass
class RunResult:
    run_dir: Path | None
    state: TrainState
    seconds: float
    interrupted: bool = False


def image_size_for(spec: SpecLike, recipe: TrainRecipe) -> tuple[int, int]:
    """The size batches are resized to: the spec's input H, W (which ``resize`` must agree with).

    The compiler checked every layer's shape for the spec's input size; training at
    another size would bypass that check, so a disagreeing ``resize`` is refused.
    """
    if len(spec.input_shape) != 3:
        raise TrainUsageError(
            f"spec '{spec.name}' takes input of shape {tuple(spec.input_shape)}; training on "
            f"Fashion-MNIST needs an image input (channels, height, width)"
        )
    channels, height, width = spec.input_shape
    if channels != 1:
        raise TrainUsageError(
            f"spec '{spec.name}' expects {channels}-channel images; Fashion-MNIST images have 1"
        )
    if recipe.resize is not None and (recipe.resize, recipe.resize) != (height, width):
        raise TrainUsageError(
            f"resize {recipe.resize} does not match the input of spec '{spec.name}' "
            f"({height}x{width}); change the spec's input size or drop the resize"
        )
    return (height, width)


def check_output(model: nn.Module, image_size: tuple[int, int], spec_name: str) -> None:
    """Fail with one line, before any data is touched, if the network does not emit 10 scores."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            scores = model(torch.zeros(2, 1, *image_size))
    finally:
        model.train(was_training)
    if tuple(scores.shape) != (2, NUM_CLASSES):
        raise TrainUsageError(
            f"spec '{spec_name}' outputs shape {tuple(scores.shape[1:])} per image; "
            f"Fashion-MNIST training needs {NUM_CLASSES} class scores"
        )


def wants_channels_last(request: str, device: torch.device, model: nn.Module) -> bool:
    """``--channels-last on|off`` as asked; ``auto`` follows :func:`prefers_channels_last`."""
    if request in ("on", "off"):
        return request == "on"
    return prefers_channels_last(model, device)


def run_training(
    spec: SpecLike,
    recipe: TrainRecipe,
    options: RunOptions,
    *,
    echo: Callable[[str], None] = print,
    on_epoch_end: EpochCallback | None = None,
) -> RunResult:
    """Train ``spec`` with ``recipe``; joins a torchrun process group when there is one."""
    dist, device = setup(options.device)
    try:
        return _run(spec, recipe, options, dist, device, echo, on_epoch_end)
    finally:
        dist.close()


def _run(
    spec: SpecLike,
    recipe: TrainRecipe,
    options: RunOptions,
    dist: Distributed,
    device: torch.device,
    echo: Callable[[str], None],
    user_callback: EpochCallback | None,
) -> RunResult:
    image_size = image_size_for(spec, recipe)
    if options.resume is not None:
        rundir.read_run_info(options.resume).require_spec(spec.source_text, spec.path)
    data = _load_data(options, dist)

    torch.manual_seed(recipe.seed)
    model = spec.build(seed=recipe.seed)
    initialize_weights(model, recipe.init)
    check_output(model, image_size, spec.name)
    channels_last = wants_channels_last(options.channels_last, device, model)
    model.to(device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
    optimizer = make_optimizer(model, recipe)

    state = TrainState()
    if options.resume is not None:
        state = _restore(Path(options.resume), model, optimizer, dist, device)
    else:
        torch.manual_seed(derive_seed(recipe.seed, "train", dist.rank))

    run_dir = Path(
        _on_main(
            dist,
            lambda: str(
                _prepare_run_dir(
                    spec, recipe, options, data, image_size, device, dist, channels_last
                )
            ),
        )
    )
    if state.epochs_done >= recipe.epochs:
        if dist.is_main:
            echo(
                f"{run_dir}: already trained for {state.epochs_done} epochs; nothing to do "
                f"(give a larger --epochs to train further)"
            )
        return RunResult(run_dir, state, 0.0)

    train_model = _training_model(model, device, dist, options.compile)
    train_batches, test_batches = _batches(data, recipe, spec, device, dist, channels_last)
    show_progress = options.progress if options.progress is not None else progress_wanted()

    after_epoch = _EpochEnd(
        run_dir, spec, recipe, model, optimizer, dist, device, echo,
        saved_epochs=state.epochs_done, user_callback=user_callback,
    )  # fmt: skip
    first_epoch = state.epochs_done + 1
    started = time.time()
    try:
        fit(
            train_model,
            optimizer,
            train_batches,
            test_batches,
            epochs=recipe.epochs,
            state=state,
            device=device,
            num_classes=NUM_CLASSES,
            amp=recipe.amp,
            dist=dist,
            progress=Progress() if show_progress and dist.is_main else None,
            on_epoch_end=after_epoch,
            eval_model=model,
        )
    except KeyboardInterrupt:
        if dist.is_main:
            echo(_interrupted_line(after_epoch.saved_epochs, run_dir))
        return RunResult(run_dir, state, time.time() - started, interrupted=True)
    seconds = time.time() - started
    if dist.is_main:
        echo(
            _summary_line(
                state, first_epoch, seconds, len(data.train_labels), device, dist, run_dir
            )
        )
    return RunResult(run_dir, state, seconds)


@dataclass
class _EpochEnd:
    """What happens after every epoch: the line, and on rank 0 the run directory's files.

    ``saved_epochs`` is what last.pt holds — what ``--resume`` would continue from — so an
    interruption can say so.
    """

    run_dir: Path
    spec: SpecLike
    recipe: TrainRecipe
    model: nn.Module
    optimizer: torch.optim.Optimizer
    dist: Distributed
    device: torch.device
    echo: Callable[[str], None]
    saved_epochs: int = 0
    user_callback: EpochCallback | None = None

    def __call__(self, metrics: EpochMetrics, state: TrainState, improved: bool) -> None:
        rng_states = self.dist.gather(_rng_state(self.device))  # a collective: all ranks
        if self.dist.is_main:
            # Protected from the line on: a Ctrl-C prompted by it must find the epoch saved.
            with defer_keyboard_interrupt():
                self.echo(metrics.line())
                _write_epoch(
                    self.run_dir, self.spec, self.recipe, self.model, self.optimizer, state,
                    improved, rng_states,
                )  # fmt: skip
                self.saved_epochs = state.epochs_done
        if self.user_callback is not None:
            self.user_callback(metrics, state, improved)


def _training_model(
    model: nn.Module, device: torch.device, dist: Distributed, compile: bool
) -> nn.Module:
    """What the training steps run: ``model``, wrapped for DDP and compiled when asked.

    Only the training forward/backward is wrapped; checkpoints and evaluation use the
    original module, whose state_dict keys are the spec's.
    """
    train_model = model
    if dist.enabled:
        device_ids = [device.index] if device.type == "cuda" else None
        train_model = nn.parallel.DistributedDataParallel(model, device_ids=device_ids)
    return compile_model(train_model) if compile else train_model


def _interrupted_line(saved_epochs: int, run_dir: Path) -> str:
    if saved_epochs:
        return (
            f"interrupted after epoch {saved_epochs}; continue with: "
            f"netspec train --resume {run_dir}"
        )
    return f"interrupted before the first epoch ended; {run_dir} holds nothing to resume"


def _batches(
    data: FashionMNIST,
    recipe: TrainRecipe,
    spec: SpecLike,
    device: torch.device,
    dist: Distributed,
    channels_last: bool,
) -> tuple[Batches, Batches]:
    """This rank's training batches (shuffled, shards padded to equal length) and test batches."""
    shared = {
        "batch_size": recipe.batch_size,
        "preprocessing": Preprocessing.for_input(spec.input_shape),
        "device": device,
        "rank": dist.rank,
        "world_size": dist.world_size,
        "channels_last": channels_last,
    }
    train = Batches(
        data.train_images, data.train_labels, shuffle=True, seed=recipe.seed, pad_shards=True,
        **shared,  # type: ignore[arg-type]
    )  # fmt: skip
    test = Batches(data.test_images, data.test_labels, shuffle=False, **shared)  # type: ignore[arg-type]
    return train, test


def _summary_line(
    state: TrainState,
    first_epoch: int,
    seconds: float,
    samples_per_epoch: int,
    device: torch.device,
    dist: Distributed,
    run_dir: Path,
) -> str:
    """The run's last line: epochs, time, throughput, final and best test accuracy."""
    images = (state.epochs_done - first_epoch + 1) * samples_per_epoch
    processes = f" x {dist.world_size} processes" if dist.enabled else ""
    return (
        f"trained epochs {first_epoch}-{state.epochs_done} in {seconds:.1f} sec "
        f"({images / seconds:.0f} images/sec on {device}{processes}); "
        f"final test acc {state.history[-1].test_acc:.3f}, best {state.best_test_acc:.3f} "
        f"at epoch {state.best_epoch}; run directory {run_dir}"
    )


def evaluate_weights(
    spec: SpecLike,
    weights: str | os.PathLike[str],
    *,
    data_dir: str | os.PathLike[str] | None = None,
    device: str = "auto",
    batch_size: int = 256,
    amp: str = "none",
    download: bool = True,
) -> Accuracy:
    """Test-set accuracy, overall and per class, of ``spec``'s network with trained weights."""
    torch_device = training_device(device)
    image_size = image_size_for(spec, TrainRecipe())
    model = spec.build(seed=0)
    load_weights(model, weights)
    check_output(model, image_size, spec.name)
    model.to(torch_device)
    data = load_fashion_mnist(data_dir, download=download, with_train=False)
    batches = Batches(
        data.test_images,
        data.test_labels,
        batch_size=batch_size,
        preprocessing=Preprocessing.for_input(spec.input_shape),
        device=torch_device,
        shuffle=False,
    )
    return evaluate(model, batches, num_classes=NUM_CLASSES, device=torch_device, amp=amp)


@contextlib.contextmanager
def defer_keyboard_interrupt() -> Iterator[None]:
    """Hold back Ctrl-C (and SIGTERM and SIGHUP, under the CLI) until the block is done,
    then raise it.

    Writing an epoch's files takes from milliseconds (LeNet) to seconds (AlexNet's
    checkpoints); a Ctrl-C in the middle would leave last.pt at the previous epoch while
    the user was just told the epoch finished (:func:`netspec.atomic.signals_deferred`).
    """
    with signals_deferred():
        yield


def _on_main(dist: Distributed, action: Callable[[], T]) -> T:
    """Run ``action`` on rank 0 and hand its result (or its error) to every rank.

    Without this, a mistake found by rank 0 alone (an existing ``--out``, say) would leave
    the other ranks waiting for it forever at the next collective.
    """
    result: Any = None
    error: NetspecError | None = None
    if dist.is_main:
        try:
            result = action()
        except NetspecError as exc:
            error = exc
        except Exception as exc:
            dist.broadcast((None, TrainingError(f"rank 0 failed: {exc!r}")))
            raise
    result, error = dist.broadcast((result, error))
    if error is not None:
        raise error
    return result


def _load_data(options: RunOptions, dist: Distributed) -> FashionMNIST:
    """Rank 0 loads first (downloading if it must); the other ranks then read the files."""
    loaded: list[FashionMNIST] = []
    _on_main(
        dist,
        lambda: loaded.append(load_fashion_mnist(options.data_dir, download=options.download)),
    )
    if loaded:
        return loaded[0]
    return load_fashion_mnist(options.data_dir, download=False)


def _restore(
    run_dir: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    dist: Distributed,
    device: torch.device,
) -> TrainState:
    checkpoint = load_checkpoint(run_dir / rundir.LAST_CHECKPOINT)
    try:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
    except (RuntimeError, ValueError, KeyError, TypeError) as exc:
        first_line = str(exc).strip().splitlines()[0]
        raise TrainingError(
            f"{run_dir / rundir.LAST_CHECKPOINT}: does not fit the network of "
            f"{run_dir / rundir.SPEC_FILE} ({first_line})"
        ) from None
    rng_states = checkpoint["rng"]
    if len(rng_states) == dist.world_size:
        _set_rng_state(rng_states[dist.rank], device)
    else:
        # Another process count than before: the shards differ anyway, so exactness is moot;
        # seed deterministically per rank and carry on.
        torch.manual_seed(
            derive_seed(checkpoint["recipe"]["seed"], "resume", dist.rank, checkpoint["epoch"])
        )
    return TrainState(
        epochs_done=int(checkpoint["epoch"]),
        history=[EpochMetrics(**row) for row in checkpoint["history"]],
        best_test_acc=checkpoint["best_test_acc"],
    )


def _prepare_run_dir(
    spec: SpecLike,
    recipe: TrainRecipe,
    options: RunOptions,
    data: FashionMNIST,
    image_size: tuple[int, int],
    device: torch.device,
    dist: Distributed,
    channels_last: bool,
) -> Path:
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    if options.resume is not None:
        run_dir = Path(options.resume)
        info = rundir.read_run_info(run_dir).info
        info["recipe"] = recipe.model_dump()
        info.setdefault("resumed", []).append(
            {"at": now, "command": options.command, "device": str(device)}
        )
        rundir.write_run_info(
            run_dir, (run_dir / rundir.SPEC_FILE).read_text(encoding="utf-8"), info
        )
        return run_dir
    run_dir = rundir.new_run_dir(spec.name, options.out, force=options.force)
    info = {
        "spec": spec.name,
        "spec_path": str(spec.path) if spec.path else None,
        "params": dict(spec.params),
        "input_shape": list(spec.input_shape),
        "recipe": recipe.model_dump(),
        "image_size": list(image_size),
        "data_dir": str(data.source),
        "train_samples": len(data.train_labels),
        "test_samples": len(data.test_labels),
        "device": str(device),
        "world_size": dist.world_size,
        "channels_last": channels_last,
        "started": now,
        "command": options.command,
        "versions": {"python": platform.python_version(), "torch": torch.__version__},
    }
    rundir.write_run_info(run_dir, spec.source_text, info)
    return run_dir


def _write_epoch(
    run_dir: Path,
    spec: SpecLike,
    recipe: TrainRecipe,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    state: TrainState,
    improved: bool,
    rng_states: list[dict[str, Any]],
) -> None:
    checkpoint = make_checkpoint(
        model_state=model.state_dict(),
        optimizer_state=optimizer.state_dict(),
        epoch=state.epochs_done,
        rng_states=rng_states,
        recipe=recipe.model_dump(),
        history=[row.as_dict() for row in state.history],
        best_test_acc=state.best_test_acc,
        spec_name=spec.name,
    )
    save_checkpoint(run_dir / rundir.LAST_CHECKPOINT, checkpoint)
    if improved:
        atomic_link_or_copy(run_dir / rundir.LAST_CHECKPOINT, run_dir / rundir.BEST_CHECKPOINT)
    rundir.write_metrics_csv(run_dir / rundir.METRICS_FILE, state.history)
    write_curves(
        run_dir / rundir.CURVES_FILE, state.history, total_epochs=recipe.epochs, title=spec.name
    )


def _rng_state(device: torch.device) -> dict[str, Any]:
    state: dict[str, Any] = {"cpu": torch.get_rng_state()}
    if device.type == "cuda":
        state["cuda"] = torch.cuda.get_rng_state(device)
    return state


def _set_rng_state(state: Mapping[str, Any], device: torch.device) -> None:
    torch.set_rng_state(state["cpu"])
    if device.type == "cuda" and "cuda" in state:
        torch.cuda.set_rng_state(state["cuda"], device)
