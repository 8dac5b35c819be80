"""Secrets out of URLs before they are written to disk or printed (issue 14).

An endpoint in a venue TOML may carry a key (``?apiKey=...``, ``wss://user:token@host/``); a
recording writes its URLs to ``streams.json``, ``feed-events.json`` and every REST line, and
a command prints them in errors. :func:`redact_url` replaces the password of the userinfo
and the value of every query parameter whose name says it is secret with ``***``; everything
else (host, path, ``symbol=``, ``limit=``) is kept, so a recording still re-imports and a
message still says which endpoint failed. :func:`redact_text` does the same for every URL
inside a free text (an exception message).
"""

from __future__ import annotations

import functools
import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

MASK = "***"
#: Query parameter names (lower case, without ``_`` and ``-``) that hold a secret.
_SECRET_NAMES = frozenset(
    {
        "key",
        "apikey",
        "accesskey",
        "secret",
        "apisecret",
        "secretkey",
        "token",
        "accesstoken",
        "authtoken",
        "auth",
        "authorization",
        "password",
        "passwd",
        "pass",
        "passphrase",
        "signature",
        "sig",
        "sign",
        "listenkey",
        "session",
        "sessionid",
        "jwt",
        "credential",
        "credentials",
    }
)
#: A URL in free text; trailing punctuation (``url: HTTP 500``) is not part of it.
_URL = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"<>]*[^\s'\"<>:,.;)\]]")


#: ... and name endings that do (``X-Auth-Token``, ``client_secret``).
_SECRET_ENDINGS = ("token", "secret", "apikey", "password", "passphrase", "signature")


def _secret(name: str) -> bool:
    norm = name.lower().replace("_", "").replace("-", "")
    return norm in _SECRET_NAMES or norm.endswith(_SECRET_ENDINGS)


@functools.lru_cache(maxsize=4096)
def redact_url(url: str) -> str:
    """Return ``url`` with its userinfo password and secret query values masked.

    Examples
    --------
    >>> redact_url("wss://fstream.binance.com/stream?streams=btcusdt@trade")
    'wss://fstream.binance.com/stream?streams=btcusdt@trade'
    >>> redact_url("https://u:hunter2@h.example/v1?symbol=BTCUSDT&apiKey=abc&signature=f0")
    'https://u:***@h.example/v1?symbol=BTCUSDT&apiKey=***&signature=***'
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        user, _, host = netloc.rpartition("@")
        name, colon, _ = user.partition(":")
        netloc = f"{name}:{MASK}@{host}" if colon else f"{MASK}@{host}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(_secret(k) for k, _ in pairs):
            masked = [(k, MASK if _secret(k) else v) for k, v in pairs]
            query = urlencode(masked, safe="@*/,:")
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redact_text(text: str) -> str:
    """Mask the secrets of every URL inside ``text`` (see :func:`redact_url`).

    Examples
    --------
    >>> redact_text("GET https://h.example/x?token=abc: HTTP 401")
    'GET https://h.example/x?token=***: HTTP 401'
    """
    if "://" not in text:
        return text
    return _URL.sub(lambda m: redact_url(m.group(0)), text)
