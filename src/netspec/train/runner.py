"""One training run, start to finish: the part of ``netspec train`` that is not argument parsing.

It takes a compiled spec (anything shaped like :class:`SpecLike`), a resolved recipe and
run options; opens the dataset (:func:`netspec.datasets.open_dataset`) and checks it
against the spec, builds and initialises the network (``--init-from`` loads what fits and
prints what it did), restores a checkpoint when resuming, trains, and after every epoch
prints the seed's line and (on rank 0) rewrites the run directory. Everything that can
be wrong with the data, the weights or the flags is found before the run directory is
created, so a mistake leaves nothing behind. Keeping it apart from the CLI lets tests
drive it with a hand-built module and interrupt it at an exact epoch.

Reproducibility rules, which make ``--resume`` land on the same weights as an
uninterrupted run: the weights are drawn right after ``manual_seed(recipe.seed)``; the
shuffle order of epoch *e* depends only on ``(seed, e)``; the RNG that dropout draws from
is seeded once per rank and its state is saved in every checkpoint and restored on resume.
"""

from __future__ import annotations

import datetime
import os
import platform
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Protocol, TypeVar

import torch
from torch import nn

from netspec.atomic import atomic_link_or_copy, signals_deferred
from netspec.augment import TrainTransform
from netspec.data import Batches, derive_seed
from netspec.data_options import DataOptions
from netspec.datasets import Dataset, check_dataset_fits, open_dataset
from netspec.errors import NetspecError
from netspec.optimize import compile_model, prefers_channels_last
from netspec.patterns import PatternError, Rename
from netspec.preprocessing import Preprocessing
from netspec.recipe import TrainRecipe, recipe_record
from netspec.train import rundir
from netspec.train.checkpoint import load_checkpoint, make_checkpoint, save_checkpoint
from netspec.train.distributed import Distributed, setup, training_device
from netspec.train.errors import TrainingError, TrainUsageError
from netspec.train.finetune import Freeze
from netspec.train.loop import (
    Accuracy,
    EpochCallback,
    EpochMetrics,
    StepRules,
    TrainState,
    evaluate,
    fit,
    initialize_weights,
    make_optimizer,
)
from netspec.train.plot import write_curves
from netspec.train.progress import Progress, progress_wanted
from netspec.weights import InitReport, load_matching, load_weights, save_safetensors

T = TypeVar("T")


class SpecLike(Protocol):
    """What training needs from a compiled spec (``netspec.spec.Spec``, as netspec.load gives)."""

    name: str
    input_shape: tuple[int, ...]
    params: Mapping[str, int | float]
    source_text: str
    path: str | None

    def build(self, seed: int | None = None) -> nn.Module: ...


def preprocessing_of(spec: SpecLike) -> Preprocessing:
    """The spec's preprocessing (its ``preprocess:`` section), or the seed's for its input."""
    stated = getattr(spec, "preprocessing", None)
    return (
        stated if isinstance(stated, Preprocessing) else Preprocessing.for_input(spec.input_shape)
    )


@dataclass
class RunOptions:
    """Everything about a run that is not a hyper-parameter: where, on what, how to report."""

    #: The dataset folder and whether it may be downloaded, when ``data`` is not given
    #: (then the recipe's ``data:`` section applies, with this root).
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
    #: The dataset, fully resolved (``--data`` and friends over the recipe's ``data:``).
    data: DataOptions | None = None
    #: Weights to start from (loaded where names and shapes match), and key renames.
    init_from: str | os.PathLike[str] | None = None
    init_map: list[str] = field(default_factory=list)

    def data_options(self, recipe: TrainRecipe) -> DataOptions:
        if self.data is not None:
            return self.data
        root = str(self.data_dir) if self.data_dir is not None else None
        return DataOptions.from_section(recipe.data, root=root, download=self.download)


@dataclass
class TrainData:
    """The two splits a run uses."""

    train: Dataset
    test: Dataset

    @property
    def classes(self) -> tuple[str, ...]:
        return self.train.classes


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
            f"images needs an image input (channels, height, width)"
        )
    _, height, width = spec.input_shape
    if recipe.resize is not None and (recipe.resize, recipe.resize) != (height, width):
        raise TrainUsageError(
            f"resize {recipe.resize} does not match the input of spec '{spec.name}' "
            f"({height}x{width}); change the spec's input size or drop the resize"
        )
    return (height, width)


