"""Refuse a single-value option given twice (``--venue bybit --venue okx``), instead of
silently keeping the last one, which is what click does; and print every usage error (a
missing argument, an unknown option, a bad value) as one line, ``error: ... (see '... --help')``,
exit code 2, instead of a boxed panel.

Every command of the app is built with :class:`OnceCommand` and every group (the app, and
``download``) with :class:`OnceGroup`; options declared repeatable (``list[...]`` types, such
as ``watch --symbols``) are not affected.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import typer

# typer >= 0.24 vendors click as ``typer._click``: its UsageError (missing argument, unknown
# option, bad value, BadParameter) is the class raised here, and typer does not re-export it.
from typer._click.exceptions import UsageError
from typer.core import TyperCommand, TyperGroup


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


def reflow(text: str) -> str:
    """Join a docstring's paragraphs into single lines (typer's Rich help keeps the source's
    line breaks, which wrap raggedly on an 80-column terminal); a paragraph that starts with
    ``\\b`` (click's marker) keeps its lines, for examples."""
    paragraphs = inspect.cleandoc(text).split("\n\n")
    return "\n\n".join(
        p.removeprefix("\b").strip("\n") if p.startswith("\b") else " ".join(p.split())
        for p in paragraphs
    )


def escape_help(command: Any) -> None:
    """Escape Rich markup in a command's help and its options' help, so typer's Rich help
    prints ``[[tiers]]`` or ``[time]`` as written instead of eating them as style tags; and
    reflow the command's paragraphs."""
    from rich.markup import escape

    for obj in (command, *command.params):  # typer may hand the same option to two commands
        if getattr(obj, "help", None) and not getattr(obj, "_flushwatch_escaped", False):
            text = reflow(obj.help) if obj is command else obj.help
            obj.help = escape(text)
            obj._flushwatch_escaped = True


def one_line(exc: UsageError, ctx: Any) -> Exception:
    """Print a usage error as one line on stderr; return the exit (code 2) to raise.

    A group called without a command (``flushwatch``) has printed its help already: that
    "error" is returned as it is, for typer to exit quietly.
    """
    if type(exc).__name__ == "NoArgsIsHelpError":  # typer tells it apart by name too
        return exc
    where = exc.ctx or ctx
    see = f" (see '{where.command_path} --help')" if where is not None else ""
    typer.echo(f"error: {exc.format_message().rstrip('.')}{see}", err=True)
    return typer.Exit(exc.exit_code)


class OnceCommand(TyperCommand):
    """A typer command that refuses repeated single-value options (a usage error, exit 2)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        escape_help(self)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Check for repeated options, then parse as usual; any usage error is one line."""
        try:
            for opt, uses in repeated(self.get_params(ctx), args).items():
                message = f"given {len(uses)} times ({'; '.join(uses)}): give it once"
                raise typer.BadParameter(message, ctx=ctx, param_hint=f"'{opt}'")
            return super().parse_args(ctx, args)
        except UsageError as exc:
            raise one_line(exc, ctx) from None


class OnceGroup(TyperGroup):
    """A typer group whose own usage errors (unknown command, bad option) are one line."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        escape_help(self)

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        """Parse as usual; a usage error is one line."""
        try:
            return super().parse_args(ctx, args)
        except UsageError as exc:
            raise one_line(exc, ctx) from None

    def resolve_command(self, ctx: Any, args: list[str]) -> Any:
        """Find the sub-command; an unknown one is one line."""
        try:
            return super().resolve_command(ctx, args)
        except UsageError as exc:
            raise one_line(exc, ctx) from None
