"""The spec object of the public API: a compiled spec that can build its network.

:func:`compile_spec` (``netspec.load``) runs the front end (:mod:`netspec.compiler`, which
never imports the back end) and returns a :class:`Spec`: the :class:`CompiledSpec` with a
:meth:`~Spec.build` method that calls the back end (:mod:`netspec.build`). This module sits
above both, so that the back end can take a ``CompiledSpec`` without an import circle.
torch is imported only when ``build`` is called.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .compiler import CompiledSpec, compile_document, read_spec

if TYPE_CHECKING:
    import torch


class Spec(CompiledSpec):
    """A compiled spec (shapes, params, the node tree) that builds its ``nn.Module``.

    It adds behaviour only, no fields: ``CompiledSpec``'s dataclass methods serve it.
    """

    @classmethod
    def of(cls, compiled: CompiledSpec) -> Spec:
        return cls(**{f.name: getattr(compiled, f.name) for f in fields(compiled)})

    def build(
        self, seed: int | None = None, *, fast: bool = False, device: str | None = None
    ) -> torch.nn.Module:
        """Build the ``nn.Module`` (imports torch); ``seed`` makes the weights reproducible.

        ``fast`` applies :func:`netspec.optimize.speed_up` for ``device`` (same state_dict
        keys and numerics, faster training and inference).
        """
        from .build import build_model

        return build_model(self, seed=seed, fast=fast, device=device)


def compile_spec(
    source: str | Path | dict[str, Any],
    params: Mapping[str, Any] | None = None,
    variant: str | None = None,
) -> Spec:
    """Compile a spec given as a path, as YAML/JSON text, or as a dict.

    A ``str`` containing a newline or starting with ``{`` is taken as spec text; any other
    ``str`` is a path. ``variant`` picks one of the spec's ``variants:`` (its params);
    ``params`` then override param values (as ``--set`` does), each checked against the
    param's type.
    """
    return Spec.of(compile_document(read_spec(source), params, variant))
