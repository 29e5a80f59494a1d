"""How much memory netspec lets one network (or one file it loads) take.

A spec can describe a network whose weights alone would not fit in any machine (one
``linear: {out: 1000000}`` on a million features is 4 TB), and a weights file or an
artifact can claim to hold as much. netspec refuses such a network before the allocator
is asked — ``netspec build`` and ``Spec.build()`` compare the parameters' size with
:func:`memory_limit`, and ``netspec check`` warns — instead of failing seconds later with
an allocator error, or worse, succeeding and pushing the machine into swap.

The limit is half the physical memory by default; ``NETSPEC_MEMORY_LIMIT`` sets it
(``16G``, ``512MiB``, ``75%`` of physical memory, or a number of bytes). No torch here.
"""

from __future__ import annotations

import os
import re

from .errors import UsageError

#: The environment variable that sets the limit.
ENV = "NETSPEC_MEMORY_LIMIT"
#: The default limit: this fraction of the machine's physical memory.
DEFAULT_FRACTION = 0.5
#: The limit where the physical memory cannot be read (16 GiB).
FALLBACK_BYTES = 16 << 30
#: Bytes per parameter of a freshly built network (float32).
PARAMETER_BYTES = 4

_UNITS = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}
_SIZE = re.compile(r"^\s*([0-9]*\.?[0-9]+(?:e[0-9]+)?)\s*([kmgt]?)(?:i?b)?\s*$", re.I)


def physical_memory() -> int | None:
    """The machine's physical memory in bytes, or None where the system does not say."""
    try:
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):
        return None


def memory_limit() -> int:
    """The most bytes one network's parameters (or one loaded file) may take."""
    text = os.environ.get(ENV, "").strip()
    physical = physical_memory()
    if not text:
        return int(physical * DEFAULT_FRACTION) if physical else FALLBACK_BYTES
    if text.endswith("%"):
        try:
            percent = float(text[:-1])
        except ValueError:
            percent = -1.0
        if not 0 < percent <= 100:
            raise UsageError(
                f"{ENV}={text!r}: a percentage must be above 0 and at most 100", code="NS905"
            )
        return int((physical or FALLBACK_BYTES) * percent / 100)
    match = _SIZE.match(text)
    if match is None or float(match[1]) <= 0:
        raise UsageError(
            f"{ENV}={text!r} is not a size",
            hint="write bytes with an optional unit (16G, 512MiB) or a percentage of "
            "physical memory (75%)",
            code="NS905",
        )
    return int(float(match[1]) * _UNITS[match[2].lower()])


def human_bytes(n: int) -> str:
    """2359296 → '2.2 MiB': memory sizes in binary units, as allocators report them."""
    for unit, size in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if n >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n} B"


def parameters_too_large(count: int) -> str | None:
    """Why ``count`` float32 parameters exceed the limit, or None when they fit."""
    need, limit = count * PARAMETER_BYTES, memory_limit()
    if need <= limit:
        return None
    return (
        f"the parameters need {human_bytes(need)} ({count:,} float32 values), more than the "
        f"memory limit of {human_bytes(limit)}"
    )
