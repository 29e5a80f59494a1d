"""The command line as a user meets it: exit statuses, messages, artifacts, help."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from conftest import SPECS, cli_env
from netspec.artifacts import inspect_artifact
from netspec.cli import main
from netspec.commands import COMMANDS
from netspec.runtime import quiet_jit
from seed_models import lenet


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netspec", *args],
        capture_output=True,
        text=True,
        env=cli_env(),
        cwd=cwd,
        timeout=300,
    )


def test_check_ok(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", str(SPECS / "googlenet.yaml")]) == 0
    assert capsys.readouterr().out.endswith(
        "ok: googlenet, input (1, 96, 96) -> output (10), 5,977,530 parameters, 88 modules\n"
    )


def test_check_never_imports_torch() -> None:
    code = (
        "import sys\n"
        "from netspec.cli import main\n"
        f"status = main(['check', {str(SPECS / 'googlenet.yaml')!r}, '-q'])\n"
        f"main(['summary', {str(SPECS / 'vgg11.yaml')!r}, '--set', 'ratio=8'])\n"
        "assert status == 0\n"
        "assert 'torch' not in sys.modules, 'check imported torch'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], env=cli_env(), capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr


def test_invalid_spec_exits_1_with_compiler_message(tmp_path: Path) -> None:
    (tmp_path / "bad.yaml").write_text("name: b\ninput: [1, 28, 28]\nlayers:\n  - relux\n")
    done = run_cli("check", "bad.yaml", cwd=tmp_path)
    assert done.returncode == 1
    assert done.stdout == ""
    assert done.stderr.startswith("bad.yaml:4:5: error: unknown layer kind 'relux'\n")
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["check", str(SPECS / "vgg11.yaml"), "--set", "ratoi=8"],
            "netspec check: error: unknown param 'ratoi' in --set\nhint: did you mean 'ratio'?\n",
        ),
        (
            ["check", str(SPECS / "vgg11.yaml"), "--set", "ratio"],
            "netspec check: error: --set expects NAME=VALUE, got 'ratio'\n",
        ),
        (
            ["check", str(SPECS / "vgg11.yaml"), "--set", "ratio=eight"],
            "netspec check: error: --set ratio: value 'eight' is not a number "
            "(undefined param 'eight')\n",
        ),
    ],
)
def test_set_misuse_exits_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(argv) == 2
    assert capsys.readouterr().err == message


def test_argparse_misuse_exits_2() -> None:
    done = run_cli("check")
    assert done.returncode == 2
    assert "the following arguments are required: SPEC" in done.stderr


def test_missing_file_exits_1() -> None:
    done = run_cli("check", "no/such/spec.yaml")
    assert done.returncode == 1
    assert done.stderr == "netspec: error: spec file not found: no/such/spec.yaml\n"


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_an_example(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as stopped:
        main([command, "--help"])
    assert stopped.value.code == 0
    assert "example" in capsys.readouterr().out


def test_set_changes_the_network(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", str(SPECS / "vgg11.yaml"), "--set", "ratio=8"]) == 0
    out = capsys.readouterr().out
    assert "vgg_block_1.0  conv" in out
    assert "2,018,346 parameters" in out


def test_build_writes_verified_torchscript_with_metadata(tmp_path: Path) -> None:
    done = run_cli("build", str(SPECS / "lenet.yaml"), "--seed", "0", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    artifact = tmp_path / "lenet.ts.pt"
    assert done.stdout.startswith(f"wrote {artifact.name} (")
    assert "reloaded output matches eager (max abs diff" in done.stdout
    assert "deprecated" not in done.stderr
    _, meta, spec_text = inspect_artifact(artifact)
    assert spec_text == (SPECS / "lenet.yaml").read_text()
    assert meta["input_shape"] == [1, 28, 28]
    assert meta["params"] == {"classes": 10}
    assert meta["torch_version"] == torch.__version__
    assert set(meta) >= {"netspec_version", "python_version", "preprocessing"}
    with quiet_jit():
        scripted = torch.jit.load(str(artifact))
    assert scripted(torch.rand(3, 1, 28, 28)).shape == (3, 10)
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_build_with_weights_exports_those_weights(tmp_path: Path) -> None:
    reference = lenet().eval()
    torch.save(reference.state_dict(), tmp_path / "weights.pt")
    out = tmp_path / "trained.ts.pt"
    status = main(
        [
            "build",
            str(SPECS / "lenet.yaml"),
            "--weights",
            str(tmp_path / "weights.pt"),
            "-o",
            str(out),
        ]
    )
    assert status == 0
    with quiet_jit():
        scripted = torch.jit.load(str(out))
    x = torch.rand(4, 1, 28, 28)
    torch.testing.assert_close(scripted(x), reference(x))


def test_build_with_mismatched_weights_is_a_clean_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    state = lenet().state_dict()
    state["7.weight"] = torch.zeros(120, 399)
    del state["11.bias"]
    torch.save(state, tmp_path / "w.pt")
    status = main(
        [
            "build",
            str(SPECS / "lenet.yaml"),
            "--weights",
            str(tmp_path / "w.pt"),
            "-o",
            str(tmp_path / "x.ts.pt"),
        ]
    )
    assert status == 1
    assert capsys.readouterr().err == (
        f"netspec: error: weights in {tmp_path / 'w.pt'} do not fit this spec: missing 11.bias; "
        "shape mismatch for 7.weight (file (120, 399), model (120, 400))\n"
    )
    assert not (tmp_path / "x.ts.pt").exists()


def test_failed_verification_leaves_nothing_behind(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import netspec.export

    monkeypatch.setattr(netspec.export, "DEFAULT_TOLERANCE", -1.0)
    out = tmp_path / "lenet.ts.pt"
    assert main(["build", str(SPECS / "lenet.yaml"), "-o", str(out)]) == 1
    err = capsys.readouterr().err
    assert "exported TorchScript differs from the eager model" in err
    assert list(tmp_path.iterdir()) == []


def test_same_seed_gives_byte_identical_weights() -> None:
    import netspec

    spec = netspec.load(SPECS / "alexnet.yaml")
    first, second = spec.build(seed=7).state_dict(), spec.build(seed=7).state_dict()
    assert all(first[k].numpy().tobytes() == second[k].numpy().tobytes() for k in first)
    other = spec.build(seed=8).state_dict()
    assert not torch.equal(first["conv.0.weight"], other["conv.0.weight"])


def test_build_does_not_disturb_the_callers_random_state() -> None:
    import netspec

    torch.manual_seed(123)
    expected = torch.rand(3)
    torch.manual_seed(123)
    netspec.load(SPECS / "lenet.yaml").build(seed=5)
    assert torch.equal(torch.rand(3), expected)


def test_summary_prints_table_and_totals(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["summary", str(SPECS / "lenet.yaml")]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "lenet"
    assert lines[2].split() == ["module", "kind", "output", "params", "MACs", "RF", "activations"]
    assert lines[4].split() == ["input", "(1,", "28,", "28)"]
    assert lines[5].split() == [
        "0",
        "conv",
        "(6,",
        "28,",
        "28)",
        "156",
        "117,600",
        "5x5",
        "18.4",
        "KiB",
    ]
    assert lines[-2].split() == ["total", "(10)", "61,706", "416,520", "32x32", "58.6", "KiB"]
    assert lines[-1] == (
        "61,706 parameters (61.71K), 416.52K multiply-accumulates and 58.6 KiB of "
        "activations per sample (fp32)"
    )


def test_json_spec_works_end_to_end(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    spec = {
        "name": "mlp",
        "input": [784],
        "params": {"h": 32},
        "layers": [{"linear": {"out": "h * 2"}}, "relu", {"linear": {"out": 10}}],
    }
    (tmp_path / "mlp.json").write_text(json.dumps(spec, indent=2))
    assert main(["check", str(tmp_path / "mlp.json")]) == 0
    assert "output (10), 50,890 parameters" in capsys.readouterr().out
