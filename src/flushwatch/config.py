"""The report's thresholds: one TOML file, every key documented, unknown keys rejected.

Each section is the parameter struct of one analytics kernel, so the kernel, its defaults and
their one-line rationale live together; this module only composes and loads them.
``flushwatch config`` prints the defaults as a commented TOML file to start from.

Values are range-checked where they are declared (``Meta(gt=0)`` on a window, ``ge=0`` on a
tolerance or weight), and every number must be finite: TOML spells ``nan`` and ``inf``, and
``merge_gap_hours = inf`` or ``z_threshold = nan`` would otherwise pass a sign check or none
and quietly turn the detector off (issue 14).
"""

from __future__ import annotations

import math
import re
import tomllib
from pathlib import Path
from typing import Any

import msgspec

from flushwatch.analytics.accounting import AccountingParams
from flushwatch.analytics.checklist import ChecklistParams
from flushwatch.analytics.flushes import FlushParams
from flushwatch.analytics.levels import LevelParams
from flushwatch.analytics.outcomes import OutcomeParams
from flushwatch.analytics.trap import TrapParams
from flushwatch.analytics.verdict import VerdictParams
from flushwatch.errors import ConfigError


class ReportConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Every threshold the flush report uses, by section."""

    flush: FlushParams = msgspec.field(default_factory=FlushParams)
    trap: TrapParams = msgspec.field(default_factory=TrapParams)
    levels: LevelParams = msgspec.field(default_factory=LevelParams)
    checklist: ChecklistParams = msgspec.field(default_factory=ChecklistParams)
    verdict: VerdictParams = msgspec.field(default_factory=VerdictParams)
    accounting: AccountingParams = msgspec.field(default_factory=AccountingParams)
    outcomes: OutcomeParams = msgspec.field(default_factory=OutcomeParams)

    def __post_init__(self) -> None:
        """Numbers must be finite; shared definitions must agree ("key level" means one thing)."""
        bad = non_finite(self)
        if bad:
            key, value = bad[0]
            raise ValueError(f"{key} = {value}: must be a finite number")
        majors = {
            s: getattr(self, s).round_major_pct
            for s in ("levels", "checklist", "verdict")
            if hasattr(getattr(self, s), "round_major_pct")
        }
        if len(set(majors.values())) > 1:
            found = ", ".join(f"{s}.round_major_pct = {v}" for s, v in majors.items())
            raise ValueError(f"round_major_pct must be the same in every section ({found})")


def non_finite(value: object, where: str = "") -> list[tuple[str, float]]:
    """Return ``(dotted key, value)`` for every NaN or infinite float in a struct, recursively.

    Examples
    --------
    >>> non_finite(ReportConfig()), non_finite({"a": [1.0, float("inf")]})
    ([], [('a[1]', inf)])
    """
    if isinstance(value, float):
        return [] if math.isfinite(value) else [(where, value)]
    if isinstance(value, msgspec.Struct):
        fields: list[tuple[str, object]] = [(f, getattr(value, f)) for f in value.__struct_fields__]
    elif isinstance(value, dict):
        fields = [(str(k), v) for k, v in value.items()]
    elif isinstance(value, (list, tuple)):
        return [bad for i, v in enumerate(value) for bad in non_finite(v, f"{where}[{i}]")]
    else:
        return []
    return [bad for k, v in fields for bad in non_finite(v, f"{where}.{k}" if where else k)]


_AT = re.compile(r" - at `\$\.?(.*)`$")


def _lookup(raw: object, key: str) -> object:
    for part in key.split("."):
        if not isinstance(raw, dict) or part not in raw:
            return None
        raw = raw[part]
    return raw


def _explain(exc: msgspec.ValidationError, raw: object) -> str:
    """Put the key (and the value given) first: ``flush.z_threshold = -3.5: Expected ...``."""
    message = str(exc)
    found = _AT.search(message)
    if found is None or not found.group(1):
        return message
    key = found.group(1)
    value = _lookup(raw, key)
    shown = f"{key} = {value!r}" if isinstance(value, (int, float, str, bool)) else key
    return f"{shown}: {_AT.sub('', message)}"


def load_config(path: Path | None) -> ReportConfig:
    """Load a TOML config (missing keys take defaults); raise ConfigError naming the key."""
    if path is None:
        return ReportConfig()
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror or exc})") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    try:
        return msgspec.convert(raw, ReportConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(
            f"{path}: {_explain(exc, raw)} (see `flushwatch config` for every key and its default)"
        ) from exc


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return repr(value)


def default_toml() -> str:
    """The default configuration as TOML, each key preceded by its rationale."""
    cfg = ReportConfig()
    lines = ["# flushwatch report configuration (defaults). Unknown keys are rejected.", ""]
    for section in cfg.__struct_fields__:
        params = getattr(cfg, section)
        info = msgspec.inspect.type_info(type(params))
        assert isinstance(info, msgspec.inspect.StructType)
        lines.append(f"[{section}]")
        for field in info.fields:
            extra = getattr(field.type, "extra_json_schema", None) or {}
            desc = str(extra.get("description", ""))
            if desc:
                lines.append(f"# {desc}")
            lines.append(f"{field.name} = {_toml_value(getattr(params, field.name))}")
        lines.append("")
    return "\n".join(lines)
