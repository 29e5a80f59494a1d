"""One module per CLI command, each exposing ``register(subparsers)`` and ``run(args)``.

The CLI imports every command module to build its parser, so a command module imports
only light things at module level and defers the rest — torch, the back end — to inside
``run``: ``netspec check`` never pays for (or depends on) torch.
"""

#: Commands in the order ``netspec --help`` lists them.
COMMANDS = ("check", "summary", "build", "predict", "graph", "schema", "train", "eval")
