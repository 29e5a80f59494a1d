"""The adversarial corpus of issue 12: hostile inputs against every command.

Each case prepares a folder (``work/``, the working directory, beside ``outside/``, which
holds a secret the spec must not reach), runs one ``netspec`` command and asserts, as a
user would see it: the exit status; no traceback; the message; nothing printed that could
drive a terminal (no raw control characters); and that no file changed except the ones
the case names (a snapshot of the whole folder before and after). Payload cases also
assert that the payload's marker file was never created — and, for the crafted ``.pt2``
and TorchScript archives, a control proves that the payload is real: loading the same
file with torch directly does run it.

Data-file cases (images, IDX, gzip, CIFAR batches) are at the end.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import pickle
import re
import shutil
import signal
import stat
import struct
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from conftest import cli_env
from netspec.cli import main
from netspec.runtime import quiet_jit
from netspec.train.rundir import RUN_FILES
from test_error_catalogue import COMMAND_EXAMPLES, CommandExample, record_codes
from train_support import write_fashion_mnist

pytestmark = pytest.mark.usefixtures("single_thread")

try:
    import onnx  # noqa: F401

    HAVE_ONNX = True
except ImportError:
    HAVE_ONNX = False

#: A tiny network on Fashion-MNIST's input: builds, exports and trains in well under a second.
TINY = """\
name: tiny
input: [1, 28, 28]
layers:
  - avgpool: {kernel: 4}
  - sigmoid
  - flatten
  - linear: {out: 10}
"""
#: The same shapes and parameter names with another activation (another network).
TINY_RELU = TINY.replace("sigmoid", "relu")
SPEC = "name: demo\ninput: [1, 28, 28]\n"
#: Raw bytes that must never reach a terminal: C0 controls (but tab/newline) and DEL.
RAW_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")
MARKER = "pwned"


class Evil:
    """A pickle that runs a shell command when loaded: the classic payload."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # type: ignore[no-untyped-def]
        return (os.system, (f"touch {self.marker}",))


# --- the assets every case may copy: artifacts, data, a finished run ----------------------


@dataclass
class Assets:
    folder: Path
    artifacts: dict[str, Path] = field(default_factory=dict)
    data: Path | None = None
    run: Path | None = None

    def copy(self, name: str, to: Path) -> Path:
        source = self.artifacts.get(name) or self.folder / name
        if source.is_dir():
            shutil.copytree(source, to)
        else:
            shutil.copyfile(source, to)
        return to


@pytest.fixture(scope="module")
def assets(tmp_path_factory: pytest.TempPathFactory) -> Assets:
    folder = tmp_path_factory.mktemp("assets")
    (folder / "tiny.yaml").write_text(TINY)
    found = Assets(folder)
    cwd = os.getcwd()
    os.chdir(folder)
    try:
        formats = ["torchscript", "export"] + (["onnx"] if HAVE_ONNX else [])
        for fmt, suffix in zip(formats, [".ts.pt", ".pt2", ".onnx"], strict=False):
            assert main(["build", "tiny.yaml", "--format", fmt, "-o", f"tiny{suffix}"]) == 0
            found.artifacts[fmt] = folder / f"tiny{suffix}"
        found.data = write_fashion_mnist(folder / "data", train=64, test=32)
        flags = ["--data-dir", "data", "--device", "cpu", "--no-download", "--batch-size", "32"]
        assert main(["train", "tiny.yaml", "--out", "run", "--epochs", "1", *flags]) == 0
        found.run = folder / "run"
    finally:
        os.chdir(cwd)
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(folder / "shoe.png")
    torch.save({"w": torch.zeros(2)}, folder / "weights.pt")
    return found


# --- the harness --------------------------------------------------------------------------


@dataclass
class Case:
    """One hostile input: what to prepare, what to run, and what must come out."""

    id: str
    argv: list[str]
    status: int
    message: str
    setup: Callable[[Path, Assets], None] = lambda work, assets: None
    #: Paths (relative to the case folder) that may be created, changed or removed.
    changed: frozenset[str] = frozenset()
    env: dict[str, str] = field(default_factory=dict)
    #: Run without permission overrides (as root: without CAP_DAC_OVERRIDE), in a child.
    unprivileged: bool = False
    #: Text stdout must contain (successful cases); error cases print nothing on stdout.
    stdout: str = ""


def snapshot(root: Path) -> dict[str, tuple[str, str]]:
    """Every entry under ``root``: its kind and content (files by digest, links by target)."""
    entries: dict[str, tuple[str, str]] = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        for name in dirs + files:
            path = Path(folder) / name
            relative = str(path.relative_to(root))
            mode = path.lstat().st_mode
            if stat.S_ISLNK(mode):
                entries[relative] = ("link", os.readlink(path))
            elif stat.S_ISREG(mode):
                entries[relative] = ("file", hashlib.sha256(path.read_bytes()).hexdigest())
            else:
                entries[relative] = (stat.filemode(mode)[0], "")
    return entries


def changes(before: dict[str, tuple[str, str]], after: dict[str, tuple[str, str]]) -> set[str]:
    return {path for path in before.keys() | after.keys() if before.get(path) != after.get(path)}


def prepare(tmp_path: Path) -> Path:
    work = tmp_path / "work"
    work.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.yaml").write_text("blocks:\n  secret: [relu]  # TOP-SECRET-LINE\n")
    return work


def unprivileged_command(argv: list[str]) -> list[str]:
    """``netspec argv`` in a child that file permissions apply to, even when we are root."""
    command = [sys.executable, "-m", "netspec", *argv]
    if os.geteuid() != 0:
        return command
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: permissions cannot apply")
    caps = "-dac_override,-dac_read_search"
    return ["setpriv", f"--inh-caps={caps}", f"--bounding-set={caps}", "--", *command]


def run_case(
    case: Case,
    tmp_path: Path,
    assets: Assets,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> tuple[str, str]:
    work = prepare(tmp_path)
    case.setup(work, assets)
    before = snapshot(tmp_path)
    if case.unprivileged:
        done = subprocess.run(
            unprivileged_command(case.argv),
            cwd=work,
            capture_output=True,
            text=True,
            env={**cli_env(), **case.env},
            timeout=300,
        )
        status, out, err = done.returncode, done.stdout, done.stderr
    else:
        monkeypatch.chdir(work)
        for name, value in case.env.items():
            monkeypatch.setenv(name, value)
        status = main(case.argv)
        out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    assert not RAW_CONTROL.search(out + err), "control characters reached the terminal"
    assert case.message in err, err
    assert status == case.status, err
    if status and not case.stdout:
        assert out == ""
    else:
        assert case.stdout in out
    if not case.message:  # success says nothing on stderr: no log or warning of torch's
        assert err == ""
    assert changes(before, snapshot(tmp_path)) == set(case.changed)
    assert not (work / MARKER).exists() and not (tmp_path / MARKER).exists()
    return out, err


def write(name: str, content: str | bytes) -> Callable[[Path, Assets], None]:
    def setup(work: Path, assets: Assets) -> None:
        path = work / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content)

    return setup


def steps(*setups: Callable[[Path, Assets], None]) -> Callable[[Path, Assets], None]:
    def setup(work: Path, assets: Assets) -> None:
        for one in setups:
            one(work, assets)

    return setup


def fifo(name: str) -> Callable[[Path, Assets], None]:
    return lambda work, assets: os.mkfifo(work / name)


def link(name: str, target: str) -> Callable[[Path, Assets], None]:
    return lambda work, assets: os.symlink(target, work / name)


def folder(name: str) -> Callable[[Path, Assets], None]:
    return lambda work, assets: (work / name).mkdir(parents=True)


def readonly_folder(name: str) -> Callable[[Path, Assets], None]:
    def setup(work: Path, assets: Assets) -> None:
        (work / name).mkdir()
        (work / name).chmod(0o555)

    return setup


def asset(name: str, to: str | None = None) -> Callable[[Path, Assets], None]:
    return lambda work, assets: assets.copy(name, work / (to or name)) and None


def tiny(text: str = TINY, name: str = "tiny.yaml") -> Callable[[Path, Assets], None]:
    return write(name, text)


def deep_block(levels: int) -> str:
    return SPEC + "layers:\n" + "".join("  " * i + "- \n" for i in range(1, levels))


# --- specs and imports (netspec check) -----------------------------------------------------

