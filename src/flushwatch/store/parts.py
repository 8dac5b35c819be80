"""Immutable part files of one partition, and the size-tiered plan that merges them.

A partition ``<dataset>/<exchange>/<market>/<symbol>/<key>`` is a set of part files whose rows
are disjoint on the key columns (every write stores only rows no part holds yet). ``<key>``
is the UTC day ``YYYY-MM-DD`` or, for datasets of hourly and slower rows, the UTC month
``YYYY-MM`` (:data:`flushwatch.store.schema.MONTHLY`)::

    <key>.parquet               part 0: the first write, and the result of a full compaction
    <key>.part-000001.parquet   later writes, numbered one above the highest existing part
    <key>.part-000002.parquet   ...

Every name ends in ``.parquet``, so ``read_parquet('<root>/<dataset>/**/*.parquet')`` sees every
row once, and names sort (as strings too) in part-number order. A merge writes its result
over its *lowest*-numbered input (so part 0 stays part 0) and deletes the other inputs; the
names are therefore a pure function of the write history, and numbers freed by a merge are
reused, so they stay small.

The merge policy is size-tiered with fan-in :data:`FANOUT`: a part of ``n`` rows is in tier
``floor(log4 n)``; when a tier holds ``FANOUT`` parts they merge into one part of a higher tier.
Each row is rewritten once per tier it climbs, so a day of ``n`` rows costs O(n log n) writes
in total (instead of O(n²) when every write rewrote the day) and keeps at most
``FANOUT - 1`` parts per tier, i.e. O(log n) files.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import msgspec
import pyarrow.parquet as pq

from flushwatch.errors import StoreError

#: Parts per tier that trigger a merge; also the size ratio between tiers.
FANOUT = 4
#: Rows per Parquet row group: small enough that ``ts_event`` statistics prune a day's file
#: down to the minutes a write overlaps, large enough to compress well.
ROW_GROUP = 65_536

_NAME = re.compile(r"^(?P<day>\d{4}-\d{2}(?:-\d{2})?)(?:\.part-(?P<seq>\d{6,}))?\.parquet$")


class Part(msgspec.Struct, frozen=True):
    """One part file: its sequence number, path, row count and, per row group, the
    ``(min, max)`` of ``ts_event`` (None when the file has no statistics), from its footer."""

    seq: int
    path: Path
    rows: int
    groups: tuple[tuple[int, int] | None, ...]

    def groups_within(self, lo: int, hi: int) -> list[int]:
        """Row groups that may hold a ``ts_event`` in ``[lo, hi]``."""
        return [i for i, g in enumerate(self.groups) if g is None or (g[1] >= lo and g[0] <= hi)]


class Merge(msgspec.Struct, frozen=True):
    """Merge the parts numbered ``inputs`` into one part numbered ``output`` (= min(inputs))."""

    inputs: tuple[int, ...]
    output: int


def part_name(day: str, seq: int) -> str:
    """Return the file name of part ``seq`` of ``day``."""
    return f"{day}.parquet" if seq == 0 else f"{day}.part-{seq:06d}.parquet"


def parse_name(name: str) -> tuple[str, int] | None:
    """Return ``(day, seq)`` of a part file name, or None for any other file."""
    m = _NAME.match(name)
    if m is None:
        return None
    seq = int(m["seq"]) if m["seq"] is not None else 0
    if m["seq"] is not None and seq == 0:
        return None  # "<day>.part-000000.parquet" would alias part 0: never written, never read
    return m["day"], seq


def read_part(path: Path, seq: int) -> Part:
    """Describe one part from its footer; a file that is not Parquet is a clear StoreError."""
    try:
        meta = pq.read_metadata(path)
        col = meta.schema.to_arrow_schema().get_field_index("ts_event")
        groups: list[tuple[int, int] | None] = []
        for i in range(meta.num_row_groups):
            stats = meta.row_group(i).column(col).statistics if col >= 0 else None
            if stats is not None and stats.has_min_max:
                groups.append((int(stats.min), int(stats.max)))
            else:
                groups.append(None)  # no statistics: the row group is always read
    except (OSError, ValueError) as exc:
        raise StoreError(f"{path}: not a readable Parquet part file ({exc})") from exc
    return Part(seq, path, int(meta.num_rows), tuple(groups))


def list_parts(folder: Path, day: str) -> list[Part]:
    """Return the parts of one day in ``folder``, ordered by sequence number."""
    if not folder.is_dir():
        return []
    out = []
    for path in folder.glob(f"{day}*.parquet"):
        parsed = parse_name(path.name)
        if parsed is not None and parsed[0] == day and path.is_file():
            out.append(read_part(path, parsed[1]))
    return sorted(out, key=lambda p: p.seq)


def days_in(folder: Path) -> Iterator[str]:
    """Days that have at least one part file in ``folder``, in order."""
    days = {parsed[0] for p in folder.glob("*.parquet") if (parsed := parse_name(p.name))}
    yield from sorted(days)


def next_seq(parts: list[Part]) -> int:
    """Sequence number of the next part written after ``parts``."""
    return max((p.seq for p in parts), default=-1) + 1


def tier(rows: int) -> int:
    """Size tier of a part: ``floor(log4(rows))`` (0 for 0..3 rows)."""
    return (max(rows, 1).bit_length() - 1) // 2


def plan_merges(sizes: dict[int, int]) -> list[Merge]:
    """Plan the merges that leave fewer than FANOUT parts in every tier.

    ``sizes`` maps sequence number → rows. Cascades (a merge whose result fills the next
    tier) are folded into one merge of the original parts, so no row is written twice in one
    plan.

    Examples
    --------
    >>> plan_merges({0: 100, 1: 5, 2: 6, 3: 7})
    []
    >>> plan_merges({0: 100, 1: 5, 2: 6, 3: 7, 4: 5})
    [Merge(inputs=(1, 2, 3, 4), output=1)]
    >>> plan_merges({0: 20, 1: 20, 2: 20, 3: 5, 4: 5, 5: 5, 6: 5})
    [Merge(inputs=(0, 1, 2, 3, 4, 5, 6), output=0)]
    """
    live = dict(sizes)
    members: dict[int, tuple[int, ...]] = {seq: (seq,) for seq in sizes}
    while True:
        by_tier: dict[int, list[int]] = {}
        for seq in sorted(live):
            by_tier.setdefault(tier(live[seq]), []).append(seq)
        full = [t for t in sorted(by_tier) if len(by_tier[t]) >= FANOUT]
        if not full:
            break
        group = by_tier[full[0]]
        out = group[0]
        live[out] = sum(live.pop(s) for s in group)
        members[out] = tuple(sorted(m for s in group for m in members.pop(s)))
    return [Merge(members[s], s) for s in sorted(members) if len(members[s]) > 1]
