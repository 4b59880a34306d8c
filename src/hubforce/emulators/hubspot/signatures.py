"""HubSpot request signatures (reference section 9.1): the v1, v2 and v3 algorithms.

Pure functions over bytes and strings, used by the webhook deliverer to sign what it sends:

- v1: hex(sha256(client_secret + raw_body)), in `X-HubSpot-Signature` (app webhooks).
- v2: hex(sha256(client_secret + method + uri + raw_body)), in `X-HubSpot-Signature`.
- v3: base64(hmac_sha256(client_secret, method + uri + raw_body + timestamp)), in
  `X-HubSpot-Signature-v3`, with the millisecond timestamp in `X-HubSpot-Request-Timestamp`.

The body is always the exact bytes on the wire; a consumer that re-serialises JSON before
verifying computes a different digest, exactly as with the real service.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Iterable
from typing import Literal

SignatureVersion = Literal["v1", "v2", "v3"]

SIGNATURE_HEADER = "X-HubSpot-Signature"
SIGNATURE_VERSION_HEADER = "X-HubSpot-Signature-Version"
SIGNATURE_V3_HEADER = "X-HubSpot-Signature-v3"
TIMESTAMP_HEADER = "X-HubSpot-Request-Timestamp"

# Percent-encodings HubSpot decodes in the URI before computing a v3 signature.
_V3_URI_DECODINGS = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}


def _utf8(value: str | bytes) -> bytes:
    return value if isinstance(value, bytes) else value.encode("utf-8")


def sign_v1(client_secret: str, body: str | bytes) -> str:
    """v1: lowercase hex SHA-256 of the client secret followed by the raw body."""
    return hashlib.sha256(_utf8(client_secret) + _utf8(body)).hexdigest()


def sign_v2(client_secret: str, method: str, uri: str, body: str | bytes = b"") -> str:
    """v2: lowercase hex SHA-256 of secret + method + full URI + raw body (empty if none)."""
    source = _utf8(client_secret) + _utf8(method.upper()) + _utf8(uri) + _utf8(body)
    return hashlib.sha256(source).hexdigest()


def decode_v3_uri(uri: str) -> str:
    """The URI as HubSpot signs it for v3: the listed percent-encodings decoded."""
    decoded = uri
    for encoded, char in _V3_URI_DECODINGS.items():
        decoded = decoded.replace(encoded, char).replace(encoded.lower(), char)
    return decoded


def sign_v3(
    client_secret: str, method: str, uri: str, body: str | bytes, timestamp_ms: int | str
) -> str:
    """v3: base64 HMAC-SHA256 keyed by the secret over method + URI + body + timestamp."""
    message = (
        _utf8(method.upper()) + _utf8(decode_v3_uri(uri)) + _utf8(body) + _utf8(str(timestamp_ms))
    )
    digest = hmac.new(_utf8(client_secret), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


def signature_headers(
    versions: Iterable[SignatureVersion],
    *,
    client_secret: str,
    method: str,
    uri: str,
    body: bytes,
    timestamp_ms: int,
) -> dict[str, str]:
    """The signature headers HubSpot would send for `versions` (v1 and v2 share one header)."""
    wanted = set(versions)
    if {"v1", "v2"} <= wanted:
        raise ValueError("v1 and v2 both use X-HubSpot-Signature: choose one of them")
    headers: dict[str, str] = {}
    if "v1" in wanted:
        headers[SIGNATURE_HEADER] = sign_v1(client_secret, body)
        headers[SIGNATURE_VERSION_HEADER] = "v1"
    if "v2" in wanted:
        headers[SIGNATURE_HEADER] = sign_v2(client_secret, method, uri, body)
        headers[SIGNATURE_VERSION_HEADER] = "v2"
    if "v3" in wanted:
        headers[SIGNATURE_V3_HEADER] = sign_v3(client_secret, method, uri, body, timestamp_ms)
        headers[TIMESTAMP_HEADER] = str(timestamp_ms)
    return headers
