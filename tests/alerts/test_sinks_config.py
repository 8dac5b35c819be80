"""Webhook bodies have the documented shapes; the rules file rejects typos by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from flushwatch.alerts.config import (
    FeedStale,
    LiquidationsOver,
    TerminalSink,
    WebhookSink,
    load_alerts,
    parse_alerts,
)
from flushwatch.alerts.rules import Alert
from flushwatch.alerts.sinks import DISCORD_MAX, webhook_body
from flushwatch.errors import ConfigError

ALERT = Alert(
    rule="stale",
    kind="feed_stale",
    key="stale|wss://x|1",
    symbol="BTCUSDT",
    ts=1_723_161_600_000_000_000,
    title="feed stale: btcusdt@forceOrder",
    text="btcusdt@forceOrder is stale since 2024-08-09T00:00:00Z.",
)
TEXT = ALERT.title + "\n" + ALERT.text


def test_slack_discord_telegram_bodies_have_exact_shapes() -> None:
    assert webhook_body(ALERT, "slack") == {"text": TEXT}
    assert webhook_body(ALERT, "discord") == {"content": TEXT}
    assert webhook_body(ALERT, "telegram", chat_id="-100123") == {
        "chat_id": "-100123",
        "text": TEXT,
    }
    big = Alert(
        rule="r", kind="k", key="k", symbol="S", ts=0, title="t", text="x" * (DISCORD_MAX + 10)
    )
    assert len(webhook_body(big, "discord")["content"]) == DISCORD_MAX  # type: ignore[arg-type]


def test_plain_json_body_carries_every_alert_field() -> None:
    body = webhook_body(ALERT, "json")
    assert body["key"] == ALERT.key
    assert body["kind"] == "feed_stale"
    assert body["time"] == "2024-08-09T00:00:00Z"
    assert set(body) >= {"rule", "symbol", "ts", "title", "text", "value", "threshold"}


def test_rules_toml_parses_every_kind(tmp_path: Path) -> None:
    path = tmp_path / "rules.toml"
    path.write_text(
        """
[[rules]]
kind = "liquidations_over"
name = "longs-5m"
usd = 5e6
minutes = 5
side = "long"

[[rules]]
kind = "flush_detected"
name = "flush"

[[rules]]
kind = "cascade_gain_above"
name = "cascade"
within_pct = 1.5

[[rules]]
kind = "invalidation_fired"
name = "invalid"
rules = ["btc_support_lost"]

[[rules]]
kind = "feed_stale"
name = "stale"

[[sinks]]
kind = "webhook"
format = "telegram"
url = "http://127.0.0.1:9/bot/sendMessage"
chat_id = "42"

[[sinks]]
kind = "terminal"
"""
    )
    cfg = load_alerts(path)
    assert [type(r).__name__ for r in cfg.rules] == [
        "LiquidationsOver",
        "FlushDetected",
        "CascadeGainAbove",
        "InvalidationFired",
        "FeedStale",
    ]
    assert cfg.rules[0] == LiquidationsOver(name="longs-5m", usd=5e6, minutes=5, side="long")
    assert isinstance(cfg.rules[4], FeedStale)
    assert cfg.windows_min() == (5,)
    assert isinstance(cfg.sinks[0], WebhookSink)
    assert isinstance(cfg.sinks[1], TerminalSink)


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('[[rules]]\nkind = "feed_stale"\nname = "s"\nrepeat_after = 5\n', "repeat_after"),
        ('[[sinks]]\nkind = "webhook"\nurl = "http://127.0.0.1:1"\nformatt = "slack"\n', "formatt"),
        ("typo = 1\n", "typo"),
        ('[[rules]]\nkind = "liquidations_over"\nname = "x"\nusd = 1\n', "minutes"),
        ('[[rules]]\nkind = "liquidation_over"\nname = "x"\n', "liquidation_over"),
    ],
)
def test_bad_rules_file_is_a_config_error_naming_the_key(text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        parse_alerts(text, "rules.toml")


def test_secrets_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    sink = WebhookSink(format="slack", url_env="FW_TEST_HOOK")
    with pytest.raises(ConfigError, match="FW_TEST_HOOK"):
        sink.resolved_url()
    monkeypatch.setenv("FW_TEST_HOOK", "http://127.0.0.1:1/x")
    assert sink.resolved_url() == "http://127.0.0.1:1/x"
    with pytest.raises(ConfigError, match="chat_id"):
        parse_alerts(
            '[[sinks]]\nkind = "webhook"\nformat = "telegram"\nurl = "http://127.0.0.1:1"\n'
        )
