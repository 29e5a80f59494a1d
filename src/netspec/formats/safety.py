"""What opening an artifact can run, and the checks that refuse it before anything runs.

An artifact offered to ``netspec predict`` may come from anyone. Reading its netspec
metadata never runs anything (:mod:`netspec.formats.base`); *opening* it hands the file
to a library, and what that library then does differs by format:

* **ONNX**: onnxruntime runs the graph's operators, which compute on tensors and touch no
  file — except *external data*, tensors stored in other files the model names (any path
  the user can read). netspec writes none, so :func:`check_onnx` refuses models that use it.
* **TorchScript**: ``torch.jit.load`` runs the archive's own TorchScript program (its
  pickles are read by TorchScript's restricted unpickler, which builds tensors and
  TorchScript objects only). TorchScript can call operators that write or read files
  (``torch.save``, ``torch.from_file``) or print to the terminal; netspec's programs never
  do, so :func:`check_torchscript` refuses code that names them.
* **.pt2** (``torch.export``): torch 2.14's loader (``torch.export.load`` →
  ``torch.export.pt2_archive._package.load_pt2``) runs code from the archive in more
  places than its name suggests, each of which :func:`check_program` refuses:

  - weights and constants marked ``use_pickle`` are read with
    ``torch.load(weights_only=False)``: unrestricted pickle, any Python code;
  - constants named ``custom_obj_*`` are unpickled by the TorchBind unpickler, those named
    ``opaque_obj_*`` by ``pickle.loads``; legacy ``data/weights/<model>.pt`` and
    ``data/constants/<model>.pt`` files are whole pickles;
  - ``data/sample_inputs/<model>.pt`` is read with ``weights_only=True`` but, if that
    fails, *again* with ``weights_only=False``: it must load with the restricted unpickler;
  - any file under ``data/aotinductor/`` makes the loader open the AOTInductor package:
    it loads a shared library (native code) from the archive, even for a program that is
    not compiled;
  - the program (``models/<model>.json``) is data, but three fields of it become code:
    every symbolic size (``expr_str``) is parsed by ``sympy.sympify``, which *evaluates*
    its string as Python; ``guards_code`` holds Python source that ``ExportedProgram.module()``
    compiles and runs; and node ``target`` names any attribute of ``torch``, ``operator``
    or ``math`` to call — including ``torch.ops.aten.save`` (writes a file) and
    ``torch.ops.aten.from_file`` (reads one);
  - when the archive cannot be read as a .pt2 at all, ``torch.export.load`` retries it as
    a torch 2.7 zip whose pickled members are loaded with ``weights_only=False``.

  :func:`check_program` therefore reads the archive with torch's own zip reader (the one
  the loader uses, so both see the same members), allows only the members a
  ``torch.export.save`` program has, requires every weight and constant to be raw tensor
  bytes (and to fit the memory limit), the sample inputs to load with
  ``weights_only=True``, ``guards_code`` to be empty, every ``expr_str`` to be a sympy
  expression built from a short list of constructors (checked with :mod:`ast`, never
  evaluated), and every operator to be an ATen (or ``operator``) function other than the
  ones that touch files or the terminal. The checked bytes — not the file again — are then
  given to ``load_pt2`` itself, which has no legacy fallback.

``predict --trust-artifact`` (``load_artifact(trust=True)``) skips these checks, for
archives whose origin the user trusts: AOTInductor packages (``--compile``) always need
it, since they *are* native code.
"""

from __future__ import annotations

import ast
import io
import json
import re
import zipfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from ..errors import ArtifactError
from ..limits import human_bytes, memory_limit

#: What a refusal says the user can do.
TRUST_HINT = "pass --trust-artifact to load it anyway, if you trust where it came from"
#: ATen operators that read or write files or print: no netspec network uses them.
UNSAFE_OPERATORS = frozenset({"save", "from_file", "_print", "warn", "_test_warn_in_autograd"})
#: The only model name netspec writes.
MODEL = "model"

