"""Built-in blocks. Importing this package registers every kind with the registry.

Each module defines one kind (or one family sharing a rule, such as the activations):
its argument model, its shape rule and its builder. Nothing here imports torch at import
time — builders import it when called — so ``netspec check`` stays torch-free.
"""

from . import (  # noqa: F401  (imported for their register() side effect)
    activations,
    batchnorm,
    conv,
    dropout,
    flatten,
    gap,
    group,
    inception,
    linear,
    merge,
    nin_block,
    pool,
    repeat,
    vgg_block,
)
