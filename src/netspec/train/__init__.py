"""Training and evaluation of compiled networks on Fashion-MNIST.

The package consumes built ``nn.Module``s and a :class:`netspec.recipe.TrainRecipe`; it
knows nothing about specs beyond the small :class:`netspec.train.runner.SpecLike` surface,
so it can be tested with hand-written modules and reused for any compiled network.
"""
