"""``netspec train``: train a spec's network on a dataset and keep a run directory.

torch is imported inside :func:`run` only: the CLI imports every command module to build
its parser, and ``netspec check`` must stay free of torch.
"""

from __future__ import annotations

import argparse
from typing import Any

from netspec.commands._common import add_spec_arguments
from netspec.data_options import add_data_arguments
from netspec.recipe import AMP_MODES, INIT_SCHEMES, OPTIMIZERS, SCHEDULES

EPILOG = """\
examples:
  netspec train specs/lenet.yaml --data ../shared/data/fashion-mnist
  netspec train specs/resnet18.yaml --data photos/ --init-from base/best.safetensors
  netspec train specs/alexnet.yaml --epochs 1 --batch-size 64 --amp bf16
  netspec train --resume runs/lenet-20250101-120000
  torchrun --nproc_per_node=2 -m netspec train specs/lenet.yaml

Each epoch prints the seed's line, e.g.
  epoch 1, loss 2.3019, train acc 0.101, test acc 0.100, time 6.4 sec
Hyper-parameters come from the spec's train: section; the flags above override them.
"""

# Flags that override recipe fields; each flag's dest is the field's name.
RECIPE_FLAGS = (
    "optimizer",
    "lr",
    "batch_size",
    "epochs",
    "resize",
    "init",
    "seed",
    "momentum",
    "nesterov",
    "weight_decay",
    "amp",
    "schedule",
    "warmup_epochs",
    "label_smoothing",
    "clip_grad_norm",
    "freeze",
    "unfreeze_epoch",
    "unfrozen_lr",
)


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "train",
        help="train a spec's network on a dataset (Fashion-MNIST, CIFAR, your images)",
        description=(
            "Train the network of SPEC on Fashion-MNIST, MNIST, CIFAR-10/100 or a folder of "
            "images, printing one line per epoch and writing a run directory (spec, recipe, "
            "checkpoints, metrics.csv, curves.png)."
        ),
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_spec_arguments(parser, optional_because="with --resume")

    recipe = parser.add_argument_group("recipe (overrides the spec's train: section)")
    recipe.add_argument("--optimizer", choices=OPTIMIZERS, help="sgd, adam or adamw")
    recipe.add_argument("--lr", type=float, help="learning rate")
    recipe.add_argument("--batch-size", type=int, help="images per step (per process)")
    recipe.add_argument("--epochs", type=int, help="epochs; with --resume, the new total")
    recipe.add_argument("--resize", type=int, help="image side; must equal the spec's input")
    recipe.add_argument("--init", choices=INIT_SCHEMES, help="weight initialisation")
    recipe.add_argument("--seed", type=int, help="random seed (init, shuffling, dropout)")
    recipe.add_argument("--momentum", type=float, help="SGD momentum")
    recipe.add_argument(
        "--nesterov", action=argparse.BooleanOptionalAction, default=None,
        help="Nesterov momentum (SGD)",
    )  # fmt: skip
    recipe.add_argument("--weight-decay", type=float, help="weight decay")
    recipe.add_argument(
        "--amp", choices=AMP_MODES, help="mixed precision: bf16 autocast, fp16 (CUDA)"
    )
    recipe.add_argument("--schedule", choices=SCHEDULES, help="learning-rate schedule")
    recipe.add_argument("--warmup-epochs", type=float, help="linear warm-up, in epochs")
    recipe.add_argument("--label-smoothing", type=float, help="label smoothing (0..1)")
    recipe.add_argument("--clip-grad-norm", type=float, help="clip the gradient norm to this")

    tune = parser.add_argument_group("fine-tuning")
    tune.add_argument(
        "--init-from",
        metavar="WEIGHTS",
        help="start from these weights (state_dict, checkpoint or .safetensors): every "
        "tensor whose name and shape match is loaded, the rest re-initialised, and a table "
        "says which",
    )
    tune.add_argument(
        "--init-map",
        metavar="FILE=NETWORK",
        action="append",
        default=[],
        help="rename the file's tensors first, e.g. 'fc.*=classifier.1.*' ('*' is any "
        "text; repeatable, the first match wins)",
    )
    tune.add_argument(
        "--freeze",
        metavar="PATTERN",
        action="append",
        help="parameters that do not train, by module path ('features', 'layer*'; '!fc' "
        "exempts fc; repeatable, later patterns win; replaces the recipe's freeze:)",
    )
    tune.add_argument(
        "--unfreeze-epoch", type=int, help="epoch from which the frozen parameters train too"
    )
    tune.add_argument(
        "--unfrozen-lr", type=float, help="their learning rate then (default: lr / 10)"
    )

    add_data_arguments(parser)
    where = parser.add_argument_group("run")
    where.add_argument("--out", help="run directory to create (default: runs/<spec>-<time>)")
    where.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run")
    where.add_argument(
        "--force",
        action="store_true",
        help="use --out even when it holds another run (started over) or files that are not "
        "a run (the run's files are written among them)",
    )
    where.add_argument("--device", default="auto", help="auto (CUDA if present), cpu, cuda[:N]")
    where.add_argument(
        "--channels-last",
        choices=("auto", "on", "off"),
        default="auto",
        help="channels-last memory format (auto: on for conv nets on CUDA and CPU)",
    )
    where.add_argument(
        "--compile",
        action="store_true",
        help="torch.compile the training step (opt-in: seconds to compile, then faster steps;"
        " not bit-identical to an eager run)",
    )
    where.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="progress bar on stderr (default: only when stderr is a terminal)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    from pydantic import ValidationError

    from netspec.commands._common import parse_overrides
    from netspec.data_options import data_options
    from netspec.recipe import TrainRecipe, with_overrides
    from netspec.spec import compile_spec
    from netspec.train.errors import TrainUsageError
    from netspec.train.rundir import read_run_info
    from netspec.train.runner import RunOptions, run_training

    overrides = {field: getattr(args, field) for field in RECIPE_FLAGS}
    if args.resume is not None:
        changed = [
            flag for flag in RECIPE_FLAGS if flag != "epochs" and getattr(args, flag) is not None
        ]
        if changed:
            flags = ", ".join("--" + flag.replace("_", "-") for flag in changed)
            raise TrainUsageError(
                f"{flags} cannot change when resuming: a resumed run keeps its recorded recipe "
                f"(only --epochs may raise the total); start a new run instead"
            )
        if args.overrides or args.variant:
            flag = "--set" if args.overrides else "--variant"
            raise TrainUsageError(f"{flag} cannot change when resuming: the run keeps its params")
        if args.out is not None:
            raise TrainUsageError(
                "--out and --resume exclude each other: a resumed run stays in RUN_DIR"
            )
        if args.force:
            raise TrainUsageError(
                "--force and --resume exclude each other: a resumed run continues its own files"
            )
        if args.init_from is not None:
            raise TrainUsageError(
                "--init-from and --resume exclude each other: a resumed run continues from "
                "its own checkpoint"
            )
        run_info = read_run_info(args.resume)
        compiled = compile_spec(
            args.spec or str(run_info.spec_path), run_info.params, run_info.info.get("variant")
        )
        base_recipe: Any = TrainRecipe.model_validate(run_info.recipe)
    else:
        if args.spec is None:
            raise TrainUsageError("give a SPEC file to train, or --resume RUN_DIR")
        compiled = compile_spec(args.spec, parse_overrides(args.overrides), args.variant)
        base_recipe = compiled.train
    try:
        recipe = with_overrides(base_recipe, **overrides)
    except ValidationError as exc:
        problem = exc.errors()[0]
        flag = "--" + str(problem["loc"][0]).replace("_", "-") if problem["loc"] else "recipe"
        raise TrainUsageError(f"{flag}: {problem['msg']}") from None

    options = RunOptions(
        data=data_options(args, recipe.data),
        out=args.out,
        resume=args.resume,
        device=args.device,
        channels_last=args.channels_last,
        compile=args.compile,
        progress=args.progress,
        download=args.download,
        force=args.force,
        init_from=args.init_from,
        init_map=args.init_map,
    )
    result = run_training(compiled, recipe, options, echo=lambda line: print(line, flush=True))
    if not result.interrupted:
        return 0
    from netspec.atomic import interrupted_status

    return interrupted_status()
