"""Commented TOML templates of the config files (``flushwatch config report|venue|alerts``).

The venue and alert templates are generated from the config classes themselves: every key
is a field of the class, its value the field's default (or an example where there is none),
its comment the ``#:`` comment above the field in the class source. So a template cannot
drift from what the loader accepts; tests load each one through the real loader.
"""

from __future__ import annotations

import inspect
import json
import re
import typing
from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

import msgspec

__all__ = ["KINDS", "template"]

KINDS = ("report", "venue", "alerts")

#: Values shown for fields that have no default (the template must load as printed).
_EXAMPLES: dict[str, Any] = {
    "name": "",  # replaced per rule below
    "usd": 5_000_000.0,
    "minutes": 5,
    "outcome": "new_extreme_1d",
    "above": 0.6,
}
_RULE_NAMES = {
    "flush_detected": "flush",
    "liquidations_over": "longs-5m",
    "cascade_gain_above": "cascade",
    "invalidation_fired": "invalidated",
    "feed_stale": "stale",
    "probability": "extends",
}


@cache
def _field_comments(cls: type) -> dict[str, str]:
    """``field → its #: comment`` from the class source (and its bases')."""
    out: dict[str, str] = {}
    for klass in reversed(cls.__mro__):
        if not issubclass(klass, msgspec.Struct) or klass is msgspec.Struct:
            continue
        try:
            source = inspect.getsource(klass)
        except (OSError, TypeError):
            continue
        pending: list[str] = []
        for line in source.splitlines():
            text = line.strip()
            if text.startswith("#:"):
                pending.append(text[2:].strip())
                continue
            found = re.match(r"(\w+)\s*:", text)
            if found and pending:
                out[found.group(1)] = " ".join(pending)
            pending = []
    return out


def _with_choices(doc: str | None, kind: Any) -> str | None:
    """Add a Literal field's choices to its comment (``side``: long | short | total)."""
    args = typing.get_args(kind)
    if typing.get_origin(kind) is tuple and args:  # tuple[Literal[...], ...]
        kind, many = args[0], True
    else:
        many = False
    if typing.get_origin(kind) is not typing.Literal:
        return doc
    choices = " | ".join(str(a) for a in typing.get_args(kind))
    note = f"any of: {choices}" if many else f"one of: {choices}"
    return f"{doc} ({note})" if doc else note.capitalize()


def _toml(value: Any) -> str:
    """One TOML value (strings as JSON strings, which TOML reads the same)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"no TOML for {type(value).__name__}")


def _comment(text: str, width: int = 96) -> list[str]:
    words, lines, line = text.split(), [], "#"
    for w in words:
        if len(line) + 1 + len(w) > width:
            lines.append(line)
            line = "#"
        line += " " + w
    return [*lines, line] if line != "#" else lines


def _table(
    name: str, obj: msgspec.Struct, skip: Iterable[str] = (), header: str = "[{}]"
) -> list[str]:
    """``obj``'s fields as a commented TOML table; nested structs and dicts as sub-tables."""
    comments = _field_comments(type(obj))
    lines = [header.format(name)] if name else []
    subtables: list[str] = []
    for field in msgspec.structs.fields(obj):
        key = field.encode_name
        if key in skip:
            continue
        value = getattr(obj, field.name)
        doc = _with_choices(comments.get(field.name), field.type)
        if isinstance(value, msgspec.Struct):
            sub = f"{name}.{key}" if name else key
            subtables += ["", *(_comment(doc) if doc else []), *_table(sub, value)]
            continue
        if isinstance(value, Mapping):
            sub = f"{name}.{key}" if name else key
            subtables += ["", *(_comment(doc) if doc else []), f"[{sub}]"]
            subtables += [f"{k} = {_toml(v)}" for k, v in value.items()]
            continue
        lines += _comment(doc) if doc else []
        if value is None:
            lines.append(f"# {key} =   (unset by default)")
        else:
            lines.append(f"{key} = {_toml(value)}")
    return lines + subtables


_VENUE_HEAD = """\
# Connector configuration: `flushwatch record|watch|backfill|update --config venue.toml`.
#
# Without --config (or without a venue's table) every venue uses its PUBLIC PRODUCTION
# endpoints, the values shown here. One table per venue you run; a file with other venues'
# tables but not the one asked for is refused, and unknown keys are refused by name.
# Symbols and streams come from the command line (--symbols, --streams), not from here.
"""


