"""The live state's parameters: bar size, ring, windows and the kernels' live thresholds.

The live defaults scale the report's hour-based thresholds down to minute bars (a 6-hour
baseline instead of a week); key levels use the report's
:class:`~flushwatch.analytics.levels.LevelParams` unchanged (their look-backs clip to the ring).
"""

from __future__ import annotations

import msgspec

from flushwatch.analytics.checklist import ChecklistParams
from flushwatch.analytics.flushes import FlushParams
from flushwatch.analytics.levels import LevelParams
from flushwatch.analytics.verdict import VerdictParams
from flushwatch.config import ReportConfig
from flushwatch.errors import ConfigError


class LiveParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Bar size, ring length, rolling windows and the kernels' live thresholds."""

    bar_s: int = 60
    history_bars: int = 480  # 8 h of minute bars: the detector's baseline plus margin
    liq_windows_min: tuple[int, ...] = (5, 15, 60)
    volume_window_min: int = 15
    recent_liqs: int = 20
    flush: FlushParams = FlushParams(
        baseline_hours=6.0,
        min_history_hours=1.0,
        merge_gap_hours=0.05,
        oi_settle_hours=0.25,
        oi_max_age_hours=0.5,
    )
    checklist: ChecklistParams = ChecklistParams(
        window_hours=1.0,
        min_window_hours=0.25,
        pre_hours=1.0,
        oi_fast_hours=0.5,
        funding_tail_hours=0.25,
        book_tail_hours=0.25,
    )
    verdict: VerdictParams = VerdictParams(
        oi_reload_hours=1.0, prior_high_hours=1.0, price_window_hours=1.0
    )
    levels: LevelParams = LevelParams()  # the report's: look-backs clip to the ring
    #: A book sample that moved further than this past a bar's close is not that bar's state.
    book_max_lead_s: float = 5.0

    def __post_init__(self) -> None:
        """Reject a ``round_major_pct`` that differs by section, as ReportConfig does."""
        self.report_config()

    def report_config(self) -> ReportConfig:
        """The report configuration whose kernels' thresholds these are (for offline runs)."""
        return ReportConfig(
            flush=self.flush, levels=self.levels, checklist=self.checklist, verdict=self.verdict
        )

    @classmethod
    def from_report(cls, cfg: ReportConfig, **fields: object) -> LiveParams:
        """Live parameters running the report's thresholds unchanged (``fields``: bar size...)."""
        kernels = {"flush": cfg.flush, "levels": cfg.levels}
        kernels |= {"checklist": cfg.checklist, "verdict": cfg.verdict}
        try:
            return msgspec.convert({**fields, **kernels}, cls, from_attributes=True)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"live parameters: {exc}") from exc


__all__ = ["LiveParams"]
