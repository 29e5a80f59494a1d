"""Datasets beyond Fashion-MNIST: image folders (PNG/JPEG), CIFAR-10, the cache, streaming.

All data is written by the tests (``data_support``); nothing is downloaded. Bad data must
end in one line and exit status 1 before the run directory exists.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import SPECS
from data_support import (
    CIFAR10_NAMES,
    CLASS_FOLDERS,
    write_cifar10,
    write_image_folder,
    write_images,
    write_payload_batch,
)
from netspec import datafiles
from netspec.cli import main
from netspec.data import IDX_FILES, Batches, write_idx
from netspec.data_options import DataOptions
from netspec.datasets import open_dataset
from netspec.errors import NetspecError
from netspec.preprocessing import Preprocessing
from train_support import synthetic_images, write_fashion_mnist

pytestmark = pytest.mark.usefixtures("single_thread")

GRAY = Preprocessing.for_input((1, 28, 28))
RGB = Preprocessing.for_input((3, 28, 28))
LENET = str(SPECS / "lenet.yaml")


@pytest.fixture(autouse=True)
def cache_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Decoded-image caches go to the test's folder, never to the user's home."""
    monkeypatch.setenv("NETSPEC_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def _options(root: Path, **changes: object) -> DataOptions:
    settings: dict[str, object] = {"download": False, "workers": 0, **changes}
    return DataOptions(root=str(root), **settings)  # type: ignore[arg-type]


@pytest.mark.parametrize("suffix", [".png", ".jpg"])
def test_an_image_folder_with_train_and_val(tmp_path: Path, suffix: str) -> None:
    root = write_image_folder(tmp_path / "data", train=60, val=20, suffix=suffix)
    train = open_dataset(_options(root), "train", GRAY)
    test = open_dataset(_options(root), "test", GRAY)
    assert train.classes == CLASS_FOLDERS and test.classes == CLASS_FOLDERS
    assert train.images.shape == (60, 1, 28, 28) and train.images.dtype == torch.uint8
    assert len(test) == 20 and train.channels is None and train.name == "image folder"
    images, labels = synthetic_images(60, seed=1)
    # Files are named by their index, so the folder's order is the original order.
    assert torch.equal(train.labels, labels.long())
    if suffix == ".png":  # lossless: the very pixels
        assert torch.equal(train.images[:, 0], images)
    else:
        assert (train.images[:, 0].float() - images.float()).abs().mean() < 3


def test_one_folder_is_split_by_a_fixed_stratified_fraction(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "data", train=100, split=False)
    options = _options(root, val_fraction=0.2)
    train, test = (open_dataset(options, split, GRAY) for split in ("train", "test"))
    assert len(train) + len(test) == 100 and len(test) == 20
    assert set(test.labels.tolist()) == set(range(10))  # every class held out
    again = open_dataset(options, "test", GRAY)
    assert torch.equal(again.images, test.images)
    other = open_dataset(_options(root, val_fraction=0.2, split_seed=1), "test", GRAY)
    assert not torch.equal(other.images, test.images)


def test_the_decoded_images_are_cached_and_the_cache_follows_the_files(
    tmp_path: Path, cache_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = write_image_folder(tmp_path / "data", train=30, val=10)
    first = open_dataset(_options(root), "train", GRAY)
    caches = sorted((cache_dir / "images").glob("*.npy"))
    assert len(caches) == 1 and first.storage == f"memory (cache {caches[0]})"

    def no_decoding(*args: object, **kwargs: object) -> None:
        raise AssertionError("decoded although cached")

    with monkeypatch.context() as patch:
        patch.setattr(datafiles, "read_image", no_decoding)
        assert torch.equal(open_dataset(_options(root), "train", GRAY).images, first.images)

    changed = next((root / "train").rglob("00000.png"))  # the first image, whatever its class
    Image.fromarray(np.full((28, 28), 7, np.uint8)).save(changed)
    os.utime(changed, ns=(1, 1))  # another size or time: another cache
    reread = open_dataset(_options(root), "train", GRAY)
    assert int(reread.images[0].float().mean()) == 7
    assert sorted((cache_dir / "images").glob("*.npy")) != caches  # replaced, not added
    assert len(list((cache_dir / "images").glob("*.npy"))) == 1


@pytest.mark.parametrize("workers", [0, 1])
def test_streamed_batches_equal_in_memory_ones(tmp_path: Path, workers: int) -> None:
    root = write_image_folder(tmp_path / "data", train=40, val=10)
    memory = open_dataset(_options(root), "train", GRAY)
    stream = open_dataset(_options(root, load="stream", workers=workers), "train", GRAY)
    assert stream.storage == "stream" and not isinstance(stream.images, torch.Tensor)
    shared = {"batch_size": 16, "preprocessing": GRAY, "device": torch.device("cpu"),
              "shuffle": True, "seed": 3}  # fmt: skip
    a = list(Batches(memory.images, memory.labels, **shared))  # type: ignore[arg-type]
    b = list(Batches(stream.images, stream.labels, **shared))  # type: ignore[arg-type]
    assert all(torch.equal(x, y) and torch.equal(i, j) for (x, i), (y, j) in zip(a, b, strict=True))
    assert torch.equal(stream.take([3, 1]), memory.images[[3, 1]])


def test_a_large_folder_is_streamed_and_says_why(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "data", train=30, val=10)
    tiny_limit = _options(root, memory_limit_mb=1)
    dataset = open_dataset(tiny_limit, "train", Preprocessing.for_input((1, 600, 600)))
    assert dataset.storage.startswith("memory")  # 28x28 images are kept at their size...
    mixed = root / "train" / CLASS_FOLDERS[0] / "big.png"
    Image.fromarray(np.zeros((40, 40), np.uint8)).save(mixed)  # ...until sizes differ
    dataset = open_dataset(tiny_limit, "train", Preprocessing.for_input((1, 600, 600)))
    assert dataset.storage == "stream" and "over data.memory_limit_mb (1)" in dataset.notes[0]
    assert dataset.take([0]).shape == (1, 1, 600, 600)


def test_mixed_sizes_are_resized_to_the_specs_preprocessing(tmp_path: Path) -> None:
    root = tmp_path / "data"
    images, labels = synthetic_images(20, seed=1)
    write_images(root, images[:10], labels[:10])
    big = torch.nn.functional.interpolate(images[10:, None].float(), size=(40, 56))
    write_images(root, big[:, 0].round().to(torch.uint8), labels[10:])
    seed_like = open_dataset(_options(root), "train", GRAY)
    assert seed_like.images.shape[1:] == (1, 28, 28)
    cropped = Preprocessing(channels=1, resize=32, crop=(28, 28))
    assert open_dataset(_options(root), "train", cropped).images.shape[1:] == (1, 32, 32)


def test_grayscale_images_are_converted_for_an_rgb_spec(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "data", train=20, val=10)
    dataset = open_dataset(_options(root), "train", RGB)
    assert dataset.images.shape == (20, 3, 28, 28)
    assert torch.equal(dataset.images[:, 0], dataset.images[:, 2])


def test_files_that_are_not_images_are_skipped_and_counted(tmp_path: Path) -> None:
    root = write_image_folder(tmp_path / "data", train=20, val=10)
    (root / "train" / CLASS_FOLDERS[1] / "notes.txt").write_text("labels by hand")
    (root / "train" / CLASS_FOLDERS[2] / "Thumbs.db").write_bytes(b"\0")
    dataset = open_dataset(_options(root), "train", GRAY)
    assert len(dataset) == 20
    assert dataset.notes[0].startswith("skipped 2 files in ") and "(.db, .txt)" in dataset.notes[0]


def test_cifar10_in_torchvisions_layout(tmp_path: Path) -> None:
    root = write_cifar10(tmp_path / "cifar", per_batch=8, test=12)
    train = open_dataset(_options(root), "train", Preprocessing.for_input((3, 32, 32)))
    test = open_dataset(_options(root), "test", Preprocessing.for_input((3, 32, 32)))
    assert train.name == "CIFAR-10" and train.classes == CIFAR10_NAMES
    assert train.images.shape == (40, 3, 32, 32) and len(test) == 12 and train.channels == 3
    images, labels = synthetic_images(8, seed=1, size=32)
    assert torch.equal(train.images[:8, 1], images) and torch.equal(train.labels[:8], labels.long())


# --------------------------------------------------------------------------- bad data


def _spec_for(tmp_path: Path, input_shape: str) -> str:
    """specs/lenet.yaml with another input (its linear layers infer their in-features)."""
    path = tmp_path / "lenet-variant.yaml"
    path.write_text(Path(LENET).read_text().replace("input: [1, 28, 28]", f"input: {input_shape}"))
    return str(path)


def _bad_data(tmp_path: Path, case: str) -> tuple[list[str], str]:
    """(SPEC --data DIR, expected message) of one bad-data case."""
    root = tmp_path / "data"
    default = [LENET, "--data", str(root)]
    if case.startswith("cifar"):
        write_cifar10(root, per_batch=4, test=4)
        default = [_spec_for(tmp_path, "[3, 32, 32]"), "--data", str(root)]
        batch = root / "cifar-10-batches-py" / "data_batch_2"
        if case == "cifar truncated":
            batch.write_bytes(batch.read_bytes()[:900])
            return default, "data_batch_2: truncated or corrupt pickle"
        if case == "cifar payload":
            write_payload_batch(batch, tmp_path / "payload-ran")
            return default, "data_batch_2: refused: the file asks to run posix.system"
        data = pickle_load(batch)
        data["labels"][0] = 10
        pickle_dump(batch, data)
        return default, "data_batch_2: label 10 is out of range: labels must lie in 0..9"
    if case == "idx labels out of range":
        write_fashion_mnist(root, train=20, test=10)
        write_idx(root / IDX_FILES["test_labels"], torch.full((10,), 12, dtype=torch.uint8))
        return default, "labels must lie in 0..9"
    write_image_folder(root, train=20, val=10)
    if case == "empty class folder":
        (root / "train" / "zz-empty").mkdir()
        return default, "zz-empty: an empty class folder (no .png, .jpg, ... images)"
    if case == "non-image with an image name":
        (root / "train" / CLASS_FOLDERS[3] / "scan.png").write_text("not a picture")
        return default, "scan.png: not an image (PNG, JPEG, ...)"
    if case == "truncated image":
        victim = sorted((root / "train").rglob("*.png"))[4]
        victim.write_bytes(victim.read_bytes()[:60])
        return default, f"{victim.name}: truncated or corrupt image"
    assert case == "1-channel data for an RGB spec"
    write_fashion_mnist(root, train=20, test=10)
    return [_spec_for(tmp_path, "[3, 28, 28]"), "--data", str(root)], (
        "spec 'lenet' expects 3-channel images; Fashion-MNIST images have 1: change the "
        "spec's input to [1, 28, 28], or train on 3-channel images"
    )


def pickle_load(path: Path) -> dict:  # type: ignore[type-arg]
    import pickle

    with open(path, "rb") as stream:
        return pickle.load(stream)  # the test's own file


def pickle_dump(path: Path, value: object) -> None:
    import pickle

    path.write_bytes(pickle.dumps(value, protocol=2))


#: Each case and the code of its error (docs/errors.md).
BAD_DATA = {
    "empty class folder": "NS711",
    "non-image with an image name": "NS712",
    "truncated image": "NS712",
    "idx labels out of range": "NS715",
    "cifar label out of range": "NS715",
    "cifar truncated": "NS714",
    "cifar payload": "NS713",
    "1-channel data for an RGB spec": "NS716",
}


@pytest.mark.parametrize("case", BAD_DATA)
def test_bad_data_is_one_line_exit_1_and_no_run_directory(
    case: str, tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    spec_and_data, message = _bad_data(tmp_path, case)
    rendered: list[str | None] = []  # the code of each error rendered, the CLI's last
    render = NetspecError.render
    monkeypatch.setattr(
        NetspecError, "render", lambda self, *a: rendered.append(self.code) or render(self, *a)
    )
    out = tmp_path / "run"
    status = main(["train", *spec_and_data, "--out", str(out), "--epochs", "1", "--device",
                   "cpu", "--no-download"])  # fmt: skip
    err = capsys.readouterr().err
    assert status == 1, err
    assert rendered[-1] == BAD_DATA[case]
    assert err.startswith("error: ") and err.count("\n") == 1 and message in err, err
    assert not out.exists()
    assert not (tmp_path / "payload-ran").exists()


def test_data_that_is_handled_not_refused_trains_and_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Non-image files (skipped and counted), mixed sizes (resized) and grayscale images for
    an RGB spec (converted): the run goes ahead, and run.json records what was done."""
    root = write_image_folder(tmp_path / "data", train=30, val=10)
    (root / "train" / CLASS_FOLDERS[0] / "README.txt").write_text("where these came from")
    Image.fromarray(np.zeros((40, 30), np.uint8)).save(root / "train" / CLASS_FOLDERS[1] / "x.png")
    out = tmp_path / "run"
    assert main(["train", _spec_for(tmp_path, "[3, 28, 28]"), "--data", str(root), "--out",
                 str(out), "--epochs", "1", "--device", "cpu"]) == 0  # fmt: skip
    err = capsys.readouterr().err
    assert err == f"note: skipped 1 file in {root / 'train'} that is not an image (.txt)\n"
    info = json.loads((out / "run.json").read_text())
    assert info["train_samples"] == 31 and info["data"]["notes"] == [err[6:-1]]


def test_folder_class_names_travel_from_training_to_predict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Train on a folder of four classes; build --weights embeds the folder names (from the
    checkpoint and from best.safetensors); predict prints them."""
    root = write_image_folder(tmp_path / "data", train=80, val=20, classes=4)
    spec = tmp_path / "four.yaml"
    spec.write_text(
        "name: four\ninput: [1, 28, 28]\n"
        "train: {optimizer: adam, lr: 0.01, batch_size: 16, epochs: 2}\n"
        "layers:\n  - conv: {out: 6, kernel: 5, padding: 2}\n  - relu\n  - maxpool: {kernel: 2}\n"
        "  - flatten\n  - linear: {out: 4}\n"
    )
    assert main(["train", str(spec), "--data", str(root), "--out", str(tmp_path / "run"),
                 "--device", "cpu"]) == 0  # fmt: skip
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["classes"] == list(CLASS_FOLDERS[:4]) and info["dataset"] == "image folder"
    for weights in ("best.pt", "best.safetensors"):
        artifact = tmp_path / f"four-{weights}.ts.pt"
        assert main(["build", str(spec), "--weights", str(tmp_path / "run" / weights),
                     "-o", str(artifact)]) == 0  # fmt: skip
        capsys.readouterr()
        picture = sorted((root / "val" / CLASS_FOLDERS[2]).glob("*.png"))[0]
        assert main(["predict", str(artifact), str(picture), "--top", "4", "--json"]) == 0
        document = json.loads(capsys.readouterr().out)
        names = [row["class"] for row in document["predictions"][0]["top"]]
        assert sorted(names) == sorted(CLASS_FOLDERS[:4])
    from netspec.artifacts import load_artifact

    meta = load_artifact(tmp_path / "four-best.safetensors.ts.pt").meta
    assert meta["training"]["dataset"] == "image folder" and meta["classes"][0] == "0-class"
    assert main(["eval", str(spec), "--weights", str(tmp_path / "run" / "best.safetensors"),
                 "--data", str(root), "--device", "cpu"]) == 0  # fmt: skip
    report = capsys.readouterr().out.splitlines()
    assert report[0].startswith("test acc ") and report[0].endswith("/8)")  # 2 per class
    assert [line.split()[0] for line in report[2:]] == list(CLASS_FOLDERS[:4])
    # Without --data, the checkpoint's run directory says what it trained on (run.json).
    assert main(["eval", str(spec), "--weights", str(tmp_path / "run" / "best.pt"),
                 "--device", "cpu"]) == 0  # fmt: skip
    assert capsys.readouterr().out.splitlines() == report
    # A lower precision of the run's checkpoint is checked on that data too.
    bf16 = tmp_path / "four-bf16.ts.pt"
    assert main(["build", str(spec), "--weights", str(tmp_path / "run" / "best.pt"),
                 "--precision", "bf16", "-o", str(bf16)]) == 0  # fmt: skip
    accuracy_line = capsys.readouterr().out.splitlines()[1]
    assert accuracy_line.startswith(f"accuracy on 8 test images of {root}: fp32 ")


def test_decoding_workers_end_quietly_under_the_clis_signal_handlers(
    capfd: pytest.CaptureFixture[str],
) -> None:
    """The CLI turns SIGTERM into an exception (netspec.atomic.signals_interrupt); forked
    decoding workers must not inherit that, or the pool's own SIGTERM at its end prints a
    traceback per worker."""
    from netspec.atomic import signals_interrupt
    from netspec.datasets import _parallel_map

    with signals_interrupt():
        results = list(_parallel_map(abs, list(range(-600, 0)), workers=2))
    assert results == list(range(600, 0, -1))
    assert "Traceback" not in capfd.readouterr().err