def check_data(spec: SpecLike, data: TrainData) -> None:
    """One line, before the first step, when the data cannot feed the spec's input."""
    for dataset in (data.train, data.test):
        check_dataset_fits(dataset, spec.input_shape, spec.name)


def check_output(
    model: nn.Module,
    image_size: tuple[int, int],
    spec_name: str,
    *,
    channels: int = 1,
    classes: int = 10,
    dataset: str = "Fashion-MNIST",
) -> None:
    """Fail with one line, before any data is touched, if the network does not emit one
    score per class."""
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            scores = model(torch.zeros(2, channels, *image_size))
    finally:
        model.train(was_training)
    if tuple(scores.shape) != (2, classes):
        raise TrainUsageError(
            f"spec '{spec_name}' outputs shape {tuple(scores.shape[1:])} per image; "
            f"{dataset} training needs {classes} class scores (make the last layer's out "
            f"{classes})"
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
    note: Callable[[str], None] | None = None,
) -> RunResult:
    """Train ``spec`` with ``recipe``; joins a torchrun process group when there is one.

    ``echo`` receives the run's lines (epochs, the ``--init-from`` table, the summary);
    ``note`` what the user should know about the data (default: ``note: …`` on stderr).
    """
    dist, device = setup(options.device)
    try:
        return _run(spec, recipe, options, dist, device, echo, on_epoch_end, note or _note)
    finally:
        dist.close()


def _note(line: str) -> None:
    print(f"note: {line}", file=sys.stderr, flush=True)


def _run(
    spec: SpecLike,
    recipe: TrainRecipe,
    options: RunOptions,
    dist: Distributed,
    device: torch.device,
    echo: Callable[[str], None],
    user_callback: EpochCallback | None,
    note: Callable[[str], None],
) -> RunResult:
    _check_flags(recipe, options, dist, device)
    image_size = image_size_for(spec, recipe)
    if options.resume is not None:
        rundir.read_run_info(options.resume).require_spec(spec.source_text, spec.path)
    preprocessing = preprocessing_of(spec)
    data = _load_data(options.data_options(recipe), preprocessing, dist)
    check_data(spec, data)
    if dist.is_main:
        for line in dict.fromkeys(data.train.notes + data.test.notes):
            note(line)

    torch.manual_seed(recipe.seed)
    model = spec.build(seed=recipe.seed)
    initialize_weights(model, recipe.init)
    init_report = _init_from(model, spec, options) if options.resume is None else None
    check_output(model, image_size, spec.name, channels=spec.input_shape[0],
                 classes=len(data.classes), dataset=data.train.name)  # fmt: skip
    channels_last = wants_channels_last(options.channels_last, device, model)
    model.to(device, memory_format=torch.channels_last if channels_last else torch.preserve_format)
    freeze = Freeze(model, recipe)
    optimizer = make_optimizer(model, recipe, freeze.parameters)
    scaler = torch.amp.GradScaler("cuda") if recipe.amp == "fp16" else None

    state = TrainState()
    if options.resume is not None:
        state = _restore(Path(options.resume), model, optimizer, scaler, dist, device)
    else:
        torch.manual_seed(derive_seed(recipe.seed, "train", dist.rank))

    if init_report is not None and dist.is_main:
        echo(init_report.table())
    context = _RunContext(spec, recipe, options, data, preprocessing, image_size, init_report)
    run_dir = Path(
        _on_main(dist, lambda: str(_prepare_run_dir(context, device, dist, channels_last)))
    )
    if state.epochs_done >= recipe.epochs:
        if dist.is_main:
            echo(
                f"{run_dir}: already trained for {state.epochs_done} epochs; nothing to do "
                f"(give a larger --epochs to train further)"
            )
        return RunResult(run_dir, state, 0.0)

    freeze.set_epoch(state.epochs_done)  # before DDP wraps the model: it skips frozen ones
    train_model = _training_model(model, device, dist, options.compile)
    train_batches, test_batches = _batches(context, device, dist, channels_last)
    show_progress = options.progress if options.progress is not None else progress_wanted()

    after_epoch = _EpochEnd(
        run_dir, context, model, optimizer, scaler, dist, device, echo,
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
            num_classes=len(data.classes),
            amp=recipe.amp,
            dist=dist,
            progress=Progress() if show_progress and dist.is_main else None,
            on_epoch_end=after_epoch,
            eval_model=model,
            rules=StepRules(recipe, len(train_batches), scaler, freeze),
        )
    except KeyboardInterrupt:
        if dist.is_main:
            echo(_interrupted_line(after_epoch.saved_epochs, run_dir))
        return RunResult(run_dir, state, time.time() - started, interrupted=True)
    seconds = time.time() - started
    if dist.is_main:
        echo(_summary_line(state, first_epoch, seconds, len(data.train), device, dist, run_dir))
    return RunResult(run_dir, state, seconds)


