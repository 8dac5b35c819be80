"""The simulation loop: one minute at a time, forced orders re-checked in rounds inside it.

Each minute:

1. **Spot** (the index) moves by noise plus the scenario's exogenous path (the shock, its
   partial retracement or continuation, a drift).
2. **Traders** open positions (:mod:`.agents`; the rate follows the time of day, crowding
   before the shock, crowding near obvious levels, burned traders after the flush) and close
   the ones whose holding time is up, as market orders that walk the perp book (:mod:`.book`).
3. **Arbitrage** pulls the perp toward the no-arbitrage price of He, Manela, Ross & von
   Wachter (DOMAIN.md §2.1) ``F = κ/(κ − r_a + r_b)·S`` with κ = 1 per 8 h, r_a = the
   funding interest, r_b = 0: a share ``arb_speed`` of the gap closes per minute, and a share
   ``spot_arb_share`` of each correction moves spot (the arbitrageur's hedge).
4. **Cascade rounds** (``cascade_rounds`` per minute): the mark price is Binance's median of
   (index × (1 + funding × time left / 8 h), index + last minute's basis, last price)
   (DOMAIN.md §5.1); positions whose liquidation price the mark crossed are liquidated
   (:mod:`.engine`), stops the last price crossed fire, and their net flow walks the book —
   which moves the last price, then the mark, then the next round.
5. **Funding**: the premium (perp mid over index) is averaged over the 8 h interval and
   settled at 00/08/16 UTC with Binance's rule ``F = P + clamp(I − P, −0.05 %, +0.05 %)``,
   capped at ±0.75 × tier-1 MMR (DOMAIN.md §5.1, §2.4).

The liquidity provider quotes a book whose 1 % depth is ``depth_usd_1pct`` at peak hours,
thinner off-peak (cosine over the day) and retreating when short-term volatility exceeds its
normal level (Brunnermeier & Pedersen's liquidity spiral, DOMAIN.md §3.4).
"""

from __future__ import annotations

import math

import msgspec
import numpy as np

from flushwatch.analytics.market import F64
from flushwatch.analytics.mechanics import BINANCE_BTCUSDT_2021, TierTable
from flushwatch.domain.time import parse_iso
from flushwatch.sim.agents import Positions, draw_positions
from flushwatch.sim.book import avg_distance, cum_depth, walk_distance
from flushwatch.sim.engine import Ledger, close_positions, settle_funding
from flushwatch.sim.params import SimParams

__all__ = ["SimResult", "simulate"]

_MIN_NS = 60 * 10**9
_FUNDING_MIN = 480


class SimResult(msgspec.Struct, kw_only=True):
    """Per-minute paths and every forced order of one run (arrays of one length ``n``)."""

    params: SimParams
    ts: np.ndarray  # minute start, ns
    perp: F64  # (n, 4) open high low close
    spot: F64  # (n, 4)
    perp_volume: F64  # base units, both sides
    perp_taker_buy: F64
    spot_volume: F64
    spot_taker_buy: F64
    buy_notional: F64  # perp taker-buy notional (for the buy VWAP)
    mark: F64
    index: F64
    premium: F64
    oi_long: F64  # base units long at the minute's end (traders + LP)
    oi_short: F64
    depth_1pct: F64  # perp depth within 1 % per side, USD
    funding_pred: F64  # the rate the current interval would settle at
    settle_ts: np.ndarray
    settle_rate: F64
    settle_mark: F64
    liq_ts: np.ndarray
    liq_side: F64
    liq_price: F64  # bankruptcy price (the IOC order price)
    liq_fill: F64
    liq_qty: F64
    ledger: Ledger


class _Tape:
    """Growing lists of forced orders."""

    def __init__(self) -> None:
        self.ts: list[np.ndarray] = []
        self.side: list[F64] = []
        self.price: list[F64] = []
        self.fill: list[F64] = []
        self.qty: list[F64] = []

    def add(self, ts: int, side: F64, price: F64, fill: F64, qty: F64) -> None:
        self.ts.append(np.full(side.shape[0], ts, dtype=np.int64))
        self.side.append(side)
        self.price.append(price)
        self.fill.append(fill)
        self.qty.append(qty)

    def arrays(self) -> tuple[np.ndarray, F64, F64, F64, F64]:
        def cat(x: list[F64]) -> F64:
            return np.concatenate(x) if x else np.empty(0)

        ts = np.concatenate(self.ts) if self.ts else np.empty(0, np.int64)
        return ts, cat(self.side), cat(self.price), cat(self.fill), cat(self.qty)


