"""One way to print a percentage, shared by every text producer (analytics sentences, the
report, the CLI), so a value never reads "−-0.4%" (two signs), "-0.000%" (a negative zero
left by rounding) or "nan%".

Pure string formatting on floats: domain-level, so analytics may use it too.
"""

from __future__ import annotations

import math

__all__ = ["flush_name", "num", "odds", "pct", "signed_num", "signed_pct"]


def _rounded(x: float, digits: int) -> float:
    """``x`` rounded as it will print, with a negative zero made plain zero."""
    r = round(x, digits)
    return 0.0 if r == 0 else r


def num(x: float | None, digits: int = 1) -> str:
    """``x`` with ``digits`` decimals and no negative zero; ``n/a`` when missing.

    Examples
    --------
    >>> num(-0.0004, 3), num(-1.25, 1), num(None)
    ('0.000', '-1.2', 'n/a')
    """
    if x is None or not math.isfinite(x):
        return "n/a"
    return f"{_rounded(x, digits):.{digits}f}"


def signed_num(x: float | None, digits: int = 1) -> str:
    """``x`` with an explicit sign (``+1.5``, ``-0.4``); a value that rounds to zero is ``0.0``.

    Examples
    --------
    >>> signed_num(1.54), signed_num(-0.04), signed_num(-0.4)
    ('+1.5', '0.0', '-0.4')
    """
    if x is None or not math.isfinite(x):
        return "n/a"
    r = _rounded(x, digits)
    return f"{r:.{digits}f}" if r == 0 else f"{r:+.{digits}f}"


def pct(x: float | None, digits: int = 1) -> str:
    """A percentage already in percent units: ``12.3%``, never ``-0.0%``.

    Examples
    --------
    >>> pct(12.34), pct(-0.0001, 3)
    ('12.3%', '0.000%')
    """
    text = num(x, digits)
    return text if text == "n/a" else text + "%"


def signed_pct(x: float | None, digits: int = 1) -> str:
    """A change in percent with one sign: ``+0.4%``, ``-17.4%``, ``0.0%`` (never ``−-0.4%``).

    Examples
    --------
    >>> signed_pct(-17.44), signed_pct(0.4), signed_pct(-0.004, 2)
    ('-17.4%', '+0.4%', '0.00%')
    """
    text = signed_num(x, digits)
    return text if text == "n/a" else text + "%"


def odds(p: float | None) -> str:
    """A probability in whole percent that never reads as certain: ``73%``, ``>99%``, ``<1%``.

    An estimate of 0.9975 is not "100%": a fitted model is never sure, and the reader should
    not be told it is.

    Examples
    --------
    >>> odds(0.7254), odds(0.9975), odds(0.003), odds(None)
    ('73%', '>99%', '<1%', 'n/a')
    """
    if p is None or not math.isfinite(p):
        return "n/a"
    if p >= 0.995:
        return ">99%"
    if p < 0.005:
        return "<1%"
    return f"{p:.0%}"


def flush_name(kind: str) -> str:
    """``long_flush`` → ``long flush``, ``two_sided`` → ``two-sided flush``."""
    return {"two_sided": "two-sided flush"}.get(kind, kind.replace("_", " "))
