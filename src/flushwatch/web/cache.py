"""A small per-process cache of API answers and pages, keyed by the store's version and the
arguments.

Pages may be slow to compute on a big store (a report over months of bars takes seconds);
the same page is asked for again and again while nothing changed. The key includes the
store's *version* — the size and modification time of its import ledger, which every write
appends to (imports and live batches alike) — so a write makes every cached answer stale.
Errors are not cached.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")


class AnswerCache:
    """Least-recently-used answers, at most ``size`` of them, safe across request threads."""

    def __init__(self, version: Callable[[], Hashable], size: int = 64) -> None:
        self.version = version  # the store's data version (``Workspace.data_version``)
        self.size = size
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], T]) -> T:
        """The cached answer for ``key`` at the store's current version, else ``compute()``."""
        full = (self.version(), key)
        with self._lock:
            if full in self._items:
                self._items.move_to_end(full)
                self.hits += 1
                value: T = self._items[full]
                return value
        self.misses += 1
        value = compute()  # outside the lock: two slow pages may compute at once
        with self._lock:
            self._items[full] = value
            self._items.move_to_end(full)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value
