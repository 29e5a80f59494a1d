"""One module per CLI command, each exposing ``register(subparsers)`` and ``run(args)``.

The CLI imports every command module to build its parser (each ``register`` adds its
subcommand), so these modules import nothing heavy at module level: commands import torch
inside ``run``, and ``netspec check`` never pays for (or depends on) torch. Commands raise
:class:`~netspec.errors.NetspecError`; only ``netspec.cli.main`` prints errors and exits.
"""

#: Commands in the order ``netspec --help`` lists them.
COMMANDS = (
    "check",
    "summary",
    "build",
    "predict",
    "graph",
    "schema",
    "train",
    "eval",
    "completion",
)
