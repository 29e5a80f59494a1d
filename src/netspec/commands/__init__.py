"""One module per CLI command, each exposing ``register(subparsers)``.

The CLI imports only the command the user runs, and commands import torch inside ``run``,
so ``netspec check`` never pays for (or depends on) torch.
"""

#: Commands in the order ``netspec --help`` lists them.
COMMANDS = ("check", "summary", "build", "predict", "graph", "schema", "train", "eval")