class _Schedule(msgspec.Struct, frozen=True):
    """Per-minute exogenous inputs of the scenario, precomputed as arrays."""

    drift: F64
    bias: F64
    rate: F64
    tod: F64


def schedule(p: SimParams) -> _Schedule:
    """Spot drift, long bias and open-rate multiplier per minute (the scenario's script)."""
    n, k0 = p.minutes, p.shock_minute
    k = np.arange(n, dtype=np.float64)
    k1 = k0 + p.shock_minutes
    drift = np.zeros(n)
    shock = math.log1p(p.shock_pct / 100.0)
    drift[k0:k1] = shock / p.shock_minutes
    tau = p.recovery_hours * 60.0
    after = k >= k1
    drift += np.where(after, -shock * p.recovery_share / tau * np.exp(-(k - k1) / tau), 0.0)
    snap = p.snapback_minutes
    drift += np.where(after, -shock * p.snapback_share / snap * np.exp(-(k - k1) / snap), 0.0)
    drift += np.where(k >= k0, p.post_drift_pct_day / 100.0 / 1440.0, 0.0)
    crowd_len = p.crowd_hours * 60.0
    ramp = np.clip((k - (k0 - crowd_len)) / max(crowd_len, 1.0), 0.0, 1.0) * (k < k0)
    rebuild = np.exp(-np.maximum(k - k1, 0.0) / (p.rebuild_hours * 60.0))
    bias = p.long_bias + p.crowd_bias * ramp
    bias = np.where(k >= k0, p.long_bias + (p.post_bias - p.long_bias) * rebuild, bias)
    rate = 1.0 + (p.crowd_rate - 1.0) * ramp
    rate = np.where(k >= k0, 1.0 + (p.post_open_mult - 1.0) * rebuild, rate)
    hour = (k / 60.0) % 24.0
    tod = 1.0 + p.tod_amplitude * np.cos(2.0 * math.pi * (hour - p.peak_hour_utc) / 24.0)
    return _Schedule(drift=drift, bias=bias, rate=rate, tod=tod)


def _warm_start(rng: np.random.Generator, p: SimParams, tiers: TierTable) -> Positions:
    """The population a market at rest holds: opens × mean holding time, entered along a
    random walk over their ages, minus those the walk would already have liquidated."""
    pos = Positions()
    n0 = round(p.open_rate * p.hold_hours * 60.0)
    age = rng.exponential(p.hold_hours * 60.0, n0)
    sigma = p.vol_daily_pct / 100.0 / math.sqrt(1440.0)
    entry = p.price0 * np.exp(sigma * np.sqrt(age) * rng.standard_normal(n0))
    new = draw_positions(rng, n0, entry, 0.5 + p.long_bias, 0, p, tiers)
    new["exit_min"] = np.ceil(rng.exponential(p.hold_hours * 60.0, n0)) + 1.0
    safe = np.where(new["side"] > 0, new["liq"] < p.price0 * 0.99, new["liq"] > p.price0 * 1.01)
    pos.add({k: v[safe] for k, v in new.items()})
    return pos


class _State:
    """Prices and running measures carried from minute to minute."""

    def __init__(self, p: SimParams, target: float) -> None:
        self.spot = p.price0
        self.perp = p.price0 * math.exp(target)
        self.basis = target
        sigma = p.vol_daily_pct / 100.0 / math.sqrt(1440.0)
        self.var_fast = self.var_slow = 2.0 * sigma * sigma  # a minute's normal variance
        self.prem_sum = 0.0
        self.prem_n = 0
        self.last_rate = p.interest_8h


def _triggers(side: F64, liq: F64, stop: F64) -> tuple[float, float]:
    """Price at or below which some long triggers, at or above which some short does."""
    long = side > 0
    hi = max(
        float(liq[long].max(initial=-math.inf)), float(np.nanmax(stop[long], initial=-math.inf))
    )
    lo = min(
        float(liq[~long].min(initial=math.inf)), float(np.nanmin(stop[~long], initial=math.inf))
    )
    return hi, lo