#: Callables an ``expr_str`` may use: sympy's constructors (``srepr``) and torch's
#: integer functions (the ``sympy_functions`` torch's deserializer passes to sympify).
_SYMPY_CALLS = frozenset({
    "Symbol", "Integer", "Rational", "Float", "Add", "Mul", "Pow", "Max", "Min", "Abs", "Mod",
    "Eq", "Ne", "Lt", "Le", "Gt", "Ge", "And", "Or", "Not", "FloorDiv", "CeilDiv", "CleanDiv",
    "ModularIndexing", "PythonMod", "CeilToInt", "FloorToInt", "TruncToInt", "TruncToFloat",
    "RoundToInt", "RoundDecimal", "ToFloat", "IntTrueDiv", "FloatTrueDiv", "PowByNatural",
    "FloatPow", "LShift", "RShift", "Where", "IsNonOverlappingAndDenseIndicator",
})  # fmt: skip
_SYMPY_POWERS = frozenset({"Pow", "PowByNatural", "FloatPow"})
_SYMPY_NAMES = frozenset({"True", "False", "oo", "zoo", "nan"})
_SYMBOL_NAME = re.compile(r"^[a-z]{1,8}[0-9]{1,9}$")
_MAX_EXPRESSION = 2000
_MAX_EXPRESSION_NODES = 400
_MAX_EXPONENT = 64
#: Members of a ``torch.export.save`` archive, by pattern, besides ``extra/``.
_PROGRAM_MEMBERS = re.compile(
    r"^(archive_format|archive_version|byteorder|\.data/version|\.data/serialization_id"
    rf"|models/{MODEL}\.json|data/sample_inputs/{MODEL}\.pt"
    rf"|data/weights/{MODEL}_weights_config\.json|data/weights/weight_[0-9]+"
    rf"|data/constants/{MODEL}_constants_config\.json|data/constants/tensor_[0-9]+)$"
)
_PICKLED_CONSTANT = re.compile(r"^data/constants/(custom_obj|opaque_obj)_")
_NATIVE = re.compile(r"\.(so|dll|dylib|pyd)(\.[0-9]+)*$", re.I)
#: Calls in TorchScript code that touch files or the terminal.
_TORCHSCRIPT_UNSAFE = re.compile(
    r"(?:\b(?:torch|aten)\s*\.\s*(save|from_file|_print|warn)\b|\b(print)\s*\()"
)


def refuse(path: Path, what: str) -> ArtifactError:
    """The refusal of an archive that would run ``what`` when opened."""
    return ArtifactError(f"{path}: refusing to load: {what}", hint=TRUST_HINT, code="NS611")


def check_program(data: bytes, path: Path) -> None:
    """Refuse a .pt2 archive (its bytes) if loading it would run anything from it."""

    reader, names = _records(data, path)
    for name in names:
        _check_member(name, path)

    def record(name: str) -> bytes:
        if name not in names:
            raise refuse(path, f"it lacks '{name}', which a torch.export program has")
        return bytes(reader.get_record(name))

    tensor_bytes = _check_payloads(record, names, path)
    limit = memory_limit()
    if tensor_bytes > limit:
        raise ArtifactError(
            f"{path}: its tensors need {human_bytes(tensor_bytes)}, more than the memory limit "
            f"of {human_bytes(limit)}"
        )
    _check_sample_inputs(record(f"data/sample_inputs/{MODEL}.pt"), path)
    _check_program_json(record(f"models/{MODEL}.json"), path)


def _inflated_size(data: bytes) -> int:
    """What the members of a zip archive add up to once inflated, as its directory says.

    Read with Python's zipfile, not torch's reader: ``get_record_size`` exists only in
    recent torch releases (not in 2.11, which netspec supports), and both trust the same
    central directory.
    """
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return sum(info.file_size for info in archive.infolist())


def _records(data: bytes, path: Path) -> tuple[Any, list[str]]:
    """torch's zip reader over ``data`` (the reader its loaders use, so a check sees the
    members they will) and the member names; refuses archives that would inflate beyond
    the memory limit."""
    import torch

    try:
        reader = torch._C.PyTorchFileReader(io.BytesIO(data))
        names = list(reader.get_all_records())
        inflated = _inflated_size(data)
    except Exception as exc:  # torch's zip reader raises RuntimeError and others
        raise ArtifactError(f"cannot read artifact {path}: {exc}".splitlines()[0]) from None
    limit = memory_limit()
    if inflated > limit:
        raise ArtifactError(
            f"{path}: its members inflate to {human_bytes(inflated)}, more than the memory "
            f"limit of {human_bytes(limit)}"
        )
    return reader, names


