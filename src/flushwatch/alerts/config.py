"""Alert rules and sinks from a TOML file: typed, frozen, and a typo is an error at startup.

Example (every key shown; unknown keys raise :class:`~flushwatch.errors.ConfigError`)::

    [[rules]]
    kind = "liquidations_over"      # flush_detected | liquidations_over | cascade_gain_above
    name = "longs-5m"               #   | invalidation_fired | feed_stale | probability
    usd = 5_000_000                 # fires at usd and above
    minutes = 5                     # the window (must be one the live state keeps)
    side = "long"                   # long | short | total
    repeat_after_s = 900            # de-duplication window of this rule's alerts

    [[rules]]
    kind = "probability"            # needs watch --store: evaluated each closed hour
    name = "extends"
    outcome = "new_extreme_1d"      # <new_extreme|up|oi_back|funding_reset>_<horizon>
    above = 0.6                     # fires at P >= 0.6, and only if it beat its base rate

    [[rules]]
    kind = "cascade_gain_above"
    name = "cascade"
    gain = 1.0                      # a G ≥ 1 band (self-propagating) ...
    within_pct = 2.0                # ... starting within 2 % of the price

    [[sinks]]
    kind = "webhook"
    format = "slack"                # json | slack | discord | telegram
    url_env = "FLUSHWATCH_SLACK_URL"  # secrets come from the environment, never the file
    # url = "http://127.0.0.1:8080/hook"   # or a literal URL (tests, local relays)

    [[sinks]]
    kind = "terminal"
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from flushwatch.errors import ConfigError

PositiveFloat = Annotated[float, msgspec.Meta(gt=0)]
PositiveInt = Annotated[int, msgspec.Meta(gt=0)]


class _Rule(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="kind"
):
    name: str
    repeat_after_s: Annotated[float, msgspec.Meta(ge=0)] = 900.0
    #: Only these symbols (empty: every watched symbol).
    symbols: tuple[str, ...] = ()


class FlushDetected(_Rule, frozen=True, kw_only=True, tag="flush_detected"):
    """Alert once per flush the live detector finds (keyed by the event's start)."""

    min_score: float = 0.0


class LiquidationsOver(_Rule, frozen=True, kw_only=True, tag="liquidations_over"):
    """Alert when liquidations reach ``usd`` within the last ``minutes`` (floors on Binance)."""

    usd: PositiveFloat
    minutes: PositiveInt
    side: Literal["long", "short", "total"] = "total"


class CascadeGainAbove(_Rule, frozen=True, kw_only=True, tag="cascade_gain_above"):
    """Alert when a band with gain ≥ ``gain`` starts within ``within_pct`` of the price."""

    gain: Annotated[float, msgspec.Meta(ge=1)] = 1.0
    within_pct: PositiveFloat = 2.0


class InvalidationFired(_Rule, frozen=True, kw_only=True, tag="invalidation_fired"):
    """Alert when a risk-box rule fires for the latest flush (empty ``rules``: any of them)."""

    rules: tuple[
        Literal["oi_reloaded_into_weakness", "funding_without_spot_demand", "btc_support_lost"],
        ...,
    ] = ()


class FeedStale(_Rule, frozen=True, kw_only=True, tag="feed_stale"):
    """Alert once per stale episode of a stream (connector event or silence)."""


#: ``new_extreme_1d``, ``up_3d``, ``oi_back_7d``, ``funding_reset_12h``: outcome and horizon.
OUTCOME_ID = r"^(new_extreme|up|oi_back|funding_reset)_\d+(\.\d+)?[dh]$"


class ProbabilityAbove(_Rule, frozen=True, kw_only=True, tag="probability"):
    """Alert when the report's walk-forward P(``outcome``) for the latest judged flush is at
    least ``above`` — only where that procedure has beaten its base rate on earlier flushes.

    Needs ``watch --store``: the odds come from the store's report as of each closed hour.
    """

    outcome: Annotated[str, msgspec.Meta(pattern=OUTCOME_ID)]
    above: Annotated[float, msgspec.Meta(gt=0, lt=1)]


Rule = (
    FlushDetected
    | LiquidationsOver
    | CascadeGainAbove
    | InvalidationFired
    | FeedStale
    | ProbabilityAbove
)


class WebhookSink(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="kind",
    tag="webhook",
):  # fmt: skip
    """POST each alert as JSON to a URL (from ``url`` or the environment variable ``url_env``)."""

    format: Literal["json", "slack", "discord", "telegram"] = "json"
    url: str | None = None
    url_env: str | None = None
    #: Telegram ``sendMessage`` needs the chat; its env var keeps it out of the file too.
    chat_id: str | None = None
    chat_id_env: str | None = None
    timeout_s: PositiveFloat = 10.0
    attempts: PositiveInt = 5
    backoff_s: PositiveFloat = 1.0
    max_backoff_s: PositiveFloat = 60.0

    def resolved_url(self) -> str:
        """Return the URL, reading the environment when configured so."""
        return _resolve(self.url, self.url_env, "url")

    def resolved_chat_id(self) -> str:
        """Return the Telegram chat id."""
        return _resolve(self.chat_id, self.chat_id_env, "chat_id")


class TerminalSink(
    msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True, tag_field="kind",
    tag="terminal",
):  # fmt: skip
    """Print each alert as one line."""


Sink = WebhookSink | TerminalSink


class AlertsConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The whole alerts file."""

    rules: tuple[Rule, ...] = ()
    sinks: tuple[Sink, ...] = (TerminalSink(),)

    def probability_rules(self) -> tuple[ProbabilityAbove, ...]:
        """The rules evaluated hourly on the store's report, not on the live snapshot."""
        return tuple(r for r in self.rules if isinstance(r, ProbabilityAbove))

    def windows_min(self) -> tuple[int, ...]:
        """Rolling liquidation windows the live state must keep for these rules."""
        return tuple(sorted({r.minutes for r in self.rules if isinstance(r, LiquidationsOver)}))


def _resolve(value: str | None, env: str | None, what: str) -> str:
    if value:
        return value
    if env:
        found = os.environ.get(env)
        if found:
            return found
        raise ConfigError(f"webhook sink: environment variable {env} (its {what}) is not set")
    raise ConfigError(f"webhook sink: set {what} or {what}_env")


_WHERE = re.compile(r" - at `\$(.*)`$")


def parse_alerts(text: str | bytes, source: str = "<alerts>") -> AlertsConfig:
    """Parse an alerts TOML document; any problem is a ConfigError naming the key and place."""
    try:
        cfg = msgspec.toml.decode(text, type=AlertsConfig)
    except msgspec.ValidationError as exc:
        message = str(exc)
        found = _WHERE.search(message)
        where = f" (at {found.group(1) or 'top level'})" if found else ""
        raise ConfigError(f"{source}: {_WHERE.sub('', message)}{where}") from None
    except msgspec.DecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML: {exc}") from None
    for i, item in enumerate((*cfg.rules, *cfg.sinks)):
        for field in item.__struct_fields__:  # TOML spells nan and inf; a sign check lets inf by
            value = getattr(item, field)
            if isinstance(value, float) and not math.isfinite(value):
                table, n = ("rules", i) if i < len(cfg.rules) else ("sinks", i - len(cfg.rules))
                raise ConfigError(
                    f"{source}: {field} = {value}: must be a finite number (at .{table}[{n}])"
                )
    names = [r.name for r in cfg.rules]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ConfigError(f"{source}: rule names must be unique: {', '.join(dupes)}")
    for sink in cfg.sinks:
        if not isinstance(sink, WebhookSink) or sink.format != "telegram":
            continue
        if not (sink.chat_id or sink.chat_id_env):
            raise ConfigError(f"{source}: a telegram sink needs chat_id or chat_id_env")
    return cfg


def load_alerts(path: Path) -> AlertsConfig:
    """Read and parse an alerts TOML file."""
    try:
        return parse_alerts(path.read_bytes(), str(path))
    except FileNotFoundError:
        raise ConfigError(f"{path}: alerts file not found") from None
