"""Who may talk to the dashboard: loopback by default, a token for anything else.

Rules (issue 15, "safe by default"):

* The server binds ``127.0.0.1`` unless told otherwise. Any other address needs a token in
  ``$FLUSHWATCH_TOKEN`` — never an option, so it stays out of shell history and ``ps``.
  :func:`check_bind` refuses a non-loopback host without one (the CLI exits 2).
* When a token is set it is required on **every** request, loopback included: either
  ``Authorization: Bearer <token>``, or the ``flushwatch_token`` cookie that a browser gets by
  opening any page once with ``?token=<token>`` (the server answers with a redirect to the
  same URL without the token, so it does not linger in the address bar or in history).
  Comparison is :func:`hmac.compare_digest` on bytes (constant time).
* Without a token (loopback only) the ``Host`` header must name a loopback host, so a web page
  on another site cannot reach the dashboard through DNS rebinding.
"""

from __future__ import annotations

import hmac
import ipaddress
import os

from flushwatch.errors import ConfigError

TOKEN_ENV = "FLUSHWATCH_TOKEN"
COOKIE = "flushwatch_token"
LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1"})


def is_loopback(host: str) -> bool:
    """Whether binding ``host`` keeps the server on this machine.

    Examples
    --------
    >>> is_loopback("127.0.0.1"), is_loopback("localhost"), is_loopback("::1")
    (True, True, True)
    >>> is_loopback("0.0.0.0"), is_loopback("192.168.1.5"), is_loopback("example.org")
    (False, False, False)
    """
    name = host.strip().strip("[]").lower()
    if name in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False  # a host name other than localhost may resolve anywhere


def token_from_env(environ: dict[str, str] | None = None) -> str | None:
    """``$FLUSHWATCH_TOKEN``, or None when unset or blank."""
    value = (os.environ if environ is None else environ).get(TOKEN_ENV, "").strip()
    return value or None


def check_bind(host: str, token: str | None) -> None:
    """Refuse to serve a non-loopback ``host`` without a token (a one-line ConfigError)."""
    if is_loopback(host) or token:
        return
    raise ConfigError(
        f"--host {host} would expose the dashboard beyond this machine: set a token in "
        f"${TOKEN_ENV} first (e.g. export {TOKEN_ENV}=$(openssl rand -hex 16)), "
        "or keep the default --host 127.0.0.1"
    )


def token_ok(given: str | None, token: str) -> bool:
    """Constant-time comparison of a presented token with the server's.

    Examples
    --------
    >>> token_ok("s3cret", "s3cret"), token_ok("s3cre", "s3cret"), token_ok(None, "s3cret")
    (True, False, False)
    """
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8"), token.encode("utf-8"))


def bearer(header: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, else None."""
    if not header:
        return None
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def host_of(header: str) -> str:
    """The host name of a ``Host`` header, without its port.

    Examples
    --------
    >>> host_of("127.0.0.1:8765"), host_of("[::1]:8765"), host_of("localhost")
    ('127.0.0.1', '::1', 'localhost')
    """
    value = header.strip()
    if value.startswith("["):
        return value[1:].split("]", 1)[0]
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value
