"""An alert sink that appends one JSON line per alert to a file (``<store>/alerts.jsonl``).

The dashboard's Live page (``flushwatch serve``) tails this file to show alerts as ``watch``
fires them. Each line is the ``json`` webhook body (:func:`flushwatch.alerts.sinks.webhook_body`:
the :class:`~flushwatch.alerts.rules.Alert` fields plus ``time``). A line is written with one
``write`` on a file opened for appending, so a reader never sees half of one, and readers that
find no trailing newline wait for the rest.
"""

from __future__ import annotations

import json
from pathlib import Path

from flushwatch.alerts.rules import Alert
from flushwatch.alerts.sinks import webhook_body
from flushwatch.errors import PermanentError

#: The file ``watch --store`` appends to inside the store, and the Live page tails.
STORE_FILE = "alerts.jsonl"


def store_alerts(store: Path) -> Path:
    """Where ``watch --store`` appends alerts for the dashboard: ``<store>/alerts.jsonl``."""
    return store / STORE_FILE


class JsonlFile:
    """Append alerts to ``path`` (created with its folder when missing)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.name = f"jsonl:{path.name}"

    def line(self, alert: Alert) -> bytes:
        """The bytes written for ``alert``: one JSON object and a newline."""
        body = webhook_body(alert, "json")
        return (json.dumps(body, ensure_ascii=False, separators=(",", ":")) + "\n").encode()

    def append(self, alert: Alert) -> None:
        """Write the alert's line now (blocking)."""
        data = self.line(alert)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with self.path.open("ab") as fh:
                fh.write(data)
        except OSError as exc:  # a full or read-only disk will not get better by retrying
            raise PermanentError(f"{self.name}: cannot append to {self.path}: {exc}") from exc

    async def send(self, alert: Alert) -> None:
        """Append now, on the event loop (the sink protocol of the dispatcher).

        The dispatcher sends a batch concurrently; appending before the first ``await`` keeps
        the file in the order the alerts were raised (a thread per append raced: b before a).
        One short line to a local file costs less than the hop to a thread.
        """
        self.append(alert)
