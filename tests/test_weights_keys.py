"""A spec's weights: section (issue 9): torchvision's files load as they are."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import netspec
from netspec.cli import main
from netspec.errors import SchemaError
from netspec.schema import WeightsKeys
from netspec.weights import load_weights

SPEC = """\
name: w
input: [3, 8, 8]
weights:
  rename: {".norm.1.": ".norm1."}
  ignore: [aux1.]
layers:
  - group:
      name: layer
      layers: [conv: {name: conv, out: 4, kernel: 3}, batchnorm: {name: norm1}]
  - flatten
"""


def _legacy_file(spec: netspec.Spec, path: Path) -> dict[str, torch.Tensor]:
    """The spec's state_dict with a legacy name and an auxiliary head, as torchvision's
    files have."""
    state = spec.build(seed=1).state_dict()
    legacy = {key.replace(".norm1.", ".norm.1."): value for key, value in state.items()}
    legacy["aux1.fc.weight"] = torch.zeros(2, 2)
    torch.save(legacy, path)
    return state


def test_rename_and_ignore_load_a_file_as_it_is(tmp_path: Path) -> None:
    spec = netspec.load(SPEC)
    state = _legacy_file(spec, tmp_path / "w.pt")
    model = spec.build(seed=0)
    load_weights(model, tmp_path / "w.pt", spec.weights)
    for key, value in model.state_dict().items():
        assert torch.equal(value, state[key])


def test_build_applies_the_section(tmp_path: Path) -> None:
    (tmp_path / "w.yaml").write_text(SPEC)
    spec = netspec.load(tmp_path / "w.yaml")
    _legacy_file(spec, tmp_path / "w.pt")
    argv = ["build", str(tmp_path / "w.yaml"), "--weights", str(tmp_path / "w.pt")]
    assert main([*argv, "-o", str(tmp_path / "w.ts.pt")]) == 0


def test_without_the_section_the_error_names_the_files_keys(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    text = SPEC.replace('weights:\n  rename: {".norm.1.": ".norm1."}\n  ignore: [aux1.]\n', "")
    (tmp_path / "w.yaml").write_text(text)
    _legacy_file(netspec.load(text), tmp_path / "w.pt")
    argv = ["build", str(tmp_path / "w.yaml"), "--weights", str(tmp_path / "w.pt")]
    assert main([*argv, "-o", str(tmp_path / "w.ts.pt")]) == 1
    assert capsys.readouterr().err == (
        f"netspec: error: weights in {tmp_path / 'w.pt'} do not fit this spec: missing "
        "layer.norm1.weight (the file has layer.norm.1.weight), layer.norm1.bias (the file has "
        "layer.norm.1.bias), layer.norm1.running_mean (the file has layer.norm.1.running_mean), "
        "layer.norm1.running_var (the file has layer.norm.1.running_var), "
        "layer.norm1.num_batches_tracked (the file has layer.norm.1.num_batches_tracked); "
        "unexpected layer.norm.1.weight, layer.norm.1.bias, layer.norm.1.running_mean, "
        "layer.norm.1.running_var, layer.norm.1.num_batches_tracked ...\n"
        "hint: when the file names its tensors differently, the spec can say how to read it: "
        "weights: {rename: {OLD: NEW}, ignore: [PREFIX]}\n"
    )


def test_renames_apply_in_order_as_plain_text() -> None:
    keys = WeightsKeys(rename={"a.": "b.", "b.": "c.", "(x)": "y"}, ignore=["skip"])
    assert keys.apply(["a.w", "b.w", "(x).w", "skip.w", "z"]) == {
        "a.w": "c.w",
        "b.w": "c.w",
        "(x).w": "y.w",
        "z": "z",
    }


def test_an_empty_rename_is_refused() -> None:
    with pytest.raises(SchemaError) as caught:
        netspec.load(SPEC.replace('".norm.1."', '""'))
    assert caught.value.message == (
        "weights: 'rename' cannot hold the empty text: it is found between every two characters"
    )


DENSENET_RENAME = {".norm.1.": ".norm1.", ".conv.1.": ".conv1.", ".norm.2.": ".norm2.",
                   ".conv.2.": ".conv2."}  # fmt: skip


def test_densenet_legacy_keys_map_as_torchvisions_regex_does() -> None:
    models = pytest.importorskip("torchvision.models")
    with torch.device("meta"):
        modern = list(models.densenet121(weights=None).state_dict())
    legacy = [re.sub(r"(denselayer\d+\.(?:norm|conv))([12])\.", r"\1.\2.", k) for k in modern]
    assert legacy != modern
    # torchvision's own loader (densenet._load_state_dict) turns legacy keys back so:
    pattern = re.compile(
        r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
    )
    restored = [pattern.sub(lambda m: m.group(1) + m.group(2), k) for k in legacy]
    mapped = WeightsKeys(rename=DENSENET_RENAME).apply(legacy)
    assert list(mapped.values()) == modern
    assert [k for k in restored if "num_batches" not in k] == [
        k for k in modern if "num_batches" not in k
    ]


def test_googlenet_aux_heads_are_dropped() -> None:
    models = pytest.importorskip("torchvision.models")
    with torch.device("meta"):
        with_aux = models.googlenet(weights=None, aux_logits=True, init_weights=False)
        without = models.googlenet(weights=None, aux_logits=False, init_weights=False)
    kept = WeightsKeys(ignore=["aux1.", "aux2."]).apply(list(with_aux.state_dict()))
    assert list(kept.values()) == list(without.state_dict())