def _funding_rate(mean_premium: float, p: SimParams) -> float:
    """Binance: F = P + clamp(I − P, −clamp, +clamp), capped (DOMAIN.md §5.1)."""
    clamp = min(max(p.interest_8h - mean_premium, -p.funding_clamp), p.funding_clamp)
    return min(max(mean_premium + clamp, -p.funding_cap), p.funding_cap)


def simulate(p: SimParams, tiers: TierTable = BINANCE_BTCUSDT_2021) -> SimResult:
    """Run the market for ``p.minutes`` minutes; deterministic for ``p.seed``."""
    return _Run(p, tiers).run()


class _Run:
    def __init__(self, p: SimParams, tiers: TierTable) -> None:
        self.p, self.tiers = p, tiers
        self.rng = np.random.default_rng(p.seed)
        n = p.minutes
        self.t0 = parse_iso(p.start if "T" in p.start else p.start + "T00:00:00Z")
        self.sched = schedule(p)
        # HMRvW no-arbitrage premium, κ = 1 per funding period, r_a = interest, r_b = 0.
        self.target = -math.log1p(-p.interest_8h)
        self.sigma = p.vol_daily_pct / 100.0 / math.sqrt(1440.0)
        self.pos = _warm_start(self.rng, p, tiers)
        self.ledger = Ledger(insurance0=p.insurance_fund_usd, insurance=p.insurance_fund_usd)
        margin = float(self.pos.margin.sum())
        self.ledger.deposited += margin
        self.ledger.locked += margin
        self.st = _State(p, self.target)
        self.hi, self.lo = -math.inf, math.inf
        self._bounds()
        self.tape = _Tape()
        z = np.zeros
        self.out = {
            name: z(n)
            for name in [
                "perp_volume",
                "perp_taker_buy",
                "spot_volume",
                "spot_taker_buy",
                "buy_notional",
                "mark",
                "index",
                "premium",
                "oi_long",
                "oi_short",
                "depth_1pct",
                "funding_pred",
            ]
        }
        self.perp_ohlc, self.spot_ohlc = z((n, 4)), z((n, 4))
        self.settles: list[tuple[int, float, float]] = []
        self.closes: list[float] = []

    # -- helpers -----------------------------------------------------------------------------
    def _bounds(self) -> None:
        """Highest long and lowest short trigger (liquidation or stop) over open positions.

        Between recomputations the bounds only widen (new positions), so a stale bound can
        make the engine look at the positions once too often, never miss one.
        """
        pos = self.pos
        self.hi, self.lo = _triggers(pos.side[pos.alive], pos.liq[pos.alive], pos.stop[pos.alive])

    def _arb(self, k: int, share: float, d_spot: float) -> None:
        st, p = self.st, self.p
        gap = math.log(st.perp / st.spot) - self.target
        move = share * gap
        st.perp *= math.exp(-move * (1.0 - p.spot_arb_share))
        st.spot *= math.exp(move * p.spot_arb_share)
        q = float(cum_depth(abs(move) * p.spot_arb_share, d_spot, p.near_share)) / st.spot
        self.out["spot_volume"][k] += q
        if move > 0:
            self.out["spot_taker_buy"][k] += q
        self._touch(k)

    def _touch(self, k: int) -> None:
        po, so = self.perp_ohlc[k], self.spot_ohlc[k]
        po[1], po[2] = max(po[1], self.st.perp), min(po[2], self.st.perp)
        so[1], so[2] = max(so[1], self.st.spot), min(so[2], self.st.spot)

    def _walk(self, k: int, buy_q: float, sell_q: float, d1: float) -> tuple[float, float]:
        """Cross buys with sells at mid, walk the book with the rest; return the avg fills."""
        st, c = self.st, self.p.near_share
        px = st.perp
        net = buy_q - sell_q
        x = walk_distance(abs(net) * px, d1, c)
        avg = avg_distance(x, c)
        sgn = 1.0 if net > 0 else -1.0
        walked = px * (1.0 + sgn * avg)
        matched = min(buy_q, sell_q)
        buy_fill = (matched * px + max(net, 0.0) * walked) / buy_q if buy_q > 0 else px
        sell_fill = (matched * px + max(-net, 0.0) * walked) / sell_q if sell_q > 0 else px
        st.perp = px * (1.0 + sgn * x) if net != 0 else px
        out = self.out
        out["perp_volume"][k] += buy_q + sell_q
        out["perp_taker_buy"][k] += buy_q
        out["buy_notional"][k] += buy_q * buy_fill
        self._touch(k)
        return buy_fill, sell_fill

    # -- one minute --------------------------------------------------------------------------
    def _traders(self, k: int, d1: float) -> None:
        p, st, pos, rng = self.p, self.st, self.pos, self.rng
        step = p.round_step
        dist = abs(st.perp - round(st.perp / step) * step) / st.perp
        rate = p.open_rate * self.sched.tod[k] * self.sched.rate[k]
        rate *= 1.0 + p.round_crowding * math.exp(-dist / 0.002)
        past = self.closes[-30] if len(self.closes) >= 30 else p.price0
        mom = math.log(st.perp / past) / (self.sigma * math.sqrt(30.0))
        p_long = min(max(0.5 + self.sched.bias[k] + p.momentum * math.tanh(mom), 0.05), 0.95)
        new = draw_positions(rng, int(rng.poisson(rate)), st.perp, p_long, k, p, self.tiers)
        small = draw_positions(
            rng, int(rng.poisson(p.retail_rate)), st.perp, p_long, k, p, self.tiers, retail=True
        )
        new = {name: np.concatenate([new[name], small[name]]) for name in new}
        margin = float(new["margin"].sum())
        self.ledger.deposited += margin
        self.ledger.locked += margin
        loss = -pos.side * (st.perp - pos.entry) * pos.qty / pos.margin
        # Gamblers at 50x and above ride it to liquidation; the rest may cut.
        cut = (loss > p.cut_loss) & (pos.qty * pos.entry < 50.0 * pos.margin)
        cut &= rng.random(len(pos)) < p.cut_hazard
        exits = np.flatnonzero(pos.alive & ((pos.exit_min <= k) | cut))
        s_new = new["side"] * new["qty"]
        s_exit = -pos.side[exits] * pos.qty[exits]
        buy_q = float(s_new[s_new > 0].sum() + s_exit[s_exit > 0].sum())
        sell_q = -float(s_new[s_new < 0].sum() + s_exit[s_exit < 0].sum())
        close_positions(pos, exits, st.perp, self.ledger, liquidated=False)
        pos.add(new)
        hi, lo = _triggers(new["side"], new["liq"], new["stop"])
        self.hi, self.lo = max(self.hi, hi), min(self.lo, lo)
        self._walk(k, buy_q, sell_q, d1)

    def _cascade(self, k: int, d1: float, d_spot: float) -> None:
        p, st, pos = self.p, self.st, self.pos
        rounds = p.cascade_rounds
        share = 1.0 - (1.0 - p.arb_speed) ** (1.0 / rounds)
        left = (_FUNDING_MIN - k % _FUNDING_MIN) / _FUNDING_MIN
        long = pos.side > 0
        for r in range(rounds):
            index = st.spot
            mark = sorted((index * (1.0 + st.last_rate * left), index * (1.0 + st.basis), st.perp))[
                1
            ]
            self.out["mark"][k], self.out["index"][k] = mark, index
            if min(mark, st.perp) > self.hi and max(mark, st.perp) < self.lo:
                self._arb(k, share, d_spot)
                continue
            alive = pos.alive
            with np.errstate(invalid="ignore"):
                liq = alive & np.where(long, mark <= pos.liq, mark >= pos.liq)
                stop = alive & ~liq & np.where(long, st.perp <= pos.stop, st.perp >= pos.stop)
            if not (liq.any() or stop.any()):
                self._arb(k, share, d_spot)
                continue
            forced = liq | stop
            sq = pos.side * pos.qty
            sell_q = float(sq[forced & long].sum())
            buy_q = float(-sq[forced & ~long].sum())
            buy_fill, sell_fill = self._walk(k, buy_q, sell_q, d1)
            ts = int(self.t0 + k * _MIN_NS + (r * _MIN_NS) // rounds)
            for sel, fill in ((long, sell_fill), (~long, buy_fill)):
                li = np.flatnonzero(liq & sel)
                if li.size:
                    self.tape.add(
                        ts, pos.side[li], pos.bkr[li], np.full(li.size, fill), pos.qty[li]
                    )
                    close_positions(pos, li, fill, self.ledger, liquidated=True)
                si = np.flatnonzero(stop & sel)
                if si.size:
                    close_positions(pos, si, fill, self.ledger, liquidated=False)
            self._arb(k, share, d_spot)

    def _minute(self, k: int) -> None:
        p, st, sched, rng = self.p, self.st, self.sched, self.rng
        po, so = self.perp_ohlc[k], self.spot_ohlc[k]
        po[:] = st.perp
        so[:] = st.spot
        excess = max(math.sqrt(st.var_fast / st.var_slow) - 1.0, 0.0)
        retreat = max(1.0 / (1.0 + p.vol_retreat * excess), p.max_retreat)
        d1 = p.depth_usd_1pct * sched.tod[k] * retreat
        d_spot = d1 * p.spot_depth_ratio
        self.out["depth_1pct"][k] = d1
        z = float(rng.standard_normal())
        move = self.sigma * z + sched.drift[k]
        st.spot *= math.exp(move)
        bg = p.spot_volume_usd_min * sched.tod[k] * (0.5 + abs(z) / 2.0)
        q = (bg + float(cum_depth(abs(move), d_spot, p.near_share))) / st.spot
        self.out["spot_volume"][k] += q
        self.out["spot_taker_buy"][k] += q * (0.5 + 0.5 * math.tanh(move / self.sigma))
        self._touch(k)
        self._traders(k, d1)
        self._cascade(k, d1, d_spot)
        po[3], so[3] = st.perp, st.spot
        ret = math.log(po[3] / po[0])
        # Short (≈ 30 min) against long (≈ 1 day) EWMA of squared perp returns: the LP's
        # "volatility above normal".
        st.var_fast = 0.967 * st.var_fast + 0.033 * ret * ret
        st.var_slow = 0.9993 * st.var_slow + 0.0007 * ret * ret
        st.basis = st.perp / st.spot - 1.0
        self.out["premium"][k] = st.basis
        st.prem_sum += st.basis
        st.prem_n += 1
        rate = _funding_rate(st.prem_sum / st.prem_n, p)
        self.out["funding_pred"][k] = rate
        if (k + 1) % _FUNDING_MIN == 0:
            mark = float(self.out["mark"][k])
            settle_funding(self.pos, rate, mark, self.ledger, self.tiers)
            self._bounds()
            self.settles.append((int(self.t0 + (k + 1) * _MIN_NS), rate, mark))
            st.last_rate, st.prem_sum, st.prem_n = rate, 0.0, 0
        oi_l, oi_s = self.pos.oi()
        lp = -self.pos.signed()  # the LP's inventory: the other side of every trader
        self.out["oi_long"][k] = oi_l + max(lp, 0.0)
        self.out["oi_short"][k] = oi_s + max(-lp, 0.0)
        self.closes.append(st.perp)
        if k % 60 == 59:
            self.pos.compact()
            self._bounds()

    def run(self) -> SimResult:
        for k in range(self.p.minutes):
            self._minute(k)
        lt, ls, lpx, lf, lq = self.tape.arrays()
        settle_ts = np.array([s[0] for s in self.settles], dtype=np.int64)
        settles = np.array([s[1:] for s in self.settles], dtype=np.float64).reshape(-1, 2)
        n = self.p.minutes
        return SimResult(
            params=self.p,
            ts=self.t0 + np.arange(n, dtype=np.int64) * _MIN_NS,
            perp=self.perp_ohlc,
            spot=self.spot_ohlc,
            settle_ts=settle_ts,
            settle_rate=settles[:, 0],
            settle_mark=settles[:, 1],
            liq_ts=lt,
            liq_side=ls,
            liq_price=lpx,
            liq_fill=lf,
            liq_qty=lq,
            ledger=self.ledger,
            **self.out,
        )