def _check_flags(
    recipe: TrainRecipe, options: RunOptions, dist: Distributed, device: torch.device
) -> None:
    """Combinations that cannot work, refused before anything is loaded."""
    if recipe.amp == "fp16" and device.type != "cuda":
        raise TrainUsageError(
            f"--amp fp16 needs a CUDA device (its gradient scaler is CUDA's); on {device.type} "
            f"use --amp bf16"
        )
    if recipe.unfreeze_epoch is not None and dist.enabled:
        raise TrainUsageError(
            "unfreeze_epoch is not supported with torchrun (DistributedDataParallel fixes "
            "the trained parameters when it starts); train the frozen and unfrozen phases "
            "as two runs, the second with --init-from"
        )
    if options.init_from is not None and options.resume is not None:
        raise TrainUsageError(
            "--init-from and --resume exclude each other: a resumed run continues from its "
            "own checkpoint"
        )


def _init_from(model: nn.Module, spec: SpecLike, options: RunOptions) -> InitReport | None:
    """``--init-from``: load what fits (read as the spec's ``weights:`` section says, then
    renamed by ``--init-map``), say what was done."""
    if options.init_from is None:
        if options.init_map:
            raise TrainUsageError("--init-map renames the tensors of --init-from; give both")
        return None
    try:
        renames = [Rename.parse(text) for text in options.init_map]
    except PatternError as exc:
        raise TrainUsageError(f"--init-map {exc}") from None
    return load_matching(model, options.init_from, renames, getattr(spec, "weights", None))


@dataclass
class _RunContext:
    """What the run directory and the batches are made from (one run, fixed)."""

    spec: SpecLike
    recipe: TrainRecipe
    options: RunOptions
    data: TrainData
    preprocessing: Preprocessing
    image_size: tuple[int, int]
    init_report: InitReport | None


@dataclass
class _EpochEnd:
    """What happens after every epoch: the line, and on rank 0 the run directory's files.

    ``saved_epochs`` is what last.pt holds — what ``--resume`` would continue from — so an
    interruption can say so.
    """

    run_dir: Path
    context: _RunContext
    model: nn.Module
    optimizer: torch.optim.Optimizer
    scaler: torch.amp.GradScaler | None
    dist: Distributed
    device: torch.device
    echo: Callable[[str], None]
    saved_epochs: int = 0
    user_callback: EpochCallback | None = None

    def __call__(self, metrics: EpochMetrics, state: TrainState, improved: bool) -> None:
        rng_states = self.dist.gather(_rng_state(self.device))  # a collective: all ranks
        if self.dist.is_main:
            # Protected from the line on: a Ctrl-C prompted by it must find the epoch saved.
            with signals_deferred():
                self.echo(metrics.line())
                _write_epoch(
                    self.run_dir, self.context, self.model, self.optimizer, self.scaler, state,
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
    context: _RunContext, device: torch.device, dist: Distributed, channels_last: bool
) -> tuple[Batches, Batches]:
    """This rank's training batches (shuffled, augmented, shards padded to equal length)
    and test batches (the evaluation transform)."""
    recipe, data = context.recipe, context.data
    shared = {
        "batch_size": recipe.batch_size,
        "preprocessing": context.preprocessing,
        "device": device,
        "rank": dist.rank,
        "world_size": dist.world_size,
        "channels_last": channels_last,
    }
    augment = TrainTransform(recipe.augment, context.preprocessing, context.image_size)
    train = Batches(
        data.train.images, data.train.labels, shuffle=True, seed=recipe.seed, pad_shards=True,
        transform=augment, **shared,  # type: ignore[arg-type]
    )  # fmt: skip
    test = Batches(data.test.images, data.test.labels, shuffle=False, **shared)  # type: ignore[arg-type]
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
    data: DataOptions | None = None,
) -> Accuracy:
    """Test-set accuracy, overall and per class, of ``spec``'s network with trained weights.

    The weights must fit exactly (``--weights`` is strict); the test split is prepared by
    the spec's evaluation transform, as in training and ``predict``.
    """
    torch_device = training_device(device)
    image_size = image_size_for(spec, TrainRecipe())
    options = data or DataOptions(root=str(data_dir) if data_dir else None, download=download)
    preprocessing = preprocessing_of(spec)
    test = open_dataset(options, "test", preprocessing)
    check_data(spec, TrainData(test, test))
    model = spec.build(seed=0)
    # How the file's keys are read (the spec's 'weights:'); a stand-in spec may lack it.
    load_weights(model, weights, getattr(spec, "weights", None))
    check_output(model, image_size, spec.name, channels=spec.input_shape[0],
                 classes=len(test.classes), dataset=test.name)  # fmt: skip
    model.to(torch_device)
    batches = Batches(
        test.images,
        test.labels,
        batch_size=batch_size,
        preprocessing=preprocessing,
        device=torch_device,
        shuffle=False,
    )
    result = evaluate(model, batches, num_classes=len(test.classes), device=torch_device, amp=amp)
    return Accuracy(result.correct, result.total, test.classes)


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


