"""Issue 14, "no silent failure": each case failed silently before and is reported now.

* ``watch`` with a webhook nobody answers: each failed delivery is printed, the exit status
  is 1 (was: nothing printed, exit 0);
* ``record`` pointed at a closed port: an ``unreachable`` event, a summary line and a
  non-zero exit (was: nothing for the whole ``--duration``, exit 0);
* a ``--config`` with only ``[bybit]`` used for ``binanceusdm`` (or for the spot companion of
  ``watch``) is refused (was: the production endpoints, silently);
* ``--venue`` given twice is refused (was: the last one kept).

The exchange is the real loopback on 127.0.0.1 (served from a thread; the CLI runs its own
event loop) with an empty recording: its streams are acknowledged and stay silent, so the
stale-feed rule fires within a second.
"""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.cli.once import repeated
from flushwatch.connectors.factory import venue_section
from flushwatch.errors import ConfigError
from flushwatch.testing.loopback import LoopbackExchange
from flushwatch.testing.loopback_replay import Recording
from flushwatch.testing.threaded import served_in_thread

SECRET = "T0KEN-not-in-output"
#: One CONSTRUCTED trade on a stream watch does not subscribe: the loopback then knows
#: BTCUSDT (its OI polls answer) and every watched stream stays silent.
QUIET = Recording(
    frames=[
        (
            "btcusdt@trade",
            '{"stream":"btcusdt@trade","data":{"e":"trade","E":1723075200000,"s":"BTCUSDT",'
            '"t":1,"p":"57000.0","q":"0.001","T":1723075200000,"m":false}}',
        )
    ],
    snapshots={},
)


def _closed_port() -> int:
    """A port on 127.0.0.1 that nobody listens on (bound, then released)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def _endpoints(ws: str, http: str) -> str:
    return (
        f'[binanceusdm.endpoints]\npublic_ws = "{ws}/public"\nmarket_ws = "{ws}/market"\n'
        f'rest = "{http}"\n'
    )


def test_watch_reports_each_failed_delivery_and_exits_1(tmp_path: Path) -> None:
    hook = f"http://127.0.0.1:{_closed_port()}/hook/{SECRET}"
    rules = tmp_path / "rules.toml"
    rules.write_text(
        '[[rules]]\nkind = "feed_stale"\nname = "stale"\n\n'
        f'[[sinks]]\nkind = "webhook"\nurl = "{hook}"\nattempts = 1\n'
    )
    with served_in_thread(lambda: LoopbackExchange(QUIET)) as ex:
        config = tmp_path / "endpoints.toml"
        config.write_text(
            "[binanceusdm]\noi_interval = 60.0\n"
            "[binanceusdm.expected_interval]\naggTrade = 0.3\n"
            + _endpoints(ex.ws_base, ex.http_base)
        )
        args = ["watch", "--no-spot", "--book-stream", "none", "--duration", "3"]
        args += ["--config", str(config), "--alerts", str(rules)]
        result = CliRunner().invoke(app, args, env={"COLUMNS": "200"})
    out = result.output
    assert result.exit_code == 1, out
    assert "NOT delivered to webhook:json after 1 attempt" in out
    assert re.search(r"error: \d+ alert deliver(y|ies) failed", out), out
    assert SECRET not in out  # the webhook URL may carry a token


def test_record_at_a_closed_port_says_it_cannot_connect(tmp_path: Path) -> None:
    port = _closed_port()
    config = tmp_path / "endpoints.toml"
    config.write_text(
        "[binanceusdm]\noi_interval = 60.0\n[binanceusdm.backoff]\ninitial = 0.05\n"
        "maximum = 0.2\n" + _endpoints(f"ws://127.0.0.1:{port}", f"http://127.0.0.1:{port}")
    )
    args = ["record", "--venue", "binanceusdm", "--symbols", "BTCUSDT", "--streams", "aggTrade"]
    args += ["--no-store", "--recordings", str(tmp_path / "rec"), "--duration", "1.5"]
    args += ["--config", str(config)]
    result = CliRunner().invoke(app, args)
    out = result.output
    assert result.exit_code == 2, out
    assert f"unreachable ws://127.0.0.1:{port}/market/stream: cannot connect (attempt" in out
    assert "still unreachable at the end" in out
    events = (tmp_path / "rec" / "feed-events.json").read_text()
    assert '"kind":"unreachable"' in events


def test_a_config_for_another_venue_is_refused(tmp_path: Path) -> None:
    config = tmp_path / "venues.toml"
    config.write_text('[bybit]\nws_base = "ws://127.0.0.1:9"\n')
    for command in ("record", "watch"):
        args = [command, "--venue", "binanceusdm", "--symbols", "BTCUSDT", "--config", str(config)]
        result = CliRunner().invoke(app, args)
        assert result.exit_code == 2, result.output
        assert "has tables for bybit but none for binanceusdm" in result.output
    with pytest.raises(ConfigError, match=r"add \[okx\]"):
        venue_section({"bybit": {}}, "okx")
    assert venue_section({"okx": {}}, "okx") == {}  # an empty table: the defaults, asked for


def test_watch_spot_companion_needs_its_own_table(tmp_path: Path) -> None:
    config = tmp_path / "venues.toml"
    config.write_text(_endpoints("ws://127.0.0.1:9", "http://127.0.0.1:9"))
    args = ["watch", "--venue", "binanceusdm", "--config", str(config), "--duration", "1"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "no [binance-spot] or [binance] table for the spot companion" in result.output


@pytest.mark.parametrize(
    "args",
    [
        ["watch", "--venue", "bybit", "--venue", "okx"],
        ["record", "--venue=bybit", "--symbols", "BTCUSDT", "--venue", "okx"],
        ["backfill", "--venue", "binanceusdm", "--venue", "binanceusdm"],
        ["watch", "--spot", "--no-spot"],
    ],
)
def test_a_single_value_option_given_twice_is_refused(args: list[str]) -> None:
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "give it once" in result.output


def test_repeatable_options_and_values_that_look_like_options() -> None:
    import typer

    command = typer.main.get_command(app)
    watch = command.commands["watch"]  # type: ignore[attr-defined]
    params = watch.params
    assert repeated(params, ["--symbols", "BTCUSDT", "--symbols", "ETHUSDT"]) == {}
    assert repeated(params, ["--venue", "bybit", "--", "--venue"]) == {}
    assert repeated(params, ["--venue", "bybit", "--venue=okx"]) == {
        "--venue": ["--venue bybit", "--venue okx"]
    }
