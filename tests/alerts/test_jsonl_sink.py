"""The JSONL alert sink: one line per delivered alert, through the real dispatcher."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from flushwatch.alerts.dispatch import Dispatcher
from flushwatch.alerts.jsonl import JsonlFile
from flushwatch.alerts.rules import Alert


def _alert(key: str) -> Alert:
    return Alert(
        rule="big", kind="liquidations_over", key=key, symbol="BTCUSDT",
        ts=1_770_336_000_000_000_000, title="BTCUSDT liquidations", text="$2.0M in 5 min",
        value=2e6, threshold=1e6,
    )  # fmt: skip


def test_dispatcher_appends_one_line_per_alert_once(tmp_path: Path) -> None:
    path = tmp_path / "store" / "alerts.jsonl"
    dispatcher = Dispatcher([JsonlFile(path)])
    first = asyncio.run(dispatcher.dispatch([_alert("a"), _alert("b")]))
    again = asyncio.run(dispatcher.dispatch([_alert("a")]))  # de-duplicated by key
    assert [d.ok for d in first] == [True, True]
    assert again == []
    lines = path.read_text(encoding="utf-8").splitlines()
    assert [json.loads(x)["key"] for x in lines] == ["a", "b"]
    doc = json.loads(lines[0])
    assert doc["time"] == "2026-02-06T00:00:00Z"
    assert doc["value"] == 2e6
    assert doc["title"] == "BTCUSDT liquidations"


def test_unwritable_file_is_a_permanent_failure(tmp_path: Path) -> None:
    folder = tmp_path / "alerts.jsonl"
    folder.mkdir()  # a folder where the file should be: appending cannot succeed
    dispatcher = Dispatcher([JsonlFile(folder)], on_failure=None)
    (delivery,) = asyncio.run(dispatcher.dispatch([_alert("a")]))
    assert not delivery.ok
    assert delivery.attempts == 1  # not retried
    assert delivery.error is not None
    assert delivery.error.startswith("PermanentError: jsonl:alerts.jsonl: cannot append")
