"""Issue 14, "funding-time jitter normalised": a settled funding time written a few ms after
its instant is the same settlement, not a second version. The natural key compares the
instant; the row keeps the time its first version was sent with (so nothing becomes knowable
earlier than it was published).

The rows are CONSTRUCTED from real time stamps: Binance's ``fundingTime`` 1621036800022
(2021-05-15T00:00:00.022Z, line 2 of the shared BTCUSDT funding-event-windows CSV) and the
freqtrade XRPUSDT funding CSV's ``2021-11-18T00:00:00.017Z``; the rates are made up.
"""

from __future__ import annotations

from pathlib import Path

from flushwatch.domain.enums import Market
from flushwatch.domain.records import Funding
from flushwatch.domain.tables import frame_from_records
from flushwatch.ingest.base import Parsed
from flushwatch.store import Store

MS = 1_000_000
INSTANT = 1_621_036_800_000 * MS  # 2021-05-15T00:00:00Z, an 8-hourly Binance settlement


def _funding(ts: int, rate: float, *, settled: bool = True) -> Funding:
    return Funding(
        exchange="binanceusdm",
        market=Market.PERP,
        symbol="BTCUSDT",
        ts_event=ts,
        rate=rate,
        is_settled=settled,
        interval_hours=8.0,
    )


def _parsed(path: Path, *rows: Funding) -> Parsed:
    path.write_text("constructed\n")  # the store hashes each source file for its ledger
    parsed = Parsed(path=path, format="test")
    parsed.add(Funding, frame_from_records(Funding, list(rows)))
    return parsed


def _stored(store: Store) -> list[tuple[int, float, bool]]:
    df = store.read(Funding).sort("ts_event", "is_settled")
    return list(df.select("ts_event", "rate", "is_settled").iter_rows())


def test_jittered_copies_of_one_settlement_are_one_row(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    rest = _parsed(tmp_path / "rest.json", _funding(INSTANT + 22 * MS, 0.0001))
    store.write([rest])
    freqtrade = _parsed(tmp_path / "ft.csv", _funding(INSTANT + 17 * MS, 0.0001))
    exact = _parsed(tmp_path / "vision.csv", _funding(INSTANT, 0.0001))
    summaries = store.write([freqtrade, exact])
    assert [s.added for s in summaries] == [0, 0]
    assert _stored(store) == [(INSTANT + 22 * MS, 0.0001, True)]  # the first version
    assert not [n for s in summaries for n in s.notes]  # another stamp is not a conflict


def test_a_different_rate_at_a_jittered_time_is_a_conflict_not_a_second_row(
    tmp_path: Path,
) -> None:
    store = Store.open(tmp_path / "store")
    store.write([_parsed(tmp_path / "a.csv", _funding(INSTANT + 22 * MS, 0.0001))])
    (summary,) = store.write([_parsed(tmp_path / "b.csv", _funding(INSTANT + 7 * MS, 0.0003))])
    assert summary.added == 0
    assert any("rate" in note for note in summary.notes), summary.notes
    assert _stored(store) == [(INSTANT + 22 * MS, 0.0001, True)]


def test_predicted_funding_and_times_off_the_minute_keep_their_time(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    predicted = _funding(INSTANT + 22 * MS, 0.0002, settled=False)  # a ticker's observation
    off = _funding(INSTANT + 30_000 * MS, 0.0001)  # 30 s after the minute: not jitter
    store.write([_parsed(tmp_path / "a.csv", predicted, off)])
    assert _stored(store) == [
        (INSTANT + 22 * MS, 0.0002, False),
        (INSTANT + 30_000 * MS, 0.0001, True),
    ]