def _check_member(name: str, path: Path) -> None:
    if name.startswith("extra/") or _PROGRAM_MEMBERS.match(name):
        return
    if name.startswith("data/aotinductor/"):
        raise refuse(path, "it is an AOTInductor package: opening it loads native code from it")
    if _NATIVE.search(name):
        raise refuse(path, f"it holds a native library ('{name}')")
    if name.endswith((".pt", ".pkl")) or _PICKLED_CONSTANT.match(name):
        raise refuse(path, f"it holds pickled data ('{name}'): unpickling can run any code")
    raise refuse(path, f"it holds '{name}', which a torch.export program does not")


def _check_payloads(record: Any, names: list[str], path: Path) -> int:
    """Weights and constants must be raw tensor bytes; returns the bytes they will take."""
    total = 0
    for folder, kind in (("weights", "weight"), ("constants", "constant")):
        name = f"data/{folder}/{MODEL}_{folder}_config.json"
        config = _json(record(name), name, path)
        entries = config.get("config") if isinstance(config, dict) else None
        if not isinstance(entries, dict):
            raise refuse(path, f"'{name}' is not a payload configuration")
        for fqn, entry in entries.items():
            total += _payload_bytes(entry, f"{kind} '{fqn}'", folder, names, path)
    return total


def _payload_bytes(entry: Any, what: str, folder: str, names: list[str], path: Path) -> int:
    from torch._export.serde.serialize import deserialize_scalar_type

    if not isinstance(entry, dict) or entry.get("use_pickle") is not False:
        raise refuse(path, f"its {what} is pickled: unpickling can run any code")
    member = f"data/{folder}/{entry.get('path_name')}"
    if not _PROGRAM_MEMBERS.match(member) or member not in names:
        raise refuse(path, f"its {what} is not stored as raw tensor data ('{member}')")
    meta = entry.get("tensor_meta")
    sizes = meta.get("sizes") if isinstance(meta, dict) else None
    if not isinstance(sizes, list) or not all(_concrete(size) for size in sizes):
        raise refuse(path, f"its {what} has no concrete size")
    try:
        element = deserialize_scalar_type(meta.get("dtype")).itemsize
    except Exception:
        raise refuse(path, f"its {what} has an unknown dtype") from None
    count = 1
    for size in sizes:
        count *= size["as_int"]
    return count * element


def _concrete(size: Any) -> bool:
    value = size.get("as_int") if isinstance(size, dict) else None
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 1 << 48


def _check_sample_inputs(data: bytes, path: Path) -> None:
    """The sample inputs must load with the restricted unpickler: torch would otherwise
    retry them with ``weights_only=False``."""
    import torch

    try:
        torch.load(io.BytesIO(data), weights_only=True)
    except Exception:
        raise refuse(
            path, "its sample inputs need the unrestricted unpickler, which can run any code"
        ) from None


def _json(data: bytes, name: str, path: Path) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError):
        raise ArtifactError(f"{path}: '{name}' is not valid JSON") from None


def _check_program_json(data: bytes, path: Path) -> None:
    program = _json(data, f"models/{MODEL}.json", path)
    if not isinstance(program, dict):
        raise refuse(path, "its program description is not a mapping")
    if program.get("guards_code"):
        raise refuse(path, "its program carries Python source ('guards_code') that would run")
    for key, value in _items(program):
        if isinstance(value, str) and _CONTROL.search(value):
            raise refuse(path, f"its program holds control characters (in '{key}')")
        if key == "expr_str":
            problem = sympy_problem(value)
            if problem:
                raise refuse(path, f"a symbolic size of its program would run code ({problem})")
        elif key == "target" and isinstance(value, str):
            problem = operator_problem(value)
            if problem:
                raise refuse(path, f"its program calls {problem}")


_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f]")


