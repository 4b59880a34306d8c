"""Verifying HubSpot request signatures (reference section 9.1), independent of the emulator.

- v1: hex(sha256(client_secret + raw_body)) in `X-HubSpot-Signature`.
- v3: base64(hmac_sha256(client_secret, method + uri + raw_body + timestamp)) in
  `X-HubSpot-Signature-v3`; the millisecond timestamp in `X-HubSpot-Request-Timestamp` must be
  at most 5 minutes old. The URI has a fixed set of percent-encodings decoded first.

Comparisons are constant time. Failures raise `SignatureError` whose message never includes
the secret or the expected signature (it is logged by the caller).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Mapping

MAX_AGE_MS = 5 * 60 * 1000
# HubSpot decodes these before signing v3 (reference 9.1); everything else stays encoded.
_DECODE = {
    "%3a": ":",
    "%2f": "/",
    "%3f": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2a": "*",
    "%2c": ",",
    "%3b": ";",
}


class SignatureError(Exception):
    """A request whose signature is missing, wrong or too old (answered with 401)."""


def v3_uri(uri: str) -> str:
    """The URI as HubSpot signs it for v3."""
    out: list[str] = []
    i = 0
    while i < len(uri):
        chunk = uri[i : i + 3].lower()
        if uri[i] == "%" and chunk in _DECODE:
            out.append(_DECODE[chunk])
            i += 3
        else:
            out.append(uri[i])
            i += 1
    return "".join(out)


def expected_v1(secret: str, body: bytes) -> str:
    """The v1 signature of `body`."""
    return hashlib.sha256(secret.encode() + body).hexdigest()


def expected_v3(secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """The v3 signature of a request."""
    message = method.upper().encode() + v3_uri(uri).encode() + body + timestamp.encode()
    return base64.b64encode(hmac.new(secret.encode(), message, hashlib.sha256).digest()).decode()


def _header(headers: Mapping[str, str], name: str) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return None


def verify(
    headers: Mapping[str, str],
    *,
    secret: str,
    method: str,
    uri: str,
    body: bytes,
    now_ms: int,
    allow_v1: bool = True,
) -> str:
    """Check a request's signature; return the version used ("v3" or "v1") or raise."""
    if not secret:
        raise SignatureError("no client secret configured: refusing unsigned webhooks")
    signature_v3 = _header(headers, "X-HubSpot-Signature-v3")
    if signature_v3 is not None:
        timestamp = _header(headers, "X-HubSpot-Request-Timestamp")
        if timestamp is None or not timestamp.strip().isdigit():
            raise SignatureError("v3 signature without a valid X-HubSpot-Request-Timestamp")
        age = now_ms - int(timestamp)
        if age > MAX_AGE_MS or age < -MAX_AGE_MS:
            raise SignatureError(f"stale timestamp ({age // 1000} s old, limit 300 s)")
        wanted = expected_v3(secret, method, uri, body, timestamp.strip())
        if not hmac.compare_digest(wanted.encode(), signature_v3.strip().encode()):
            raise SignatureError("v3 signature mismatch")
        return "v3"
    signature = _header(headers, "X-HubSpot-Signature")
    version = (_header(headers, "X-HubSpot-Signature-Version") or "v1").strip().lower()
    if signature is None:
        raise SignatureError("no signature header")
    if version != "v1" or not allow_v1:
        raise SignatureError(f"signature version {version!r} not accepted here")
    if not hmac.compare_digest(expected_v1(secret, body).encode(), signature.strip().encode()):
        raise SignatureError("v1 signature mismatch")
    return "v1"