# fmt: off
SPEC_CASES = [
    Case("spec is a FIFO", ["check", "f.yaml"], 1,
         "netspec: error: spec path is a FIFO, not a file: f.yaml", fifo("f.yaml")),
    Case("spec is /dev/zero", ["check", "/dev/zero"], 1,
         "netspec: error: spec path is a character device, not a file: /dev/zero"),
    Case("spec is a directory", ["check", "d"], 1,
         "netspec: error: spec path is a directory, not a file: d", folder("d")),
    Case("spec is missing", ["check", "nope.yaml"], 1,
         "netspec: error: spec file not found: nope.yaml"),
    Case("spec is a symlink loop", ["check", "loop.yaml"], 1,
         "netspec: error: cannot read spec file loop.yaml: a symbolic link loop",
         link("loop.yaml", "loop.yaml")),
    Case("spec is unreadable", ["check", "s.yaml"], 1,
         "netspec: error: cannot read spec file s.yaml: permission denied",
         steps(write("s.yaml", SPEC + "layers: [flatten]\n"),
               lambda work, assets: (work / "s.yaml").chmod(0)),
         unprivileged=True),
    Case("spec is over 1 MiB", ["check", "big.yaml"], 1,
         "big.yaml:1:1: error: spec file is too large (1048577 bytes; the limit is 1048576)",
         write("big.yaml", "#" * (1 << 20) + "\n")),
    Case("spec is empty", ["check", "e.yaml"], 1, "e.yaml:1:1: error: spec file is empty",
         write("e.yaml", "")),
    Case("NUL byte in a spec", ["check", "n.yaml"], 1,
         "n.yaml:2:9: error: spec file is binary, not text (NUL byte at offset 19)\n"
         "    2 | input: [\\x00",
         write("n.yaml", b"name: demo\ninput: [\x00]\n")),
    Case("invalid UTF-8", ["check", "u.yaml"], 1,
         "u.yaml:4:7: error: spec file is not UTF-8 text (invalid byte at offset 44)",
         write("u.yaml", SPEC.encode() + b"layers:\n  - fl\xffatten\n")),
    Case("invalid UTF-8 after a BOM", ["check", "u.yaml"], 1,
         "u.yaml:1:7: error: spec file is not UTF-8 text (invalid byte at offset 6)",
         write("u.yaml", b"\xef\xbb\xbfname: \xfe\n")),
    Case("duplicate JSON key", ["check", "d.json"], 1,
         'd.json:3:2: error: duplicate key \'input\'\n    3 |  "input": [1, 32, 32],',
         write("d.json", '{"name": "d",\n "input": [1, 28, 28],\n "input": [1, 32, 32],\n'
                         ' "layers": ["flatten"]}\n')),
    Case("duplicate YAML key", ["check", "d.yaml"], 1,
         "d.yaml:3:1: error: invalid YAML: duplicate key 'input'",
         write("d.yaml", SPEC + "input: [1, 8, 8]\nlayers: [flatten]\n")),
    Case("block nesting 400 deep", ["check", "deep.yaml"], 1,
         "deep.yaml:51:97: error: spec is nested too deeply (the limit is 48 levels)",
         write("deep.yaml", deep_block(400))),
    Case("compact sequences 300 deep", ["check", "deep.yaml"], 1,
         "deep.yaml:4:97: error: spec is nested too deeply (the limit is 48 levels)",
         write("deep.yaml", SPEC + "layers:\n  - " + "- " * 300 + "relu\n")),
    Case("mappings 400 deep", ["check", "deep.yaml"], 1,
         "deep.yaml:51:97: error: spec is nested too deeply (the limit is 48 levels)",
         write("deep.yaml", SPEC + "x:\n" + "".join("  " * i + "k:\n" for i in range(1, 400)))),
    Case("brackets 5000 deep", ["check", "deep.yaml"], 1,
         "deep.yaml:3:52: error: spec is nested too deeply (the limit is 48 levels)",
         write("deep.yaml", SPEC + "x: " + "[" * 5000 + "]" * 5000 + "\n")),
    Case("JSON arrays 5000 deep", ["check", "deep.json"], 1,
         "deep.json:1:94: error: spec is nested too deeply (the limit is 48 levels)",
         write("deep.json", '{"name": "d", "input": [1, 28, 28], "layers": ' + "[" * 5000)),
    Case("YAML merge key", ["check", "m.yaml"], 1,
         "m.yaml:7:7: error: YAML merge keys ('<<') are not supported: write the keys out\n"
         "    7 |       <<: *b\n      |       ^~",
         write("m.yaml", SPEC + "base: &b {out: 4}\nlayers:\n  - flatten\n  - linear:\n"
                                "      <<: *b\n")),
    Case("YAML merge key in a flow mapping", ["check", "m.yaml"], 1,
         "m.yaml:4:29: error: YAML merge keys ('<<') are not supported",
         write("m.yaml", SPEC + "x: &x {out: 4}\nlayers: [flatten, {linear: {<<: *x}}]\n")),
    Case("alias bomb", ["check", "bomb.yaml"], 1, "error: spec has too many nodes",
         write("bomb.yaml", "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
             f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]\n" for i in range(1, 10)))),
    Case("python tag", ["check", "tag.yaml"], 1,
         "error: YAML tag '!!python/object/apply:os.system' is not allowed",
         write("tag.yaml", f"name: !!python/object/apply:os.system ['touch {MARKER}']\n"
                           "input: [1, 28, 28]\nlayers: [flatten]\n")),
    Case("ESC in a layer kind", ["check", "esc.yaml"], 1,
         "esc.yaml:4:5: error: unknown layer kind 'lin\\x1b]0;pwned\\x07ear'",
         write("esc.yaml", SPEC + 'layers:\n  - "lin\\e]0;pwned\\aear": {}\n')),
    Case("ESC in a layer kind, as JSON", ["check", "esc.yaml", "--format", "json"], 1, "",
         write("esc.yaml", SPEC + 'layers:\n  - "lin\\e]0;pwned\\aear": {}\n'),
         stdout="\"message\": \"unknown layer kind 'lin\\\\x1b]0;pwned\\\\x07ear'\""),
    Case("ESC in a layer kind, as SARIF", ["check", "esc.yaml", "--format", "sarif"], 1, "",
         write("esc.yaml", SPEC + 'layers:\n  - "lin\\e]0;pwned\\aear": {}\n'),
         stdout="unknown layer kind 'lin\\\\x1b]0;pwned\\\\x07ear'"),
    Case("raw ESC byte in a spec", ["check", "esc.yaml"], 1,
         "esc.yaml:4:13: error: invalid YAML: unacceptable character #x001b: special "
         "characters are not allowed\n    4 |   - relu  # \\x1b[2J\n      |             ^~~~",
         write("esc.yaml", SPEC + "layers:\n  - relu  # \x1b[2J\n")),
    Case("raw BEL in a quoted line", ["check", "bel.yaml"], 1,
         "bel.yaml:3:10: error: invalid YAML: unacceptable character #x0007: special "
         "characters are not allowed\n    3 | layers: [\\x07, relux]",
         write("bel.yaml", SPEC + "layers: [\x07, relux]\n")),
    Case("bidi override in a kind", ["check", "bidi.yaml"], 1,
         "unknown layer kind 'relu\\u202exuler'",
         write("bidi.yaml", SPEC + "layers: [\"relu\u202exuler\"]\n")),
    Case("900 KB line", ["check", "long.yaml"], 1,
         "long.yaml:3:900041: error: unknown layer kind 'linearr'\n    3 | ...",
         write("long.yaml", SPEC + "layers: [flatten, {linear: {out: 10}}, " + " " * 900000
                            + "{linearr: {}}]\n")),
    Case("900 KB layer kind", ["check", "long.yaml"], 1,
         "error: unknown layer kind 'xxxxxxxxxx",
         write("long.yaml", SPEC + "layers: [" + "x" * 900000 + "]\n")),
    Case("NUL in the spec name", ["check", "n.yaml"], 1,
         "n.yaml:1:7: error: spec: 'name' must not contain control characters, got the string "
         "'a\\x00b'",
         write("n.yaml", 'name: "a\\0b"\ninput: [1, 28, 28]\nlayers: [flatten]\n')),
    Case("ESC in class names", ["check", "c.yaml"], 1,
         "spec: 'classes.0' must not contain control characters, got the string 'a\\x1b[2J'",
         write("c.yaml", SPEC + 'classes: ["a\\e[2J"]\nlayers: [flatten, {linear: {out: 1}}]\n')),
    Case("ESC in the description", ["check", "c.yaml"], 1,
         "spec: 'description' must not contain control characters",
         write("c.yaml", SPEC + 'description: "\\e]0;x\\a"\nlayers: [flatten]\n')),
    Case("param used before it is defined", ["check", "p.yaml"], 1,
         "p.yaml:4:6: error: params: 'a': undefined param 'b'\n    4 |   a: b * 2\n"
         "      |      ^\nhint: 'b' is defined later, at line 5; a param can use only the "
         "params above it",
         write("p.yaml", SPEC + "params:\n  a: b * 2\n  b: 8\nlayers: [flatten]\n")),
    Case("param defined by itself", ["check", "p.yaml"], 1,
         "hint: 'a' cannot be defined in terms of itself",
         write("p.yaml", SPEC + "params: {a: a * 2}\nlayers: [flatten]\n")),
    Case("lr: .inf", ["check", "lr.yaml"], 1,
         "lr.yaml:3:13: error: train: 'lr' must be a finite number, got the number inf",
         write("lr.yaml", SPEC + "train: {lr: .inf}\nlayers: [flatten]\n")),
    Case("lr: .nan", ["check", "lr.yaml"], 1,
         "train: 'lr' must be a finite number, got the number nan",
         write("lr.yaml", SPEC + "train: {lr: .nan}\nlayers: [flatten]\n")),
    Case("weight_decay: .inf", ["check", "wd.yaml"], 1,
         "train: 'weight_decay' must be a finite number, got the number inf",
         write("wd.yaml", SPEC + "train: {weight_decay: .inf}\nlayers: [flatten]\n")),
    Case("--set to infinity", ["check", "x.yaml", "--set", "x=1e400"], 2,
         "netspec check: error: --set x: value '1e400' is not a number (expression result is "
         "not a finite number)",
         write("x.yaml", SPEC + "params: {x: 2.0}\nlayers: [flatten, {dropout: {p: x}}]\n")),
    Case("2 ** 2 ** 64", ["check", "pow.yaml"], 1,
         "pow.yaml:3:18: error: params: 'n': number is too large (limit 1e+12)",
         write("pow.yaml", SPEC + "params: {n: 2 ** 2 ** 64}\nlayers: [flatten]\n")),
    Case("4 TB of weights warns at check", ["check", "big.yaml"], 0,
         "big.yaml: warning: the parameters need 3.6 TiB (1,000,001,000,000 float32 values), "
         "more than the memory limit of",
         write("big.yaml", "name: big\ninput: [1000000]\nlayers: [{linear: {out: 1000000}}]\n"),
         stdout="big.yaml: ok: big"),
    Case("memory limit that is not a size", ["check", "tiny.yaml"], 2,
         "netspec check: error: NETSPEC_MEMORY_LIMIT='lots' is not a size", tiny(),
         env={"NETSPEC_MEMORY_LIMIT": "lots"}),
    Case("memory limit of 0%", ["check", "tiny.yaml"], 2,
         "NETSPEC_MEMORY_LIMIT='0%': a percentage must be above 0 and at most 100", tiny(),
         env={"NETSPEC_MEMORY_LIMIT": "0%"}),
    Case("user block recursion 2^29 layers", ["check", "rec.yaml"], 1, "error: ",
         write("rec.yaml", SPEC + "blocks:\n" + "".join(
             f"  b{i}: [b{i - 1}, b{i - 1}]\n" for i in range(1, 30)) + "  b0: [relu]\n"
             "layers: [b29]\n")),
]
# fmt: on

# fmt: off
IMPORT_CASES = [
    Case("import of a directory", ["check", "s.yaml"], 1,
         "s.yaml:3:11: error: imports: 'lib.yaml' is a directory, not a file",
         steps(write("s.yaml", SPEC + "imports: [lib.yaml]\nlayers: [relu]\n"),
               folder("lib.yaml"))),
    Case("import symlink loop", ["check", "s.yaml"], 1,
         "s.yaml:3:11: error: imports: 'lib.yaml' is a symbolic link loop",
         steps(write("s.yaml", SPEC + "imports: [lib.yaml]\nlayers: [relu]\n"),
               link("lib.yaml", "lib.yaml"))),
    Case("import outside the spec's folder", ["check", "s.yaml"], 1,
         "s.yaml:3:11: error: imports: '../outside/secret.yaml' is outside the spec's folder",
         write("s.yaml", SPEC + "imports: [../outside/secret.yaml]\nlayers: [secret]\n")),
    Case("import through a link that leaves the folder", ["check", "s.yaml"], 1,
         "imports: 'lib.yaml' is outside the spec's folder",
         steps(write("s.yaml", SPEC + "imports: [lib.yaml]\nlayers: [secret]\n"),
               link("lib.yaml", "../outside/secret.yaml"))),
    Case("import of /dev/zero through a link", ["check", "s.yaml"], 1,
         "imports: 'zero.yaml' is outside the spec's folder",
         steps(write("s.yaml", SPEC + "imports: [zero.yaml]\nlayers: [relu]\n"),
               link("zero.yaml", "/dev/zero"))),
    Case("import of a FIFO", ["check", "s.yaml"], 1,
         "spec path is a FIFO, not a file",
         steps(write("s.yaml", SPEC + "imports: [lib.yaml]\nlayers: [relu]\n"),
               fifo("lib.yaml"))),
    Case("absolute import", ["check", "s.yaml"], 1,
         "imports: '/etc/passwd.yaml' is an absolute path",
         write("s.yaml", SPEC + "imports: [/etc/passwd.yaml]\nlayers: [relu]\n")),
    Case("missing import", ["check", "s.yaml"], 1, "imported file not found: 'lib/x.yaml'",
         write("s.yaml", SPEC + "imports: [lib/x.yaml]\nlayers: [relu]\n")),
    Case("merge key in an imported file", ["check", "s.yaml"], 1,
         "lib.yaml:3:4: error: YAML merge keys ('<<') are not supported",
         steps(write("s.yaml", SPEC + "imports: [lib.yaml]\nlayers: [relu]\n"),
               write("lib.yaml", "x: &x {a: [relu]}\nblocks:\n  {<<: *x}\n"))),
    Case("import nested below stays inside", ["check", "sub/s.yaml"], 1,
         "imports: '../../outside/secret.yaml' is outside the spec's folder",
         write("sub/s.yaml", SPEC + "imports: [../../outside/secret.yaml]\nlayers: [relu]\n")),
]
# fmt: on

# --- writing: build, graph, schema ---------------------------------------------------------

TINY_LIB = TINY.replace("  - sigmoid\n", "  - act\n").replace(
    "layers:", "imports: [lib.yaml]\nlayers:"
)
LIB = steps(write("lib.yaml", "blocks:\n  act: [sigmoid]\n"), tiny(TINY_LIB))

# fmt: off
WRITE_CASES = [
    Case("build -o the spec", ["build", "tiny.yaml", "-o", "tiny.yaml"], 1,
         "netspec: error: cannot write tiny.yaml: it is a spec file this command reads", tiny()),
    Case("build -o an imported file", ["build", "tiny.yaml", "-o", "lib.yaml"], 1,
         "cannot write lib.yaml: it is a spec file this command reads", LIB),
    Case("build -o a link to the spec", ["build", "tiny.yaml", "-o", "alias.ts.pt"], 1,
         "cannot write alias.ts.pt: it is a spec file this command reads",
         steps(tiny(), link("alias.ts.pt", "tiny.yaml"))),
    Case("build -o the weights", ["build", "tiny.yaml", "--weights", "w.pt", "-o", "w.pt"], 1,
         "cannot write w.pt: it is the weights file this command reads",
         steps(tiny(), asset("weights.pt", "w.pt"))),
    Case("graph -o the spec", ["graph", "tiny.yaml", "--format", "dot", "-o", "tiny.yaml"], 1,
         "netspec: error: cannot write tiny.yaml: it is a spec file this command reads", tiny()),
    Case("graph -o an imported file", ["graph", "tiny.yaml", "-o", "lib.yaml", "--format",
                                       "mermaid"], 1,
         "cannot write lib.yaml: it is a spec file this command reads", LIB),
    Case("build -o a FIFO", ["build", "tiny.yaml", "-o", "pipe"], 1,
         "cannot write pipe: it is a FIFO, not a file", steps(tiny(), fifo("pipe"))),
    Case("build -o /dev/null", ["build", "tiny.yaml", "-o", "/dev/null"], 1,
         "cannot write /dev/null: it is a character device, not a file", tiny()),
    Case("schema -o /dev/null", ["schema", "-o", "/dev/null"], 1,
         "netspec: error: cannot write /dev/null: it is a character device, not a file"),
    Case("graph -o /dev/null", ["graph", "tiny.yaml", "--format", "dot", "-o", "/dev/null"], 1,
         "cannot write /dev/null: it is a character device, not a file", tiny()),
    Case("schema -o a FIFO", ["schema", "-o", "pipe"], 1,
         "cannot write pipe: it is a FIFO, not a file", fifo("pipe")),
    Case("build -o a directory", ["build", "tiny.yaml", "-o", "out"], 1,
         "netspec: error: cannot write out: it is a directory, not a file",
         steps(tiny(), folder("out"))),
    Case("schema -o a directory", ["schema", "-o", "out"], 1,
         "cannot write out: it is a directory, not a file", folder("out")),
    Case("graph -o a directory", ["graph", "tiny.yaml", "--format", "dot", "-o", "out.dot"], 1,
         "cannot write out.dot: it is a directory, not a file", steps(tiny(), folder("out.dot"))),
    Case("build -o a link to a directory", ["build", "tiny.yaml", "-o", "l.ts.pt"], 1,
         "cannot write l.ts.pt: it is a directory, not a file",
         steps(tiny(), folder("d"), link("l.ts.pt", "d"))),
    Case("build -o inside a file", ["build", "tiny.yaml", "-o", "f.txt/x.ts.pt"], 1,
         "cannot write f.txt/x.ts.pt: not a directory", steps(tiny(), write("f.txt", "x"))),
    Case("build -o a read-only folder", ["build", "tiny.yaml", "-o", "ro/x.ts.pt"], 1,
         "netspec: error: cannot write ro/x.ts.pt: permission denied",
         steps(tiny(), readonly_folder("ro")), unprivileged=True),
    Case("schema -o a read-only folder", ["schema", "-o", "ro/s.json"], 1,
         "netspec: error: cannot write ro/s.json: permission denied", readonly_folder("ro"),
         unprivileged=True),
    Case("graph -o a read-only folder", ["graph", "tiny.yaml", "-o", "ro/g.mmd"], 1,
         "netspec: error: cannot write ro/g.mmd: permission denied",
         steps(tiny(), readonly_folder("ro")), unprivileged=True),
    Case("build -o a link to a file outside", ["build", "tiny.yaml", "-o", "l.ts.pt"], 0,
         "", steps(tiny(), link("l.ts.pt", "../outside/secret.yaml")),
         changed=frozenset({"work/l.ts.pt"}), stdout="wrote l.ts.pt"),
    Case("spec name ../outside/escaped", ["build", "esc.yaml"], 0, "",
         write("esc.yaml", TINY.replace("name: tiny", "name: ../outside/escaped")),
         changed=frozenset({"work/_outside_escaped.ts.pt"}),
         stdout="wrote _outside_escaped.ts.pt"),
    Case("absolute spec name", ["build", "abs.yaml", "--format", "export"], 0, "",
         write("abs.yaml", TINY.replace("name: tiny", "name: /tmp/netspec-abs")),
         changed=frozenset({"work/_tmp_netspec-abs.pt2"}), stdout="wrote _tmp_netspec-abs.pt2"),
    Case("hidden spec name", ["build", "h.yaml"], 0, "",
         write("h.yaml", TINY.replace("name: tiny", "name: ..")),
         changed=frozenset({"work/model.ts.pt"}), stdout="wrote model.ts.pt"),
    Case("graph default name of ../x", ["graph", "g.yaml", "--format", "svg"], 1,
         "cannot draw _outside_g.svg", write("g.yaml", TINY.replace("name: tiny",
                                                                    "name: ../outside/g")),
         env={"PATH": "/nonexistent"}),
    Case("train --out a FIFO", ["train", "tiny.yaml", "--out", "pipe", "--data-dir", "data",
                                "--device", "cpu", "--no-download"], 2,
         "error: --out pipe is a FIFO, not a directory; choose another --out",
         steps(tiny(), fifo("pipe"), asset("data"))),
]
# fmt: on

# --- memory, weights and checkpoints -------------------------------------------------------

BIG = write("big.yaml", "name: big\ninput: [1000000]\nlayers: [{linear: {out: 1000000}}]\n")

# fmt: off
WEIGHTS_CASES = [
    Case("10^6 x 10^6 linear at build", ["build", "big.yaml"], 1,
         "netspec: error: cannot build 'big': the parameters need 3.6 TiB (1,000,001,000,000 "
         "float32 values), more than the memory limit of", BIG),
    Case("memory limit 1K at build", ["build", "tiny.yaml"], 1,
         "cannot build 'tiny': the parameters need 2.0 KiB (500 float32 values), more than the "
         "memory limit of 1.0 KiB", tiny(), env={"NETSPEC_MEMORY_LIMIT": "1K"}),
    Case("zero-byte weights", ["build", "tiny.yaml", "--weights", "w.pt"], 1,
         "netspec: error: cannot read weights from w.pt: the file is empty (0 bytes)",
         steps(tiny(), write("w.pt", b""))),
    Case("weights are a FIFO", ["build", "tiny.yaml", "--weights", "w.pt"], 1,
         "netspec: error: weights path is a FIFO, not a file: w.pt", steps(tiny(), fifo("w.pt"))),
    Case("weights are /dev/zero", ["build", "tiny.yaml", "--weights", "/dev/zero"], 1,
         "weights path is a character device, not a file: /dev/zero", tiny()),
    Case("weights are a directory", ["build", "tiny.yaml", "--weights", "w"], 1,
         "weights path is a directory, not a file: w", steps(tiny(), folder("w"))),
    Case("weights are a pickle payload", ["build", "tiny.yaml", "--weights", "w.pt"], 1,
         "netspec: error: cannot read weights from w.pt: Weights only load failed",
         steps(tiny(), lambda work, assets: torch.save(Evil(work / MARKER), work / "w.pt"))),
    Case("weights are random bytes", ["build", "tiny.yaml", "--weights", "w.pt"], 1,
         "cannot read weights from w.pt:", steps(tiny(), write("w.pt", bytes(range(256)) * 4))),
    Case("weights over the memory limit", ["build", "tiny.yaml", "--weights", "w.pt"], 1,
         "cannot read weights from w.pt: the file holds 3.9 KiB, more than the memory limit of "
         "3.0 KiB", steps(tiny(), write("w.pt", b"x" * 4000)), env={"NETSPEC_MEMORY_LIMIT": "3K"}),
    Case("eval --weights a FIFO", ["eval", "tiny.yaml", "--weights", "w.pt", "--device", "cpu",
                                   "--data-dir", "data", "--no-download"], 1,
         "error: weights path is a FIFO, not a file: w.pt",
         steps(tiny(), fifo("w.pt"), asset("data"))),
]
# fmt: on


def train_argv(*flags: str, spec: str = "tiny.yaml") -> list[str]:
    """``netspec train`` on the tiny data; a new run gets small batches (a resumed run keeps
    its recorded recipe)."""
    base = ["train", *([spec] if spec else []), "--data-dir", "data", "--device", "cpu",
            "--no-download"]  # fmt: skip
    return base + ([] if "--resume" in flags else ["--batch-size", "32"]) + list(flags)


def with_run(edit: Callable[[Path], None] | None = None) -> Callable[[Path, Assets], None]:
    def setup(work: Path, assets: Assets) -> None:
        assets.copy("data", work / "data")
        assets.copy("run", work / "run")
        (work / "tiny.yaml").write_text(TINY)
        if edit is not None:
            edit(work / "run")

    return setup


def edit_checkpoint(change: Callable[[dict], None]) -> Callable[[Path], None]:
    def edit(run: Path) -> None:
        checkpoint = torch.load(run / "last.pt", weights_only=True)
        change(checkpoint)
        torch.save(checkpoint, run / "last.pt")

    return edit


def edit_run_json(change: Callable[[dict], object]) -> Callable[[Path], None]:
    def edit(run: Path) -> None:
        info = json.loads((run / "run.json").read_text())
        change(info)
        (run / "run.json").write_text(json.dumps(info))

    return edit


# fmt: off
RUN_CASES = [
    Case("--out a folder that is not a run", train_argv("--out", "mine"), 2,
         "error: --out mine is a folder that is not a netspec run; choose a new --out, or "
         "--force to write the run's files", steps(with_run(), write("mine/spec.yaml", "mine"))),
    Case("--out another run", train_argv("--out", "run"), 2,
         "error: run already holds a training run; continue it with --resume run, choose another "
         "--out, or start it over with --force", with_run()),
    Case("--out a regular file", train_argv("--out", "out.txt"), 2,
         "error: --out out.txt is a regular file, not a directory; choose another --out",
         steps(with_run(), write("out.txt", "notes"))),
    Case("--out /dev/null", train_argv("--out", "/dev/null"), 2,
         "error: --out /dev/null is a character device, not a directory", with_run()),
    Case("--force with --resume", train_argv("--resume", "run", "--force", spec=""), 2,
         "error: --force and --resume exclude each other", with_run()),
    Case("--resume with another spec", train_argv("--resume", "run", spec="relu.yaml"), 2,
         "error: --resume run: relu.yaml is not the spec this run was made from "
         "(run/spec.yaml differs); resume without SPEC",
         steps(with_run(), write("relu.yaml", TINY_RELU))),
    Case("--resume after spec.yaml was edited", train_argv("--resume", "run", spec=""), 2,
         "error: --resume run: run/spec.yaml was changed after the run started",
         with_run(lambda run: (run / "spec.yaml").write_text(TINY_RELU))),
    Case("checkpoint without rng", train_argv("--resume", "run", "--epochs", "2", spec=""), 1,
         "error: run/last.pt: not a valid netspec checkpoint: 'rng' is missing",
         with_run(edit_checkpoint(lambda c: c.pop("rng")))),
    Case("checkpoint epoch is text", train_argv("--resume", "run", "--epochs", "2", spec=""), 1,
         "error: run/last.pt: not a valid netspec checkpoint: 'epoch': input should be a valid "
         "integer", with_run(edit_checkpoint(lambda c: c.update(epoch="1")))),
    Case("checkpoint history row with extra key",
         train_argv("--resume", "run", "--epochs", "2", spec=""), 1,
         "not a valid netspec checkpoint: 'history.0.evil': extra inputs are not permitted",
         with_run(edit_checkpoint(lambda c: c["history"][0].update(evil=1)))),
    Case("checkpoint rng state of the wrong dtype",
         train_argv("--resume", "run", "--epochs", "2", spec=""), 1,
         "'rng.0.cpu': must be a 1-D uint8 tensor",
         with_run(edit_checkpoint(lambda c: c["rng"][0].update(cpu=torch.zeros(3))))),
    Case("checkpoint is a pickle payload",
         train_argv("--resume", "run", "--epochs", "2", spec=""), 1,
         "cannot read weights from run/last.pt: Weights only load failed",
         with_run(lambda run: torch.save(Evil(run.parent / MARKER), run / "last.pt"))),
    Case("checkpoint is a FIFO", train_argv("--resume", "run", "--epochs", "2", spec=""), 2,
         "not a resumable run directory (missing last.pt",
         with_run(lambda run: ((run / "last.pt").unlink(), os.mkfifo(run / "last.pt")))),
    Case("run.json is not JSON", train_argv("--resume", "run", spec=""), 2,
         "error: run/run.json: unreadable",
         with_run(lambda run: (run / "run.json").write_text("{not json"))),
    Case("run.json recipe with a bad lr", train_argv("--resume", "run", spec=""), 2,
         "error: run/run.json: invalid: 'recipe.lr': input should be a valid number",
         with_run(edit_run_json(lambda i: i["recipe"].update(lr="fast")))),
    Case("run.json recipe with lr inf", train_argv("--resume", "run", spec=""), 2,
         "error: run/run.json: invalid: 'recipe.lr': input should be a finite number",
         with_run(lambda run: (run / "run.json").write_text(
             (run / "run.json").read_text().replace('"lr": 0.001', '"lr": Infinity')))),
    Case("run.json params of the wrong type", train_argv("--resume", "run", spec=""), 2,
         "error: run/run.json: invalid: 'params': input should be a valid dictionary",
         with_run(edit_run_json(lambda i: i.update(params=[1, 2])))),
    Case("run.json over 1 MiB", train_argv("--resume", "run", spec=""), 2,
         "run file is too large", with_run(lambda run: (run / "run.json").write_text(
             " " * (1 << 20) + "{}"))),
    Case("run.json is a list", train_argv("--resume", "run", spec=""), 2,
         "error: run/run.json: has no recipe",
         with_run(lambda run: (run / "run.json").write_text("[1, 2]"))),
    Case("--lr inf", train_argv("--lr", "inf", "--out", "new"), 2,
         "error: --lr: Input should be a finite number", with_run()),
    Case("--lr nan", train_argv("--lr", "nan", "--out", "new"), 2,
         "error: --lr: Input should be a finite number", with_run()),
    Case("--momentum inf", train_argv("--momentum", "inf", "--out", "new"), 2,
         "error: --momentum:", with_run()),
    Case("--force writes the run's files and nothing else",
         train_argv("--out", "mine", "--epochs", "1", "--force"), 0, "",
         steps(with_run(), write("mine/spec.yaml", "mine"), write("mine/notes.txt", "keep")),
         changed=frozenset(f"work/mine/{name}" for name in RUN_FILES),
         stdout="run directory mine"),
    Case("a new --out beside a run", train_argv("--out", "new", "--epochs", "1"), 0, "",
         with_run(), changed=frozenset({"work/new", *(f"work/new/{name}" for name in RUN_FILES)}),
         stdout="run directory new"),
]
# fmt: on


def test_a_default_run_directory_stays_under_runs(
    tmp_path: Path,
    assets: Assets,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Without --out the run's folder is named after the spec: a name that is a path
    (``../outside/escaped``) stays one folder under ``runs/``."""
    work = prepare(tmp_path)
    with_run()(work, assets)
    (work / "esc.yaml").write_text(TINY.replace("name: tiny", "name: ../../outside/escaped"))
    before = snapshot(tmp_path)
    monkeypatch.chdir(work)
    assert main(train_argv("--epochs", "1", spec="esc.yaml")) == 0
    out, err = capsys.readouterr()
    assert err == "" and "run directory runs/_.._outside_escaped-" in out
    changed = changes(before, snapshot(tmp_path))
    (folder,) = {path for path in changed if path.count("/") == 2}
    assert re.fullmatch(r"work/runs/_\.\._outside_escaped-[0-9-]+", folder)
    assert changed == {"work/runs", folder, *(f"{folder}/{name}" for name in RUN_FILES)}


def test_resume_continues_the_run_and_keeps_its_spec(
    tmp_path: Path,
    assets: Assets,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The way the refusals point to works: --resume trains on, changing only run files."""
    work = prepare(tmp_path)
    with_run()(work, assets)
    before = snapshot(tmp_path)
    monkeypatch.chdir(work)
    assert main(train_argv("--resume", "run", "--epochs", "2", spec="")) == 0
    out, err = capsys.readouterr()
    assert "trained epochs 2-2" in out and "Traceback" not in err
    changed = changes(before, snapshot(tmp_path))
    assert {"work/run/last.pt", "work/run/metrics.csv"} <= changed
    assert changed <= {f"work/run/{name}" for name in RUN_FILES} - {"work/run/spec.yaml"}


# --- artifacts: crafted .pt2, TorchScript and ONNX files -----------------------------------


def pt2_records(path: Path) -> dict[str, bytes]:
    reader = torch._C.PyTorchFileReader(str(path))
    return {name: bytes(reader.get_record(name)) for name in reader.get_all_records()}


def write_pt2(path: Path, records: dict[str, bytes]) -> None:
    from torch.export.pt2_archive._package import PT2ArchiveWriter

    written_by_writer = {"archive_format", ".data/version", ".data/serialization_id", "byteorder"}
    with PT2ArchiveWriter(str(path)) as archive:
        for name, data in records.items():
            if name not in written_by_writer:
                archive.write_bytes(name, data)


def crafted_pt2(change: Callable[[dict[str, bytes], Path], None]) -> Callable[[Path, Assets], None]:
    """A copy of the tiny .pt2 with its records changed (``change(records, marker)``)."""

    def setup(work: Path, assets: Assets) -> None:
        records = pt2_records(assets.artifacts["export"])
        change(records, work / MARKER)
        write_pt2(work / "evil.pt2", records)
        assets.copy("shoe.png", work / "shoe.png")

    return setup


def edit_json(records: dict[str, bytes], name: str, change: Callable[[dict], object]) -> None:
    document = json.loads(records[name])
    change(document)
    records[name] = json.dumps(document).encode()


def pickled_weight(records: dict[str, bytes], marker: Path) -> None:
    edit_json(records, "data/weights/model_weights_config.json",
              lambda c: c["config"]["3.weight"].update(use_pickle=True))  # fmt: skip
    name = json.loads(records["data/weights/model_weights_config.json"])["config"]["3.weight"]
    records["data/weights/" + name["path_name"]] = pickle.dumps(Evil(marker))


def opaque_constant(records: dict[str, bytes], marker: Path) -> None:
    edit_json(
        records,
        "data/constants/model_constants_config.json",
        lambda c: c["config"].update(
            {
                "evil": {
                    "path_name": "opaque_obj_0",
                    "is_param": False,
                    "use_pickle": True,
                    "tensor_meta": None,
                }
            }
        ),
    )
    records["data/constants/opaque_obj_0"] = pickle.dumps(Evil(marker))


def legacy_pickle(records: dict[str, bytes], marker: Path) -> None:
    records["data/weights/model.pt"] = pickle.dumps(Evil(marker))


def pickled_sample_inputs(records: dict[str, bytes], marker: Path) -> None:
    buffer = io.BytesIO()
    torch.save(((Evil(marker),), {}), buffer)
    records["data/sample_inputs/model.pt"] = buffer.getvalue()


def symbolic_payload(records: dict[str, bytes], marker: Path) -> None:
    program = records["models/model.json"].decode()
    symbol = re.search(r"Symbol\('s[0-9]+', positive=True, integer=True\)", program)
    assert symbol is not None
    payload = f"__import__('os').system('touch {marker}') or {symbol.group()}"
    records["models/model.json"] = program.replace(symbol.group(), payload, 1).encode()


def guards_payload(records: dict[str, bytes], marker: Path) -> None:
    edit_json(
        records,
        "models/model.json",
        lambda p: p.update(guards_code=[f"__import__('os').system('touch {marker}') == 0"]),
    )


def target(name: str) -> Callable[[dict[str, bytes], Path], None]:
    def change(records: dict[str, bytes], marker: Path) -> None:
        edit_json(
            records,
            "models/model.json",
            lambda p: p["graph_module"]["graph"]["nodes"][0].update(target=name),
        )

    return change


def native_library(records: dict[str, bytes], marker: Path) -> None:
    records["data/aotinductor/model/model.so"] = b"\x7fELF" + bytes(64)
    records["data/aotinductor/model/model_metadata.json"] = b"{}"


def meta(change: Callable[[dict], object]) -> Callable[[dict[str, bytes], Path], None]:
    return lambda records, marker: edit_json(records, "extra/netspec/meta.json", change)


def control_char_in_program(records: dict[str, bytes], marker: Path) -> None:
    def edit(program: dict) -> None:
        program["graph_module"]["graph"]["nodes"][0]["metadata"]["stack_trace"] = "x\rimport os"

    edit_json(records, "models/model.json", edit)


def huge_weight(records: dict[str, bytes], marker: Path) -> None:
    def edit(config: dict) -> None:
        entry = config["config"]["3.weight"]
        entry["tensor_meta"]["sizes"] = [{"as_int": 1000000}, {"as_int": 1000000}]

    edit_json(records, "data/weights/model_weights_config.json", edit)


PREDICT = ["predict", "evil.pt2", "shoe.png"]
REFUSING = "netspec: error: evil.pt2: refusing to load: "
TRUST = "hint: pass --trust-artifact to load it anyway, if you trust where it came from"

# fmt: off
ARTIFACT_CASES = [
    Case("pickled weight in a .pt2", PREDICT, 1,
         REFUSING + "its weight '3.weight' is pickled: unpickling can run any code\n" + TRUST,
         crafted_pt2(pickled_weight)),
    Case("opaque pickled constant in a .pt2", PREDICT, 1,
         REFUSING + "it holds pickled data ('data/constants/opaque_obj_0'): unpickling can run "
         "any code", crafted_pt2(opaque_constant)),
    Case("legacy pickled weights file in a .pt2", PREDICT, 1,
         REFUSING + "it holds pickled data ('data/weights/model.pt')", crafted_pt2(legacy_pickle)),
    Case("sample inputs that need the full unpickler", PREDICT, 1,
         REFUSING + "its sample inputs need the unrestricted unpickler",
         crafted_pt2(pickled_sample_inputs)),
    Case("code in a symbolic size", PREDICT, 1,
         REFUSING + "a symbolic size of its program would run code", crafted_pt2(symbolic_payload)),
    Case("Python source in guards_code", PREDICT, 1,
         REFUSING + "its program carries Python source ('guards_code') that would run",
         crafted_pt2(guards_payload)),
    Case("program calls aten.save", PREDICT, 1,
         REFUSING + "its program calls 'torch.ops.aten.save.default', which touches files",
         crafted_pt2(target("torch.ops.aten.save.default"))),
    Case("program calls aten.from_file", PREDICT, 1,
         REFUSING + "its program calls 'torch.ops.aten.from_file.default'",
         crafted_pt2(target("torch.ops.aten.from_file.default"))),
    Case("program calls torch.hub.load", PREDICT, 1,
         REFUSING + "its program calls 'torch.hub.load', which is not an ATen operator",
         crafted_pt2(target("torch.hub.load"))),
    Case("program calls an extension operator", PREDICT, 1,
         REFUSING + "its program calls '#evil:op', which is not an ATen operator",
         crafted_pt2(target("#evil:op"))),
    Case("control character in the program", PREDICT, 1,
         REFUSING + "its program holds control characters (in 'stack_trace')",
         crafted_pt2(control_char_in_program)),
    Case("AOTInductor library in an uncompiled .pt2", PREDICT, 1,
         REFUSING + "it is an AOTInductor package: opening it loads native code from it",
         crafted_pt2(native_library)),
    Case("compiled .pt2 without --trust-artifact", PREDICT, 1,
         REFUSING + "it is an AOTInductor-compiled package: opening it loads native code",
         crafted_pt2(lambda r, m: (native_library(r, m), meta(lambda d: d.update(
             compiled={"compiler": "AOTInductor", "device": "cpu"}))(r, m)))),
    Case("4 TB weight declared by a .pt2", PREDICT, 1,
         "netspec: error: evil.pt2: its tensors need 3.6 TiB, more than the memory limit of",
         crafted_pt2(huge_weight)),
    Case("metadata with a 100000x100000 resize", PREDICT, 1,
         "netspec: error: evil.pt2: invalid netspec metadata: 'preprocessing.resize.0': input "
         "should be less than or equal to 16384",
         crafted_pt2(meta(lambda d: d["preprocessing"].update(resize=[100000, 100000])))),
    Case("metadata input_shape of the wrong type", PREDICT, 1,
         "invalid netspec metadata: 'input_shape': input should be a valid list",
         crafted_pt2(meta(lambda d: d.update(input_shape="28x28")))),
    Case("metadata classes with terminal escapes", PREDICT, 1,
         "invalid netspec metadata: 'classes.0': must not contain control characters",
         crafted_pt2(meta(lambda d: d.update(classes=["\x1b]0;pwned\x07"] * 10)))),
    Case("metadata scale of infinity", PREDICT, 1,
         "invalid netspec metadata: 'preprocessing.scale'",
         crafted_pt2(meta(lambda d: d["preprocessing"].update(scale=float("inf"))))),
    Case("metadata format that is not the file's", PREDICT, 1,
         "invalid netspec metadata: 'format' says 'onnx', but the file is 'export'",
         crafted_pt2(meta(lambda d: d.update(format="onnx")))),
    Case("metadata input_shape of two numbers", PREDICT, 1,
         "invalid netspec metadata: 'input_shape' must be [C, H, W] or [F]",
         crafted_pt2(meta(lambda d: d.update(input_shape=[28, 28])))),
    Case("metadata without a name", PREDICT, 1,
         "invalid netspec metadata: 'name' is missing",
         crafted_pt2(meta(lambda d: d.pop("name")))),
    Case("garbage .pt2", PREDICT, 1,
         "netspec: error: evil.pt2: 'models/model.json' is not valid JSON",
         crafted_pt2(lambda r, m: r.update({"models/model.json": b"\x00garbage"}))),
    Case("artifact is a FIFO", ["predict", "a.pt2", "shoe.png"], 1,
         "netspec: error: artifact path is a FIFO, not a file: a.pt2",
         steps(fifo("a.pt2"), asset("shoe.png"))),
    Case("artifact is /dev/zero", ["predict", "/dev/zero", "shoe.png"], 1,
         "artifact path is a character device, not a file: /dev/zero", asset("shoe.png")),
    Case("artifact is a directory", ["predict", "a", "shoe.png"], 1,
         "artifact path is a directory, not a file: a", steps(folder("a"), asset("shoe.png"))),
    Case("artifact over the memory limit", ["predict", "a.ts.pt", "shoe.png"], 1,
         "netspec: error: artifact is too large", steps(asset("torchscript", "a.ts.pt"),
                                                        asset("shoe.png")),
         env={"NETSPEC_MEMORY_LIMIT": "4K"}),
    Case("artifact is random bytes", ["predict", "a.bin", "shoe.png"], 1,
         "a.bin is not a netspec artifact",
         steps(write("a.bin", bytes(range(256)) * 8), asset("shoe.png"))),
    Case("artifact is a torch.save pickle payload", ["predict", "a.pt", "shoe.png"], 1,
         "a.pt is not a netspec artifact (a torch.save file: weights, not a model)",
         steps(lambda work, assets: torch.save({"x": Evil(work / MARKER)}, work / "a.pt"),
               asset("shoe.png"))),
    Case("trusted .pt2 still predicts", ["predict", "a.pt2", "shoe.png", "--trust-artifact"], 0,
         "", steps(asset("export", "a.pt2"), asset("shoe.png")), stdout="shoe.png: class "),
    Case("untrusted .pt2 predicts", ["predict", "a.pt2", "shoe.png"], 0,
         "", steps(asset("export", "a.pt2"), asset("shoe.png")), stdout="shoe.png: class "),
    Case("untrusted TorchScript predicts", ["predict", "a.ts.pt", "shoe.png"], 0,
         "", steps(asset("torchscript", "a.ts.pt"), asset("shoe.png")), stdout="shoe.png: class "),
]
# fmt: on


class Saver(torch.nn.Module):
    """A network whose forward writes a file: what a TorchScript archive can carry."""

    def __init__(self, marker: str) -> None:
        super().__init__()
        self.marker = marker

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        torch.save(x, self.marker)
        return x.mean(dim=(2, 3)).repeat(1, 10)


def scripted_payload(work: Path, assets: Assets) -> None:
    """A TorchScript archive with netspec's metadata whose forward writes a file."""
    records = pt2_records(assets.artifacts["export"])
    files = {
        name.removeprefix("extra/"): data.decode()
        for name, data in records.items()
        if name.startswith("extra/netspec/")
    }
    meta_json = json.loads(files["netspec/meta.json"])
    meta_json["format"] = "torchscript"
    files["netspec/meta.json"] = json.dumps(meta_json)
    with quiet_jit():
        torch.jit.save(torch.jit.script(Saver(str(work / MARKER))), str(work / "evil.ts.pt"),
                       _extra_files=files)  # fmt: skip
    assets.copy("shoe.png", work / "shoe.png")


# fmt: off
TORCHSCRIPT_CASES = [
    Case("TorchScript that calls torch.save", ["predict", "evil.ts.pt", "shoe.png"], 1,
         "netspec: error: evil.ts.pt: refusing to load: its TorchScript code calls 'save', which "
         "touches files or the terminal\n" + TRUST, scripted_payload),
]
# fmt: on


def onnx_external(work: Path, assets: Assets) -> None:
    import onnx
    from onnx import external_data_helper

    model = onnx.load_model(str(assets.artifacts["onnx"]))
    tensor = model.graph.initializer[0]
    (work.parent / "outside" / "weights.bin").write_bytes(tensor.raw_data)
    external_data_helper.set_external_data(tensor, location="../outside/weights.bin")
    tensor.ClearField("raw_data")
    tensor.data_location = onnx.TensorProto.EXTERNAL
    onnx.save_model(model, str(work / "evil.onnx"))
    assets.copy("shoe.png", work / "shoe.png")


# fmt: off
ONNX_CASES = [
    Case("ONNX tensor stored in a file outside", ["predict", "evil.onnx", "shoe.png"], 1,
         "netspec: error: evil.onnx: refusing to load: tensor", onnx_external),
]
# fmt: on

# --- the one error boundary ----------------------------------------------------------------

# fmt: off
BOUNDARY_CASES = [
    Case("unreadable trusted .pt2: no log from torch", [*PREDICT, "--trust-artifact"], 1,
         "netspec: error: cannot load .pt2 artifact evil.pt2: We ran into an error",
         crafted_pt2(lambda r, m: without_sample_inputs(r, m))),
    Case(".pt2 without its sample inputs", PREDICT, 1,
         REFUSING + "it lacks 'data/sample_inputs/model.pt', which a torch.export program has",
         crafted_pt2(lambda r, m: without_sample_inputs(r, m))),
    Case(".pt2 of another archive version", PREDICT, 1,
         "netspec: error: cannot load .pt2 artifact evil.pt2: Saved archive version 9",
         crafted_pt2(lambda r, m: r.update({"archive_version": b"9"}))),
]
# fmt: on


# --- data files: issue 10's readers (images, IDX, gzip, CIFAR) -----------------------------


def idx_header(dims: list[int], dtype: int = 0x08) -> bytes:
    return bytes([0, 0, dtype, len(dims)]) + b"".join(struct.pack(">I", d) for d in dims)


def png_bomb(path: Path) -> None:
    """A PNG of 20000x20000 pixels (400 M: PIL's bomb limit is 179 M) in 400 KB."""
    import zlib

    width = height = 20000
    row = b"\x00" + bytes(width)
    compressor = zlib.compressobj(9)
    body = b"".join(compressor.compress(row) for _ in range(height)) + compressor.flush()

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", body)
                     + chunk(b"IEND", b""))  # fmt: skip


def gzip_bomb(path: Path, inflated: int) -> None:
    """A valid IDX .gz of ``inflated`` bytes of blank 28x28 images, about 1000 times smaller."""
    count = inflated // (28 * 28)
    with gzip.open(path, "wb", compresslevel=9) as stream:
        stream.write(idx_header([count, 28, 28]))
        chunk = bytes(28 * 28 * 1024)
        for _ in range(count // 1024):
            stream.write(chunk)
        stream.write(bytes(28 * 28 * (count % 1024)))


#: The IDX reader of today already refuses these in one line; they stay in the corpus.
# fmt: off
DATA_CASES_NOW = [
    Case("IDX header whose dimensions overflow (predict)", ["predict", "a.ts.pt", "x.idx"], 1,
         "x.idx", steps(asset("torchscript", "a.ts.pt"), write("x.idx", idx_header(
             [0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF]) + bytes(64)))),
    Case("IDX header whose dimensions overflow (train)", train_argv("--out", "new"), 1,
         "train-images-idx3-ubyte", steps(with_run(), lambda work, assets: (
             work / "data" / "train-images-idx3-ubyte").write_bytes(
             idx_header([0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF]) + bytes(64)))),
]
# fmt: on

# fmt: off
DATA_CASES = [
    Case("decompression-bomb PNG", ["predict", "a.ts.pt", "bomb.png"], 1, "bomb.png",
         steps(asset("torchscript", "a.ts.pt"), lambda work, assets: png_bomb(work / "bomb.png"))),
    Case("gzip that inflates past the memory limit", ["predict", "a.ts.pt", "bomb.gz"], 1,
         "bomb.gz",
         steps(asset("torchscript", "a.ts.pt"),
               lambda work, assets: gzip_bomb(work / "bomb.gz", 4 << 20)),
         env={"NETSPEC_MEMORY_LIMIT": "1M"}),
    Case("pickled CIFAR batch", ["train", "tiny.yaml", "--data-format", "cifar10", "--data",
                                 "cifar", "--device", "cpu", "--no-download", "--out", "new"], 1,
         "cifar", steps(tiny(), lambda work, assets: (
             (work / "cifar" / "cifar-10-batches-py").mkdir(parents=True),
             (work / "cifar" / "cifar-10-batches-py" / "data_batch_1").write_bytes(
                 pickle.dumps(Evil(work / MARKER)))))),
]
# fmt: on


ALL = SPEC_CASES + IMPORT_CASES + WRITE_CASES + WEIGHTS_CASES + RUN_CASES + ARTIFACT_CASES
ALL += TORCHSCRIPT_CASES + (ONNX_CASES if HAVE_ONNX else []) + BOUNDARY_CASES
ALL += DATA_CASES_NOW


@pytest.mark.parametrize("case", ALL, ids=[case.id for case in ALL])
def test_hostile_input(
    case: Case,
    tmp_path: Path,
    assets: Assets,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_case(case, tmp_path, assets, monkeypatch, capsys)


def test_the_corpus_is_large_and_names_each_case_once() -> None:
    assert len(ALL) >= 100
    assert len({case.id for case in ALL}) == len(ALL)


# --- the error catalogue's examples that need crafted files ---------------------------------

CRAFTED = [example for example in COMMAND_EXAMPLES if example.corpus is not None]


@pytest.mark.parametrize("example", CRAFTED, ids=[e.title for e in CRAFTED])
def test_catalogue_example_made_by_the_corpus(
    example: CommandExample,
    tmp_path: Path,
    assets: Assets,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """docs/errors.md shows these cases' exact output and codes (the page cannot make the
    files itself)."""
    case = next(case for case in ALL if case.id == example.corpus)
    assert tuple(case.argv) == example.argv and not example.env
    codes = record_codes(monkeypatch)
    _, err = run_case(case, tmp_path, assets, monkeypatch, capsys)
    assert err == example.expected + "\n"
    assert example.codes and sorted(set(codes)) == sorted(example.codes)


def test_the_catalogue_names_cases_of_the_corpus() -> None:
    assert len(CRAFTED) >= 5
    assert {example.corpus for example in CRAFTED} <= {case.id for case in ALL}


# --- payloads are real: torch itself runs them ---------------------------------------------

PAYLOADS = {
    "pickled weight": pickled_weight,
    "opaque constant": opaque_constant,
    "symbolic size": symbolic_payload,
    "guards_code": guards_payload,
}


@pytest.mark.parametrize("name", PAYLOADS)
def test_crafted_pt2_payloads_run_under_plain_torch(
    name: str, tmp_path: Path, assets: Assets
) -> None:
    """The control for the refusals above: torch.export.load (and running what it loads)
    does run each crafted payload, so netspec refusing it is what keeps the marker away."""
    work = prepare(tmp_path)
    crafted_pt2(PAYLOADS[name])(work, assets)
    with contextlib.suppress(Exception):  # some payloads break the program after running
        torch.export.load(work / "evil.pt2").module()(torch.rand(2, 1, 28, 28))
    assert (work / MARKER).exists()
    (work / MARKER).unlink()
    assert main(predict_at(work)) == 1
    assert not (work / MARKER).exists()


def predict_at(work: Path) -> list[str]:
    return ["predict", str(work / "evil.pt2"), str(work / "shoe.png")]


def test_crafted_torchscript_payload_runs_under_plain_torch(tmp_path: Path, assets: Assets) -> None:
    work = prepare(tmp_path)
    scripted_payload(work, assets)
    with quiet_jit():
        torch.jit.load(str(work / "evil.ts.pt"))(torch.rand(2, 1, 28, 28))
    assert (work / MARKER).exists()


def test_a_refused_artifact_loads_with_trust(
    tmp_path: Path, assets: Assets, capsys: pytest.CaptureFixture[str]
) -> None:
    """--trust-artifact is the way past a refusal (here: a harmless extra member)."""
    work = prepare(tmp_path)
    crafted_pt2(lambda r, m: r.update({"data/notes.txt": b"hello"}))(work, assets)
    assert main(predict_at(work)) == 1
    assert "it holds 'data/notes.txt', which a torch.export program does not" in (
        capsys.readouterr().err
    )
    assert main([*predict_at(work), "--trust-artifact"]) == 0


# --- the last resort: no exception escapes as a traceback ----------------------------------


@pytest.mark.parametrize(
    ("exception", "status", "line"),
    [
        (ValueError("boom\nsecond line"), 3,
         "netspec check: internal error: ValueError: boom (exit status 3; --debug shows the "
         "traceback)\n"),
        (MemoryError(), 1,
         "netspec check: error: out of memory (exit status 1; --debug shows the traceback)\n"),
        (OSError(28, "No space left on device", "x.ts.pt"), 1,
         "netspec check: error: no space left on device: x.ts.pt (exit status 1; --debug shows "
         "the traceback)\n"),
        (RecursionError("maximum recursion depth exceeded"), 3,
         "netspec check: internal error: RecursionError: maximum recursion depth exceeded"),
        (KeyError("\x1b]0;x\x07"), 3, "internal error: KeyError: '\\x1b]0;x\\x07'"),
    ],
)  # fmt: skip
def test_unexpected_errors_are_one_line_with_their_status(
    exception: BaseException,
    status: int,
    line: str,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    import netspec.commands.check as check

    def fail(args: object) -> int:
        raise exception

    monkeypatch.setattr(check, "run", fail)
    (tmp_path / "s.yaml").write_text(TINY)
    assert main(["check", str(tmp_path / "s.yaml")]) == status
    captured = capsys.readouterr()
    assert captured.out == "" and "Traceback" not in captured.err
    assert line in captured.err and captured.err.count("\n") == 1
    assert not RAW_CONTROL.search(captured.err)


def test_debug_shows_the_traceback(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    import netspec.commands.check as check

    monkeypatch.setattr(check, "run", lambda args: 1 / 0)
    spec = tmp_path / "s.yaml"
    spec.write_text(TINY)
    for argv in (["--debug", "check", str(spec)], ["check", str(spec), "--debug"]):
        assert main(argv) == 3
        err = capsys.readouterr().err
        assert "Traceback (most recent call last)" in err and "ZeroDivisionError" in err
        assert err.endswith("internal error: ZeroDivisionError: division by zero (exit status "
                            "3; --debug shows the traceback)\n")  # fmt: skip


def without_sample_inputs(records: dict[str, bytes], marker: Path) -> None:
    del records["data/sample_inputs/model.pt"]


def test_debug_keeps_torch_logging(tmp_path: Path, assets: Assets) -> None:
    """torch logs a traceback when it cannot read a .pt2 (then netspec says so in one line):
    silenced without --debug, shown with it."""
    work = prepare(tmp_path)
    crafted_pt2(without_sample_inputs)(work, assets)
    quiet = run_child(["predict", "evil.pt2", "shoe.png", "--trust-artifact"], work)
    loud = run_child(["--debug", "predict", "evil.pt2", "shoe.png", "--trust-artifact"], work)
    assert quiet.returncode == loud.returncode == 1
    assert quiet.stderr.startswith("netspec: error: cannot load .pt2 artifact evil.pt2: ")
    assert quiet.stderr.count("\n") == 1 and "Traceback" not in quiet.stderr
    assert "Ran into the following error when deserializing" in loud.stderr


NOISY_CHECK = """\
import logging, sys, warnings
import netspec.commands.check as check
from netspec.cli import main

def noisy(args):
    warnings.warn("DecompressionBombWarning: from a library", UserWarning)
    logging.getLogger("torch._export").warning("a traceback torch logs")
    return 0

check.run = noisy
sys.exit(main(sys.argv[1:]))
"""


def test_warnings_and_logs_of_libraries_are_silenced_without_debug(tmp_path: Path) -> None:
    (tmp_path / "s.yaml").write_text(TINY)
    command = [sys.executable, "-W", "default", "-c", NOISY_CHECK]
    quiet = subprocess.run([*command, "check", "s.yaml"], cwd=tmp_path, capture_output=True,
                           text=True, env=cli_env(), timeout=120)  # fmt: skip
    loud = subprocess.run([*command, "--debug", "check", "s.yaml"], cwd=tmp_path,
                          capture_output=True, text=True, env=cli_env(), timeout=120)  # fmt: skip
    assert (quiet.returncode, quiet.stderr) == (0, "")
    assert loud.returncode == 0
    assert "from a library" in loud.stderr and "a traceback torch logs" in loud.stderr


def run_child(argv: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netspec", *argv], cwd=cwd, capture_output=True, text=True,
        env=cli_env(), timeout=300,
    )  # fmt: skip


# --- signals: temporary files are removed on SIGTERM and SIGHUP as on Ctrl-C ---------------


@pytest.mark.usefixtures("signals_at_default")
@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_during_build_leaves_no_temporary_file(signum: int, tmp_path: Path) -> None:
    work = prepare(tmp_path)
    # 33.6M parameters (134 MB): writing and verifying takes long enough to be interrupted.
    (work / "wide.yaml").write_text("name: wide\ninput: [4096]\nlayers: [{linear: {out: 8192}}]\n")
    before = snapshot(tmp_path)
    child = subprocess.Popen(
        [sys.executable, "-m", "netspec", "build", "wide.yaml"], cwd=work, env=cli_env(),
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    while not list(work.glob(".wide.ts.pt.*")) and child.poll() is None:
        assert time.monotonic() < deadline, "the build never started writing"
        time.sleep(0.005)
    child.send_signal(signum)
    out, err = child.communicate(timeout=120)
    assert child.returncode == (130 if signum == signal.SIGINT else 128 + signum), err
    name = signal.Signals(signum).name
    assert err == ("interrupted\n" if signum == signal.SIGINT else f"terminated ({name})\n")
    assert out == ""
    assert changes(before, snapshot(tmp_path)) == set(), list(work.iterdir())


def test_sigterm_stops_training_with_its_status_and_how_to_resume(
    tmp_path: Path, assets: Assets
) -> None:
    work = prepare(tmp_path)
    with_run()(work, assets)
    child = subprocess.Popen(
        [sys.executable, "-m", "netspec", *train_argv("--out", "new", "--epochs", "10000")],
        cwd=work, env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 240
    while not (work / "new" / "last.pt").exists() and child.poll() is None:
        assert time.monotonic() < deadline, "the first epoch never ended"
        time.sleep(0.01)
    child.send_signal(signal.SIGTERM)
    out, err = child.communicate(timeout=120)
    assert child.returncode == 128 + signal.SIGTERM, err
    assert "Traceback" not in err and not RAW_CONTROL.search(out + err)
    assert re.search(r"interrupted after epoch \d+; continue with: netspec train --resume new",
                     out)  # fmt: skip
    assert not [path.name for path in (work / "new").iterdir() if ".tmp" in path.name]


def send_and_wait(signum: int) -> None:
    """Signal this process and give Python the moment it needs to run the handler."""
    os.kill(os.getpid(), signum)
    time.sleep(0.05)


@pytest.mark.usefixtures("signals_at_default")
def test_a_signal_that_c_code_turns_into_an_error_is_reported_as_the_signal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """What TorchScript did when SIGHUP arrived while it compiled: the handler's exception,
    raised inside a callback, came back as an error of torch's own."""
    import netspec.commands.check as check
    from netspec.errors import ExportError

    def compile_model(args: object) -> int:
        try:
            send_and_wait(signal.SIGHUP)
        except KeyboardInterrupt:
            raise ExportError("TorchScript cannot compile this model: ...") from None
        return 0

    monkeypatch.setattr(check, "run", compile_model)
    (tmp_path / "s.yaml").write_text(TINY)
    assert main(["check", str(tmp_path / "s.yaml")]) == 128 + signal.SIGHUP
    assert capsys.readouterr() == ("", "terminated (SIGHUP)\n")


def test_nothing_is_published_after_a_swallowed_signal(tmp_path: Path) -> None:
    from netspec.atomic import Terminated, atomic_write, signals_interrupt

    def write(temporary: Path) -> None:
        with contextlib.suppress(KeyboardInterrupt):  # C code that drops the exception
            send_and_wait(signal.SIGTERM)
        temporary.write_bytes(b"half a model")

    with signals_interrupt(), pytest.raises(Terminated):
        atomic_write(tmp_path / "m.ts.pt", write)
    assert list(tmp_path.iterdir()) == []


def test_an_ignored_hangup_stays_ignored(tmp_path: Path) -> None:
    """Under ``nohup`` SIGHUP is ignored; netspec must not make it stop a long training."""
    from netspec.atomic import interruption, signals_interrupt

    previous = signal.signal(signal.SIGHUP, signal.SIG_IGN)
    try:
        with signals_interrupt():
            send_and_wait(signal.SIGHUP)
            assert interruption() is None
        assert signal.getsignal(signal.SIGHUP) is signal.SIG_IGN
    finally:
        signal.signal(signal.SIGHUP, previous)


@pytest.mark.parametrize("case", DATA_CASES, ids=[case.id for case in DATA_CASES])
def test_hostile_data_file(
    case: Case,
    tmp_path: Path,
    assets: Assets,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    start = time.monotonic()
    run_case(case, tmp_path, assets, monkeypatch, capsys)
    assert time.monotonic() - start < 30
