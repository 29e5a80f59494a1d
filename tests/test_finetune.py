"""Fine-tuning: --init-from loads what fits and says what it did; freeze keeps layers fixed.

The central test is the issue's: a network trained on 10 synthetic classes is fine-tuned
on 4 new classes through ``--init-from`` with its head replaced; the table names exactly
the head as re-initialised, the frozen layers come out bit-identical, and the fine-tuned
network beats the same network trained from scratch for the same steps.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import nn

from data_support import write_images
from netspec.cli import main
from netspec.errors import BuildError
from netspec.patterns import Glob, PatternError, Rename, parse_selection, selected
from netspec.weights import load_matching, read_state_dict, save_safetensors
from train_support import write_fashion_mnist

pytestmark = pytest.mark.usefixtures("single_thread")

SPEC = """\
name: small
input: [1, 28, 28]
params: {classes: 10}
train: {optimizer: adam, lr: 0.01, batch_size: BATCH, epochs: EPOCHS FREEZE}
layers:
  - group:
      name: features
      layers:
        - conv: {out: 8, kernel: 5, padding: 2}
        - batchnorm
        - relu
        - maxpool: {kernel: 2}
        - conv: {out: 16, kernel: 5}
        - relu
        - maxpool: {kernel: 2}
  - flatten
  - group:
      name: head
      layers:
        - linear: {out: classes}
"""
NEW_CLASSES = ("ant", "bee", "cat", "dog")


def _spec(folder: Path, name: str, *, batch: int, epochs: int, freeze: bool = False) -> str:
    text = SPEC.replace("BATCH", str(batch)).replace("EPOCHS", str(epochs))
    text = text.replace(" FREEZE", ", freeze: [features]" if freeze else "")
    path = folder / f"{name}.yaml"
    path.write_text(text)
    return str(path)


def _two_bands(count: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Four new classes: class c lights the bands of old classes c and c + 5 together."""
    generator = torch.Generator().manual_seed(seed)
    labels = (torch.arange(count) % 4)[torch.randperm(count, generator=generator)]
    images = torch.randint(0, 90, (count, 28, 28), generator=generator, dtype=torch.uint8)
    for index, label in enumerate(labels.tolist()):
        for band in (label, label + 5):
            images[index, 2 * band + 3 : 2 * band + 5, 4:24] = 230
    return images, labels


def _train(*argv: str) -> None:
    assert main(["train", *argv, "--device", "cpu", "--no-download"]) == 0


def test_fine_tuning_a_pretrained_network_on_new_classes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NETSPEC_CACHE_DIR", str(tmp_path / "cache"))
    base_data = write_fashion_mnist(tmp_path / "base", train=256, test=64)
    base = _spec(tmp_path, "base", batch=32, epochs=2)
    _train(base, "--data", str(base_data), "--out", str(tmp_path / "pretrained"))
    new = tmp_path / "new"
    write_images(new / "train", *_two_bands(64, seed=3), classes=NEW_CLASSES)
    write_images(new / "val", *_two_bands(200, seed=4), classes=NEW_CLASSES)
    capsys.readouterr()

    tune = _spec(tmp_path, "tune", batch=16, epochs=1, freeze=True)
    weights = tmp_path / "pretrained" / "best.safetensors"
    _train(tune, "--set", "classes=4", "--data", str(new), "--init-from", str(weights),
           "--out", str(tmp_path / "tuned"))  # fmt: skip
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == (
        f"--init-from {weights}: 9 of the network's 11 tensors loaded, 2 re-initialised, 0 in "
        f"the file unused"
    )
    assert lines[2] == (
        "  re-initialised     2  head.0.weight (file (10, 400), network (4, 400)), "
        "head.0.bias (file (10,), network (4,))"
    )
    record = json.loads((tmp_path / "tuned" / "run.json").read_text())["init_from"]
    assert record["reinitialised"] == ["head.0.weight", "head.0.bias"]
    assert record["unused"] == [] and len(record["loaded"]) == 9

    pretrained = read_state_dict(weights)
    tuned = read_state_dict(tmp_path / "tuned" / "last.pt")
    frozen = [name for name in tuned if name.startswith("features.")]
    assert len(frozen) == 9  # weights, biases and the batch norm's running statistics
    assert all(torch.equal(tuned[name], pretrained[name]) for name in frozen)
    assert not torch.equal(tuned["head.0.bias"], torch.zeros(4))

    scratch = _spec(tmp_path, "scratch", batch=16, epochs=1)
    _train(scratch, "--set", "classes=4", "--data", str(new), "--out", str(tmp_path / "scratch"))
    accuracy = {
        run: torch.load(tmp_path / run / "last.pt", weights_only=True)["best_test_acc"]
        for run in ("tuned", "scratch")
    }
    assert accuracy["tuned"] > accuracy["scratch"], accuracy
    assert accuracy["tuned"] >= 0.9

    # --weights stays strict: the 10-class weights do not fit the 4-class network.
    assert main(["build", tune, "--set", "classes=4", "--weights", str(weights),
                 "-o", str(tmp_path / "x.ts.pt")]) == 1  # fmt: skip
    assert "do not fit this spec: shape mismatch for head.0.weight" in capsys.readouterr().err


class Net(nn.Module):
    def __init__(self, head: str = "fc", classes: int = 3) -> None:
        super().__init__()
        self.body = nn.Linear(4, 5)
        setattr(self, head, nn.Linear(5, classes))


