"""The report's thresholds: one TOML file, every key documented, unknown keys rejected.

Each section is the parameter struct of one analytics kernel, so the kernel, its defaults and
their one-line rationale live together; this module only composes and loads them.
``flushwatch config`` prints the defaults as a commented TOML file to start from.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import msgspec

from flushwatch.analytics.accounting import AccountingParams
from flushwatch.analytics.checklist import ChecklistParams
from flushwatch.analytics.flushes import FlushParams
from flushwatch.analytics.levels import LevelParams
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

    def __post_init__(self) -> None:
        """Shared definitions must agree across sections ("key level" means one thing)."""
        majors = {
            s: getattr(self, s).round_major_pct
            for s in ("levels", "checklist", "verdict")
            if hasattr(getattr(self, s), "round_major_pct")
        }
        if len(set(majors.values())) > 1:
            found = ", ".join(f"{s}.round_major_pct = {v}" for s, v in majors.items())
            raise ValueError(f"round_major_pct must be the same in every section ({found})")


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
            f"{path}: {exc} (see `flushwatch config` for every key and its default)"
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
