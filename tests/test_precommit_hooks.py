"""The pre-commit hooks this repository offers (.pre-commit-hooks.yaml).

Three levels, cheapest first:

* each hook's ``entry`` (as pre-commit runs it, with the files appended) passes on a good
  spec and on every shipped spec its ``files`` pattern selects, and fails on a bad one
  with the compiler-style diagnostic;
* ``pre-commit try-repo`` of the ``netspec-check-system`` hook (when pre-commit is
  installed): the real pre-commit reading this repository's hook file, selecting files
  and running the entry — seconds, since that hook installs nothing;
* ``pre-commit try-repo`` of ``netspec-check``, the ``language: python`` hook, only with
  ``NETSPEC_PRECOMMIT_INSTALL=1``: pre-commit then builds a virtual environment and
  pip-installs this repository into it, torch and its CUDA wheels included — about five
  minutes per run on a two-core machine, so the default suite leaves it out.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from ruamel.yaml import YAML

from conftest import ROOT

HOOKS = {hook["id"]: hook for hook in YAML(typ="safe").load(ROOT / ".pre-commit-hooks.yaml")}
BAD = "name: bad\ninput: [1, 28, 28]\nlayers:\n  - conv: {out: 6, kernal: 5}\n"
DIAGNOSTIC = "bad.netspec.yaml:4:20: error: conv: unknown key 'kernal'"
SHIPPED = sorted(str(p.relative_to(ROOT)) for p in (ROOT / "specs").rglob("*.yaml"))


def selected(hook: dict, paths: list[str]) -> list[str]:
    """The paths pre-commit hands the hook: those its ``files`` pattern searches out."""
    return [p for p in paths if re.search(hook["files"], p)]


def run_entry(hook: dict, files: list[str], env: dict[str, str]) -> subprocess.CompletedProcess:
    command = [*shlex.split(hook["entry"]), *files]
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)


def test_the_hooks_select_specs_and_nothing_else() -> None:
    for hook in HOOKS.values():
        paths = [
            "model.netspec.yaml",
            "nets/deep/model.netspec.yml",
            "nets/model.netspec.json",
            "specs/lenet.yaml",
            "specs/lib/inception.yaml",  # a block library, checked through its importers
            ".github/workflows/ci.yaml",
            "docs/notspecs/specs/x.yaml",
        ]
        assert selected(hook, paths) == paths[:4]
    assert set(HOOKS) == {"netspec-check", "netspec-check-system"}
    assert HOOKS["netspec-check"]["language"] == "python"


@pytest.mark.parametrize("hook_id", sorted(HOOKS))
def test_hook_entry_passes_good_specs_and_fails_a_bad_one(
    hook_id: str, tmp_path: Path, netspec_on_path: dict[str, str]
) -> None:
    hook = HOOKS[hook_id]
    good = selected(hook, SHIPPED)
    assert len(good) >= 8 and "specs/lib/inception.yaml" not in good
    done = run_entry(hook, good, netspec_on_path)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    bad = tmp_path / "bad.netspec.yaml"
    bad.write_text(BAD)
    done = run_entry(hook, [good[0], str(bad)], netspec_on_path)
    assert done.returncode == 1
    assert done.stderr.startswith(str(tmp_path / DIAGNOSTIC))


def try_repo(hook_id: str, files: list[str], env: dict[str, str], home: Path):
    pre_commit = [sys.executable, "-m", "pre_commit"]
    command = [*pre_commit, "try-repo", str(ROOT), hook_id, "--files", *files]
    env = {**env, "PRE_COMMIT_HOME": str(home), "PRE_COMMIT_COLOR": "never"}
    return subprocess.run(command, env=env, cwd=ROOT, capture_output=True, text=True)


def check_try_repo(hook_id: str, tmp_path: Path, env: dict[str, str]) -> None:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("pre-commit try-repo needs this checkout's git repository")
    bad = tmp_path / "bad.netspec.yaml"
    bad.write_text(BAD)
    failed = try_repo(hook_id, [str(bad)], env, tmp_path / "home")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "Failed" in failed.stdout and DIAGNOSTIC in failed.stdout
    passed = try_repo(hook_id, SHIPPED, env, tmp_path / "home")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout


def test_pre_commit_try_repo_with_the_installed_netspec(
    tmp_path: Path, netspec_on_path: dict[str, str]
) -> None:
    pytest.importorskip("pre_commit")
    check_try_repo("netspec-check-system", tmp_path, netspec_on_path)


@pytest.mark.skipif(
    os.environ.get("NETSPEC_PRECOMMIT_INSTALL") != "1",
    reason="installs netspec and torch into a fresh environment (minutes): "
    "set NETSPEC_PRECOMMIT_INSTALL=1",
)
def test_pre_commit_try_repo_installing_netspec(tmp_path: Path) -> None:
    pytest.importorskip("pre_commit")
    # The hook's own environment must provide netspec: nothing of this checkout's path.
    env = {name: value for name, value in os.environ.items() if name != "PYTHONPATH"}
    check_try_repo("netspec-check", tmp_path, env)
