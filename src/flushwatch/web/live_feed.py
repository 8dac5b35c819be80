"""What the Live page is told: new liquidation prints, totals this hour, alerts fired.

Read from the store while ``record`` or ``watch`` writes to it (each batch is one atomic
store write, so a read sees whole batches) and from ``<store>/alerts.jsonl``, the file
:class:`flushwatch.alerts.jsonl.JsonlFile` appends one alert per line to. Prints come from
``Workspace.prints`` and ``Workspace.hour_totals``. Totals are of venue prints only, by
position side, for the current UTC hour by the wall clock, and say when a throttled feed makes
them a lower bound.
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING, Any

from flushwatch.alerts.jsonl import store_alerts

if TYPE_CHECKING:
    from flushwatch.api import Workspace

HOUR_NS = 3600 * 10**9
#: Prints and alerts sent when a page connects, and prints per update at most.
FIRST, BATCH = 50, 500


class LiveFeed:
    """One connected page's cursor over the store's prints and the alerts file."""

    def __init__(self, ws: Workspace, clock: Any = time.time_ns) -> None:
        self.ws = ws
        self.alerts_path = store_alerts(ws.path)
        self._clock = clock
        self._version: tuple[int, ...] | None = None
        self._hour = -1
        self._cursor = -1  # ts_event of the latest print sent
        self._at_cursor: set[tuple[Any, ...]] = set()  # prints sent with that ts_event
        self._offset = 0  # bytes of the alerts file already read

    def _new_prints(self, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
        out = []
        for r in rows:
            key = tuple(r.values())
            if r["ts_event"] == self._cursor and key in self._at_cursor:
                continue
            if r["ts_event"] > self._cursor:
                self._cursor, self._at_cursor = r["ts_event"], set()
            self._at_cursor.add(key)
            out.append(r)
        return out

    def _totals(self, hour: int) -> dict[str, Any]:
        return self.ws.hour_totals(hour * HOUR_NS).to_dict()

    def _alerts(self, last: int | None) -> list[dict[str, Any]]:
        try:
            with self.alerts_path.open("rb") as fh:
                size = fh.seek(0, 2)
                if size < self._offset:  # the file was replaced: read it again
                    self._offset = 0
                fh.seek(self._offset)
                chunk = fh.read()
        except OSError:
            return []
        whole = chunk[: chunk.rfind(b"\n") + 1]  # a line still being written waits
        self._offset += len(whole)
        out = []
        for line in whole.splitlines():
            try:
                alert = json.loads(line)
            except ValueError:
                continue
            if isinstance(alert, dict):
                out.append(alert)
        return out[-last:] if last else out

    def first(self) -> dict[str, Any]:
        """Everything a page shows when it connects."""
        self._version = self.ws.data_version()
        self._hour = self._clock() // HOUR_NS
        return {
            "liquidations": self._new_prints(self.ws.prints(limit=FIRST)),
            "totals": self._totals(self._hour),
            "alerts": self._alerts(FIRST),
        }

    def poll(self) -> dict[str, Any] | None:
        """What changed since the last look, or None."""
        out: dict[str, Any] = {}
        version, hour = self.ws.data_version(), self._clock() // HOUR_NS
        if version != self._version:
            self._version = version
            rows = self.ws.prints(after_ts=max(self._cursor, 0), limit=BATCH)
            new = self._new_prints(rows)
            if new:
                out["liquidations"] = new
        if "liquidations" in out or hour != self._hour:
            self._hour = hour
            out["totals"] = self._totals(hour)
        alerts = self._alerts(None)
        if alerts:
            out["alerts"] = alerts
        return out or None
