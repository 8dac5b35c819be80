"""Refuse a single-value option given twice (``--venue bybit --venue okx``), instead of
silently keeping the last one, which is what click does.

Every command of the app is built with :class:`OnceCommand`; options declared repeatable
(``list[...]`` types, such as ``watch --symbols``) are not affected.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperCommand


def repeated(params: Sequence[Any], args: Sequence[str]) -> dict[str, list[str]]:
    """Return ``option → the values given`` for each single-value option given more than once.

    ``params`` are the command's parameters (click options and arguments); ``args`` the raw
    command line. Values are ``""`` for flags. Scanning stops at ``--``.
    """
    names: dict[str, Any] = {}
    for p in params:
        if getattr(p, "param_type_name", "") != "option" or p.multiple or p.count:
            continue
        for opt in (*p.opts, *p.secondary_opts):
            names[opt] = p
    seen: dict[str, list[tuple[str, str]]] = {}
    it = iter(range(len(args)))
    for i in it:
        token = args[i]
        if token == "--":
            break
        opt, eq, value = token.partition("=")
        p = names.get(opt)
        if p is None:
            continue
        if not eq and not p.is_flag and i + 1 < len(args):
            value = args[i + 1]
            next(it, None)  # the value is not an option of its own
        seen.setdefault(p.name, []).append((opt, value))
    return {
        uses[0][0]: [f"{o} {v}".strip() for o, v in uses] for uses in seen.values() if len(uses) > 1
    }


class OnceCommand(TyperCommand):
    """A typer command that refuses repeated single-value options (a usage error, exit 2)."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Check for repeated options, then parse as usual."""
        for opt, uses in repeated(self.get_params(ctx), args).items():
            message = f"given {len(uses)} times ({'; '.join(uses)}): give it once"
            raise typer.BadParameter(message, ctx=ctx, param_hint=f"'{opt}'")
        return super().parse_args(ctx, args)