_BACKFILL_NOTE = (
    "`backfill` and `update` also read REST page sizes from a [<venue>.backfill] table "
    "(binanceusdm, binancecoinm, bybit or okx); `record` and `watch` leave it alone, so one "
    "file serves all four commands, e.g.:"
)


def _venue() -> str:
    from flushwatch.connectors.bybit import BybitConfig
    from flushwatch.connectors.ccxt_adapter import CcxtConfig
    from flushwatch.connectors.config import DEFAULT_ENDPOINTS, ConnectorConfig, VisionConfig
    from flushwatch.connectors.okx import OkxConfig
    from flushwatch.live.backfill import BackfillConfig

    parts = [_VENUE_HEAD, "# ---- Binance USDⓈ-M futures ----"]
    parts += _table("binanceusdm", ConnectorConfig(endpoints=DEFAULT_ENDPOINTS["binanceusdm"]))
    for venue, what in (
        ("binancecoinm", "Binance COIN-M futures"),
        ("binance", "Binance spot (also the spot companion of `watch`)"),
    ):  # the same keys as [binanceusdm]; only the hosts differ
        parts += ["", f"# ---- {what}: the keys of [binanceusdm], its own hosts ----"]
        parts += _table(f"{venue}.endpoints", DEFAULT_ENDPOINTS[venue])
    parts += ["", '# ---- Bybit v5 (category = "spot" for its spot market) ----']
    parts += [*_table("bybit", BybitConfig(), skip=("symbols", "channels")), ""]
    parts.append("# ---- OKX v5 ----")
    okx_skip = ("inst_ids", "channels", "liquidation_inst_types")
    parts += [*_table("okx", OkxConfig(), skip=okx_skip), ""]
    parts.append("# ---- any other ccxt.pro venue: --venue ccxt:<id> (here kucoinfutures) ----")
    ccxt = CcxtConfig(exchange="kucoinfutures", symbols=())
    parts += _table('"ccxt:kucoinfutures"', ccxt, skip=("exchange", "symbols", "streams"))
    parts += ["", "# ---- `download binance-vision` and `update`: the archive host ----"]
    parts += _table("binance_vision", VisionConfig())
    parts += ["", *_comment(_BACKFILL_NOTE)]
    parts += [
        f"# {line}" if line else "#" for line in _table("binanceusdm.backfill", BackfillConfig())
    ]
    return "\n".join(parts) + "\n"


_ALERTS_HEAD = """\
# Alert rules and sinks: `flushwatch watch --alerts alerts.toml`.
#
# Each [[rules]] table is one rule, its `kind` one of those below (keep the ones you want);
# each [[sinks]] table is one place alerts go. Unknown keys are refused by name. Secrets
# (webhook URLs, Telegram chat ids) come from environment variables: *_env keys.
"""


def _alerts() -> str:
    from flushwatch.alerts.config import Rule, TerminalSink, WebhookSink

    parts = [_ALERTS_HEAD]
    for cls in typing.get_args(Rule):
        tag = cls.__struct_config__.tag
        example = {
            f.name: (_RULE_NAMES[tag] if f.name == "name" else _EXAMPLES[f.name])
            for f in msgspec.structs.fields(cls)
            if f.required
        }
        parts += _comment(inspect.getdoc(cls) or "")
        parts += ["[[rules]]", f"kind = {_toml(tag)}"]
        parts += [*_table("", cls(**example)), ""]
    webhook = WebhookSink(format="slack", url_env="FLUSHWATCH_SLACK_URL")
    for sink in (webhook, TerminalSink()):
        parts += _comment(inspect.getdoc(type(sink)) or "")
        parts += ["[[sinks]]", f"kind = {_toml(type(sink).__struct_config__.tag)}"]
        parts += [*_table("", sink), ""]
    return "\n".join(parts)


def template(kind: str) -> str:
    """The commented TOML template of ``kind`` (``report``, ``venue`` or ``alerts``)."""
    from flushwatch.errors import ConfigError

    if kind == "report":
        from flushwatch.config import default_toml

        return default_toml()
    if kind == "venue":
        return _venue()
    if kind == "alerts":
        return _alerts()
    raise ConfigError(f"config {kind!r}: use one of {', '.join(KINDS)}")