def _items(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in a JSON document, depth first, without recursion."""
    stack: list[tuple[str, Any]] = [(key, value)]
    while stack:
        key, value = stack.pop()
        yield key, value
        if isinstance(value, dict):
            stack.extend(value.items())
        elif isinstance(value, list):
            stack.extend((key, item) for item in value)


def operator_problem(target: str) -> str | None:
    """Why a node target must not be called, or None for an ATen or ``operator`` function."""
    if target.startswith("_operator.") and target.count(".") == 1:
        return None
    parts = target.split(".")
    if target.startswith("torch.ops.aten.") and len(parts) in (4, 5):
        if parts[3] in UNSAFE_OPERATORS:
            return f"'{target}', which touches files or the terminal"
        return None
    return f"'{target}', which is not an ATen operator"


def sympy_problem(text: Any) -> str | None:
    """Why ``text`` is not a plain sympy expression, or None (checked, never evaluated)."""
    if not isinstance(text, str) or len(text) > _MAX_EXPRESSION:
        return "not a short string"
    try:
        tree = ast.parse(text, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return "not an expression"
    nodes = list(ast.walk(tree))
    if len(nodes) > _MAX_EXPRESSION_NODES:
        return "too long"
    for node in nodes:
        problem = _sympy_node_problem(node)
        if problem:
            return problem
    return None


def _sympy_node_problem(node: ast.AST) -> str | None:
    if isinstance(node, (ast.Expression, ast.Load, ast.operator, ast.unaryop, ast.keyword)):
        if isinstance(node, ast.keyword) and not (
            node.arg and isinstance(node.value, ast.Constant) and type(node.value.value) is bool
        ):
            return "a keyword that is not a flag"
        if isinstance(node, (ast.MatMult, ast.BitAnd, ast.BitOr, ast.BitXor)):
            return "an unsupported operator"
        return None
    if isinstance(node, ast.Constant):
        value = node.value
        if isinstance(value, str):
            return None if _SYMBOL_NAME.match(value) else f"the string {value[:20]!r}"
        if isinstance(value, bool) or (isinstance(value, int) and abs(value) < 1 << 63):
            return None
        return None if isinstance(value, float) else f"the constant {str(value)[:20]}"
    if isinstance(node, ast.Name):
        ok = node.id in _SYMPY_NAMES or node.id in _SYMPY_CALLS or _SYMBOL_NAME.match(node.id)
        return None if ok else f"the name '{node.id[:20]}'"
    if isinstance(node, ast.Call):
        name = node.func.id if isinstance(node.func, ast.Name) else ""
        if name not in _SYMPY_CALLS:
            return "a call of something other than a sympy constructor"
        if name in _SYMPY_POWERS and (len(node.args) != 2 or _large_exponent(node.args[1])):
            return "a power with a large exponent"
        return None
    if isinstance(node, ast.BinOp):
        large = isinstance(node.op, ast.Pow) and _large_exponent(node.right)
        return "a power with a large exponent" if large else None
    if isinstance(node, ast.UnaryOp):
        return None
    return f"'{type(node).__name__}' syntax"


def _large_exponent(node: ast.AST) -> bool:
    """Whether a power's exponent may be large (sympy would compute the power exactly)."""
    if isinstance(node, ast.Call) and len(node.args) == 1 and not node.keywords:
        node = node.args[0]  # Integer(3)
    if isinstance(node, ast.UnaryOp):
        node = node.operand
    if isinstance(node, ast.Constant):
        return not isinstance(node.value, (int, float)) or abs(node.value) > _MAX_EXPONENT
    return not isinstance(node, ast.Name)  # a symbol: nothing is computed


def check_torchscript(data: bytes, path: Path) -> None:
    """Refuse a TorchScript archive (its bytes) whose code calls operators that touch
    files or print."""
    reader, names = _records(data, path)
    for name in names:
        if not (name.startswith("code/") and name.endswith(".py")):
            continue
        code = bytes(reader.get_record(name)).decode("utf-8", "replace")
        found = _TORCHSCRIPT_UNSAFE.search(code)
        if found:
            call = found.group(1) or found.group(2)
            raise refuse(
                path, f"its TorchScript code calls '{call}', which touches files or the terminal"
            )


def check_onnx(model: Any, path: Path) -> None:
    """Refuse an ONNX model (an ``onnx.ModelProto``) whose tensors live in other files."""
    import onnx

    for tensor in onnx.external_data_helper._get_all_tensors(model):
        if tensor.data_location == onnx.TensorProto.EXTERNAL:
            where = next((e.value for e in tensor.external_data if e.key == "location"), "?")
            raise refuse(
                path,
                f"tensor '{tensor.name}' is stored in another file ('{where}'), which "
                "onnxruntime would read",
            )
