"""Fuzzing: mutated shipped specs and hostile inputs end in success or a clean spec error.

Never an uncaught exception. When a mutated spec compiles and is small, it is also built
and run, and the shapes torch produces must be the ones netspec inferred.
"""

from __future__ import annotations

import copy
import io
import json
from typing import Any

import pytest
import torch
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

import netspec
from conftest import SPECS
from netspec.errors import NetspecError
from netspec.source import read_bytes, read_text

SPEC_FILES = sorted(SPECS.glob("*.yaml"))
SPEC_DATA = {p.name: read_text(p.read_text()).data for p in SPEC_FILES}
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

scalars = st.one_of(
    st.integers(-3, 3),
    st.integers(-(10**15), 10**15),
    st.sampled_from([0, 1, 2, 3, 5, 7, 300]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.none(),
    st.text(max_size=12),
    st.sampled_from(
        [
            "64 // ratio",
            "ratio",
            "1 / 0",
            "2 ** 99",
            "classes * 2",
            "same",
            "relu",
            "[]",
            "x.y",
            "__import__('os')",
            "conv",
            "maxpool",
            "flatten",
            "inception",
            "group",
        ]
    ),
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4), st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [prefix]
    if isinstance(node, dict):
        for key, child in node.items():
            found.extend(_paths(child, (*prefix, key)))
    elif isinstance(node, list):
        for i, child in enumerate(node):
            found.extend(_paths(child, (*prefix, i)))
    return found


def _mutate(data: Any, draw: Any) -> Any:
    data = copy.deepcopy(data)
    for _ in range(draw(st.integers(1, 3))):
        paths = [p for p in _paths(data) if p]
        if not paths:
            return data
        path = draw(st.sampled_from(paths))
        parent = data
        for step in path[:-1]:
            parent = parent[step]
        last = path[-1]
        action = draw(st.sampled_from(["replace", "delete", "duplicate", "rename"]))
        if action == "replace":
            parent[last] = draw(values)
        elif action == "delete":
            del parent[last]
        elif action == "duplicate" and isinstance(parent, list):
            parent.insert(last, copy.deepcopy(parent[last]))
        elif action == "rename" and isinstance(parent, dict):
            parent[draw(st.text(min_size=1, max_size=8))] = parent.pop(last)
    return data


def _dump(data: Any) -> str:
    yaml = YAML(typ="safe", pure=True)
    buffer = io.StringIO()
    yaml.dump(data, buffer)
    return buffer.getvalue()


def _check_small_model_runs(spec: netspec.CompiledSpec) -> None:
    """A compiled spec that is cheap to run must produce exactly the inferred shapes."""
    if spec.total_params > 2_000_000 or spec.total_macs > 50_000_000:
        return
    model = spec.build(seed=0).eval()
    with torch.no_grad():
        out = model(torch.rand(1, *spec.input_shape))
    assert tuple(out.shape[1:]) == spec.output_shape
    assert sum(p.numel() for p in model.parameters()) == spec.total_params


@pytest.mark.parametrize("name", sorted(SPEC_DATA))
@FUZZ
@given(data=st.data())
def test_mutated_specs_compile_or_fail_cleanly(name: str, data: st.DataObject) -> None:
    mutated = _mutate(SPEC_DATA[name], data.draw)
    try:
        text = _dump(mutated)
    except Exception:  # the mutation produced something YAML itself cannot write
        return
    try:
        spec = netspec.load(text if "\n" in text else text + "\n")
    except NetspecError as exc:
        assert exc.render()
        return
    _check_small_model_runs(spec)


@FUZZ
@given(data=st.data())
def test_mutated_spec_text_fails_cleanly(data: st.DataObject) -> None:
    name = data.draw(st.sampled_from(sorted(SPEC_DATA)))
    text = (SPECS / name).read_text()
    for _ in range(data.draw(st.integers(1, 4))):
        at = data.draw(st.integers(0, len(text)))
        cut = data.draw(st.integers(0, 6))
        insert = data.draw(st.text(alphabet="{}[]:,-'\"#&*!|> \n\t0123456789abc", max_size=4))
        text = text[:at] + insert + text[at + cut :]
    try:
        netspec.load(text + "\n")
    except NetspecError as exc:
        assert exc.render()


@FUZZ
@given(raw=st.binary(max_size=300))
@example(raw=b"+_")  # ruamel.yaml's int resolver raised IndexError (found under torch 2.11)
def test_random_bytes_fail_cleanly(raw: bytes) -> None:
    try:
        read_bytes(raw)
    except NetspecError as exc:
        assert exc.render()


@FUZZ
@given(tree=values)
def test_random_documents_fail_cleanly(tree: Any) -> None:
    try:
        text = json.dumps({"name": "fuzz", "input": [1, 28, 28], "layers": tree})
    except ValueError:
        return
    try:
        netspec.load(text)
    except NetspecError as exc:
        assert exc.render()


@FUZZ
@given(
    layers=st.lists(
        st.one_of(
            st.sampled_from(["relu", "flatten", "gap", "sigmoid", "dropout", "batchnorm"]),
            st.builds(
                lambda k, s, p: {"conv": {"out": 4, "kernel": k, "stride": s, "padding": p}},
                st.integers(1, 9),
                st.integers(1, 4),
                st.integers(0, 4),
            ),
            st.builds(
                lambda k, s, p, c: {
                    "maxpool": {"kernel": k, "stride": s, "padding": p, "ceil_mode": c}
                },
                st.integers(1, 5),
                st.integers(1, 3),
                st.integers(0, 2),
                st.booleans(),
            ),
            st.builds(
                lambda k, s, p, c: {
                    "avgpool": {"kernel": k, "stride": s, "padding": p, "ceil_mode": c}
                },
                st.integers(1, 5),
                st.integers(1, 3),
                st.integers(0, 2),
                st.booleans(),
            ),
            st.builds(lambda o: {"linear": {"out": o}}, st.integers(1, 16)),
        ),
        min_size=1,
        max_size=6,
    ),
    side=st.integers(1, 20),
)
def test_inferred_shapes_equal_torch_shapes(layers: list[Any], side: int) -> None:
    """Random small networks: whenever netspec accepts one, torch agrees on every shape."""
    try:
        spec = netspec.load({"name": "rand", "input": [2, side, side], "layers": layers})
    except NetspecError:
        return
    model = spec.build(seed=0).eval()
    with torch.no_grad():
        out = model(torch.rand(2, 2, side, side))
    assert tuple(out.shape[1:]) == spec.output_shape