def test_init_map_renames_and_the_table_counts_unused_tensors(tmp_path: Path) -> None:
    source = tmp_path / "source.pt"
    torch.save({**Net("fc").state_dict(), "extra.weight": torch.zeros(2)}, source)
    target = Net("classifier")
    report = load_matching(target, source, [Rename.parse("fc.*=classifier.*")])
    assert report.loaded == ["body.weight", "body.bias", "classifier.weight", "classifier.bias"]
    assert report.reinitialised == [] and report.unused == ["extra.weight"]
    without = load_matching(Net("classifier"), source)
    assert [name for name, _ in without.reinitialised] == ["classifier.weight", "classifier.bias"]
    assert without.unused == ["fc.weight", "fc.bias", "extra.weight"]
    with pytest.raises(BuildError, match="none of its 2 tensors fits this network"):
        torch.save({"a.weight": torch.zeros(1), "b.bias": torch.zeros(1)}, tmp_path / "x.pt")
        load_matching(Net(), tmp_path / "x.pt")


def test_a_torchvision_weights_file_loads_into_a_network_with_a_new_head(tmp_path: Path) -> None:
    """A file as torchvision publishes its weights (``torch.save`` of a ResNet-18's
    state_dict, 1000 classes) into a network with torchvision's module names and 3
    classes: everything but the head loads, the table says so, and the loaded tensors are
    the file's. (Weights made here, never downloaded.)"""
    from torchvision.models import resnet18

    torch.manual_seed(0)
    published = tmp_path / "resnet18-f37072fd.pth"
    torch.save(resnet18(num_classes=1000).state_dict(), published)
    network = resnet18(num_classes=3)
    report = load_matching(network, published)
    assert report.table().splitlines() == [
        f"--init-from {published}: 120 of the network's 122 tensors loaded, 2 re-initialised, "
        f"0 in the file unused",
        "  loaded           120  conv1.weight, bn1.weight, bn1.bias, bn1.running_mean, "
        "bn1.running_var, bn1.num_batches_tracked, ... and 114 more",
        "  re-initialised     2  fc.weight (file (1000, 512), network (3, 512)), "
        "fc.bias (file (1000,), network (3,))",
        "  unused in file     0",
    ]
    original = torch.load(published, weights_only=True)
    assert all(torch.equal(network.state_dict()[name], original[name]) for name in report.loaded)


def test_init_from_reads_the_file_as_the_specs_weights_section_says(tmp_path: Path) -> None:
    """A spec's ``weights:`` section (renames for a file's legacy key names, dropped
    auxiliary heads) applies to --init-from as it does to --weights, before --init-map."""
    import netspec

    spec = netspec.load(
        "name: legacy\ninput: [4]\nparams: {classes: 3}\n"
        "weights: {rename: {'.norm.1.': '.norm1.'}, ignore: [aux.]}\n"
        "layers:\n  - group: {name: body, layers: [linear: {name: norm1, out: 5}]}\n"
        "  - linear: {name: fc, out: classes}\n"
    )
    legacy = tmp_path / "legacy.pth"
    torch.save({"body.norm.1.weight": torch.ones(5, 4), "body.norm.1.bias": torch.ones(5),
                "fc.weight": torch.ones(10, 5), "fc.bias": torch.ones(10),
                "aux.weight": torch.ones(2)}, legacy)  # fmt: skip
    model = spec.build(seed=0)
    report = load_matching(model, legacy, keys=spec.weights)
    assert report.loaded == ["body.norm1.weight", "body.norm1.bias"]
    assert [name for name, _ in report.reinitialised] == ["fc.weight", "fc.bias"]
    assert report.unused == [] and torch.equal(model.body.norm1.bias, torch.ones(5))
    with pytest.raises(BuildError, match="none of its 5 tensors fits"):  # the section unread
        load_matching(spec.build(seed=0), legacy)


def test_safetensors_round_trip_with_metadata(tmp_path: Path) -> None:
    state = Net().state_dict()
    path = tmp_path / "w.safetensors"
    save_safetensors(path, state, {"classes": ["a", "b", "c"], "epoch": 3})
    info: dict[str, object] = {}
    loaded = read_state_dict(path, info)
    assert all(torch.equal(loaded[k], v) for k, v in state.items())
    assert info["classes"] == ["a", "b", "c"] and info["epoch"] == 3
    assert info["format"] == "netspec.weights"
    (tmp_path / "bad.safetensors").write_bytes(path.read_bytes()[:40])
    with pytest.raises(BuildError, match="cannot read weights from"):
        read_state_dict(tmp_path / "bad.safetensors")


def test_glob_patterns_match_in_one_scan_and_carry_their_stars() -> None:
    glob = Glob.parse("layer*.conv*.weight")
    assert glob.captures("layer1.0.conv2.weight") == ("1.0", "2")
    assert glob.captures("layer1.conv2.bias") is None
    assert Glob.parse("fc").matches("fc") and not Glob.parse("fc").matches("fc1")
    assert Rename.parse("fc.*=classifier.1.*").apply("fc.weight") == "classifier.1.weight"
    hostile = Glob.parse("*a" * 8)  # exponential for a backtracking matcher
    assert hostile.captures("a" * 5000 + "b") is None
    for bad in ("", "x" * 201, "*" * 9):
        with pytest.raises(PatternError):
            Glob.parse(bad)
    with pytest.raises(PatternError, match="same number of"):
        Rename.parse("fc.*=head")


def test_freeze_selection_by_module_path_with_exemptions() -> None:
    everything_but_the_head = parse_selection(["*", "!fc"])
    assert selected("body.weight", everything_but_the_head)
    assert not selected("fc.weight", everything_but_the_head)
    features = parse_selection(["features"])
    assert selected("features.0.weight", features) and not selected("featuresx.weight", features)
