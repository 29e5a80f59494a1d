"""Inception written as a user block with ``concat`` is the built-in ``inception``.

specs/googlenet_user.yaml differs from specs/googlenet.yaml only in using the block of
specs/lib/inception.yaml: same state_dict keys and shapes, the built-in's weights load with
strict=True, and both compute the same outputs. (The user block has ReLU modules of its
own where the built-in applies F.relu; they hold no state, so the keys are the same.)
"""

from __future__ import annotations

import copy
import warnings

import pytest
import torch

import netspec
from conftest import SPECS


@pytest.fixture(scope="module")
def built() -> tuple[torch.nn.Module, torch.nn.Module]:
    """Both networks, built once per module; tests get copies (see :func:`models`)."""
    builtin = netspec.load(SPECS / "googlenet.yaml").build(seed=0)
    user = netspec.load(SPECS / "googlenet_user.yaml").build(seed=1)
    return builtin, user


@pytest.fixture
def models(built: tuple[torch.nn.Module, torch.nn.Module]) -> tuple[torch.nn.Module, ...]:
    """Fresh copies for each test: a test may load weights into them or switch their mode."""
    return tuple(copy.deepcopy(model) for model in built)


def test_same_state_dict_keys_and_shapes(models) -> None:
    builtin, user = models
    ours = {k: tuple(v.shape) for k, v in user.state_dict().items()}
    theirs = {k: tuple(v.shape) for k, v in builtin.state_dict().items()}
    assert ours == theirs
    assert "2.0.p2_2.weight" in ours  # the seed's names, directly under the block


def test_builtin_weights_load_strictly_and_give_the_same_outputs(models) -> None:
    builtin, user = models
    user.load_state_dict(builtin.state_dict(), strict=True)
    builtin.eval()
    user.eval()
    x = torch.randn(2, 1, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(user(x), builtin(x))


def test_same_module_tree_but_for_parameter_free_children(models) -> None:
    builtin, user = models
    stateful = {
        name for name, module in user.named_modules() if next(module.parameters(), None) is not None
    }
    assert stateful == {
        name
        for name, module in builtin.named_modules()
        if next(module.parameters(), None) is not None
    }
    extra = {name for name, _ in user.named_modules()} - {n for n, _ in builtin.named_modules()}
    assert all(isinstance(user.get_submodule(name), torch.nn.ReLU) for name in extra)


def test_summary_matches_the_builtin() -> None:
    builtin = netspec.load(SPECS / "googlenet.yaml")
    user = netspec.load(SPECS / "googlenet_user.yaml")
    assert user.total_params == builtin.total_params
    assert user.total_macs == builtin.total_macs
    assert user.output_shape == builtin.output_shape
    rows = {node.path: node for _, node in user.rows()}
    assert rows["2.0"].kind == "inception_block"
    assert rows["2.0"].out_shape == (256, 12, 12)
    assert rows["2.0"].receptive_field == next(
        n.receptive_field for _, n in builtin.rows() if n.path == "2.0"
    )


def test_user_inception_is_scriptable(models) -> None:
    _, user = models
    user.eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        scripted = torch.jit.script(user)
    x = torch.randn(1, 1, 96, 96)
    with torch.no_grad():
        torch.testing.assert_close(scripted(x), user(x))
