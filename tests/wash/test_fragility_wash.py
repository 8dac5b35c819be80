"""The wash-trading suspicion as one named input of the fragility ranking, on the real prints.

The store holds trades and quotes only (no bars, funding or OI), so the like-with-like choice
can rank on nothing else: the ranking's one input must be each asset's ``wash_suspicion``, the
same number ``flushwatch wash`` gives, and the missing price inputs named, not invented.
"""

from __future__ import annotations

from flushwatch.api.fragility import fragility
from flushwatch.api.wash import wash_suspicion
from flushwatch.store import Store
from flushwatch.store.asof import AsOfStore

AT = 1_723_161_600_000_000_000  # 2024-08-09T00:00Z, the end of the recordings


def test_fragility_ranks_on_wash_suspicion_where_only_prints_exist(wash_store: Store) -> None:
    reader = AsOfStore(wash_store, AT)
    out = fragility(reader, ["BTC", "ETH"], as_of_ns=AT).to_dict()
    assert out["inputs_used"] == ["wash_suspicion"]
    ranked = {m["asset"]: m for m in out["markets"]}
    assert sorted(ranked) == ["BTC", "ETH"]
    for asset, m in ranked.items():
        assert m["components"] == {"wash_suspicion": wash_suspicion(reader, asset, as_of_ns=AT)}
        assert "wick_pct" in m["missing"]
        assert any(n.startswith("price inputs not available: no trade bars") for n in m["notes"])
    assert out["apart"] == []
    # an asset without prints lacks the input; with one of three lacking it (< 3/4 have it),
    # the input is not used at all rather than ranking unlike with like
    three = fragility(reader, ["BTC", "ETH", "SOL"], as_of_ns=AT).to_dict()
    assert "wash_suspicion" not in three["inputs_used"]