def _load_data(options: DataOptions, preprocessing: Preprocessing, dist: Distributed) -> TrainData:
    """Rank 0 opens the data first (downloading or decoding into the cache if it must);
    the other ranks then read the files (or the cache)."""

    def load(download: bool) -> TrainData:
        chosen = replace(options, download=download)
        return TrainData(
            open_dataset(chosen, "train", preprocessing),
            open_dataset(chosen, "test", preprocessing),
        )

    loaded: list[TrainData] = []
    _on_main(dist, lambda: loaded.append(load(options.download)))
    if loaded:
        return loaded[0]
    return load(False)


def _restore(
    run_dir: Path,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
    dist: Distributed,
    device: torch.device,
) -> TrainState:
    checkpoint = load_checkpoint(run_dir / rundir.LAST_CHECKPOINT)
    try:
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        if scaler is not None and checkpoint.get("scaler"):
            scaler.load_state_dict(checkpoint["scaler"])
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
    context: _RunContext, device: torch.device, dist: Distributed, channels_last: bool
) -> Path:
    spec, recipe, options, data = context.spec, context.recipe, context.options, context.data
    now = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    if options.resume is not None:
        run_dir = Path(options.resume)
        info = rundir.read_run_info(run_dir).info
        info["recipe"] = recipe_record(recipe)
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
        **({"variant": spec.variant} if getattr(spec, "variant", None) else {}),
        "input_shape": list(spec.input_shape),
        "recipe": recipe_record(recipe),
        "image_size": list(context.image_size),
        "data_dir": str(data.train.source),
        "dataset": data.train.name,
        "data": {
            **options.data_options(recipe).as_record(),
            "storage": data.train.storage,
            "notes": data.train.notes + data.test.notes,
        },
        "classes": list(data.classes),
        "train_samples": len(data.train),
        "test_samples": len(data.test),
        "preprocessing": context.preprocessing.as_metadata(),
        "init_from": context.init_report.as_record() if context.init_report else None,
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
    context: _RunContext,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    scaler: torch.amp.GradScaler | None,
    state: TrainState,
    improved: bool,
    rng_states: list[dict[str, Any]],
) -> None:
    spec, recipe = context.spec, context.recipe
    checkpoint = make_checkpoint(
        model_state=model.state_dict(),
        optimizer_state=optimizer.state_dict(),
        epoch=state.epochs_done,
        rng_states=rng_states,
        recipe=recipe.model_dump(),
        history=[row.as_dict() for row in state.history],
        best_test_acc=state.best_test_acc,
        spec_name=spec.name,
        classes=list(context.data.classes),
        dataset=context.data.train.name,
        scaler_state=scaler.state_dict() if scaler is not None else None,
    )
    save_checkpoint(run_dir / rundir.LAST_CHECKPOINT, checkpoint)
    if improved:
        atomic_link_or_copy(run_dir / rundir.LAST_CHECKPOINT, run_dir / rundir.BEST_CHECKPOINT)
        save_safetensors(
            run_dir / rundir.BEST_WEIGHTS,
            checkpoint["model"],
            {key: checkpoint[key] for key in ("spec_name", "epoch", "best_test_acc", "classes",
                                              "dataset")},
        )  # fmt: skip
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
