"""TEMPORARY stand-in for the compiler core's ``netspec.errors`` (branch main).

Only the surface that training uses; replaced wholesale by the core's module on merge.
"""

from __future__ import annotations


class NetspecError(Exception):
    """Base of every error netspec reports about a user's spec or input."""

    stage = "spec"

    def __init__(self, message: str, span: object = None, hint: str | None = None) -> None:
        self.message = message
        self.span = span
        self.hint = hint
        super().__init__(self.render())

    def render(self) -> str:
        return f"<spec>: error: {self.message}"


class UsageError(NetspecError):
    """Command-line misuse: exit status 2."""

    stage = "usage"
