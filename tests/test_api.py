"""The Python API: load from a path, a string or a dict; override params; build."""

from __future__ import annotations

import pytest
import torch

import netspec
from conftest import SPECS


def test_load_from_path_string_and_dict_agree() -> None:
    from_path = netspec.load(SPECS / "lenet.yaml")
    from_str_path = netspec.load(str(SPECS / "lenet.yaml"))
    from_text = netspec.load((SPECS / "lenet.yaml").read_text())
    as_dict = {
        "name": "lenet",
        "input": [1, 28, 28],
        "layers": [
            {"conv": {"out": 6, "kernel": 5, "padding": 2}},
            "sigmoid",
            {"avgpool": {"kernel": 2}},
            {"conv": {"out": 16, "kernel": 5}},
            "sigmoid",
            {"avgpool": {"kernel": 2}},
            "flatten",
            {"linear": {"out": 120}},
            "sigmoid",
            {"linear": {"out": 84}},
            "sigmoid",
            {"linear": {"out": 10}},
        ],
    }
    from_dict = netspec.load(as_dict)
    for spec in (from_str_path, from_text, from_dict):
        assert [(n.path, n.out_shape, n.params) for _, n in spec.rows()] == [
            (n.path, n.out_shape, n.params) for _, n in from_path.rows()
        ]
    assert from_path.path == str(SPECS / "lenet.yaml")
    assert from_text.path is None


def test_dict_errors_are_located_in_its_yaml_rendering() -> None:
    with pytest.raises(netspec.SchemaError) as caught:
        netspec.load({"name": "x", "input": [4], "layers": [{"linaer": {"out": 3}}]})
    assert caught.value.message == "unknown layer kind 'linaer'"
    assert caught.value.first.hint == "did you mean 'linear'?"


def test_params_override_and_derived_params() -> None:
    spec = netspec.load(SPECS / "vgg11.yaml", params={"ratio": 8})
    assert spec.params == {"ratio": 8, "hidden": 512, "classes": 10}
    assert spec.total_params == 2_018_346


def test_compiled_spec_exposes_what_the_back_end_needs() -> None:
    spec = netspec.load(SPECS / "googlenet.yaml")
    assert spec.name == "googlenet"
    assert spec.input_shape == (1, 96, 96)
    assert spec.output_shape == (10,)
    assert spec.train.resize == 96 and spec.train.optimizer == "adam"
    assert "# GoogLeNet as the seed builds it" in spec.source_text
    model = spec.build(seed=0)
    assert isinstance(model, torch.nn.Module)


def test_importing_netspec_does_not_import_torch() -> None:
    import subprocess
    import sys

    from conftest import cli_env

    done = subprocess.run(
        [
            sys.executable,
            "-c",
            "import sys, netspec; netspec.load(sys.argv[1]); assert 'torch' not in sys.modules",
            str(SPECS / "nin.yaml"),
        ],
        env=cli_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
