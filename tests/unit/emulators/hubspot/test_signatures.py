"""Webhook signatures v1, v2, v3: checked against HubSpot's documented vectors, an independent
implementation written out from the reference text, and the official SDK's verifier."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time

import pytest
from hubspot.utils.signature import Signature  # type: ignore[import-untyped]
from hypothesis import given, settings
from hypothesis import strategies as st

from hubforce.emulators.hubspot.signatures import (
    decode_v3_uri,
    sign_v1,
    sign_v2,
    sign_v3,
    signature_headers,
)

DOC_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
DOC_V1_BODY = (
    '[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
    '"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,'
    '"changeSource":"CRM","changeFlag":"NEW","appId":54321}]'
)


def independent_v1(secret: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + body).hexdigest()


def independent_v2(secret: str, method: str, uri: str, body: bytes) -> str:
    return hashlib.sha256(secret.encode() + method.encode() + uri.encode() + body).hexdigest()


def independent_v3(secret: str, method: str, uri: str, body: bytes, ts: str) -> str:
    mac = hmac.new(secret.encode(), method.encode() + uri.encode() + body + ts.encode(), "sha256")
    return base64.b64encode(mac.digest()).decode()


def test_v1_matches_documented_vector() -> None:
    expected = "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
    assert sign_v1(DOC_SECRET, DOC_V1_BODY) == expected
    assert sign_v1(DOC_SECRET, DOC_V1_BODY.encode()) == expected


def test_v2_matches_documented_vector_for_get_without_body() -> None:
    expected = "eee2dddcc73c94d699f5e395f4b9d454a069a6855fbfa152e91e88823087200e"
    assert sign_v2(DOC_SECRET, "GET", "https://www.example.com/webhook_uri") == expected


def test_v3_known_value_from_independent_hmac() -> None:
    body = b'[{"objectId":1}]'
    uri = "https://example.com/hooks?x=1"
    got = sign_v3("secret", "POST", uri, body, 1700000000000)
    assert got == independent_v3("secret", "POST", uri, body, "1700000000000")
    assert len(base64.b64decode(got)) == 32


def test_v3_decodes_listed_percent_encodings_before_signing() -> None:
    encoded = "https://example.com/hook%3Fa%3D1%2Cb%40c%21%24%27%28%29%2a%3B"
    assert decode_v3_uri(encoded) == "https://example.com/hook?a%3D1,b@c!$'()*;"
    decoded = decode_v3_uri(encoded)
    assert sign_v3("s", "POST", encoded, b"", 1) == independent_v3("s", "POST", decoded, b"", "1")


texts = st.text(alphabet=st.characters(codec="utf-8"), min_size=0, max_size=80)


@settings(max_examples=60, deadline=None)
@given(secret=texts, body=texts, path=st.from_regex(r"/[a-z0-9/_-]{0,30}", fullmatch=True))
def test_all_versions_agree_with_independent_implementation_and_sdk(
    secret: str, body: str, path: str
) -> None:
    raw = body.encode()
    uri = "https://hooks.example.com" + path
    ts = "1700000000123"
    assert sign_v1(secret, raw) == independent_v1(secret, raw)
    assert sign_v2(secret, "POST", uri, raw) == independent_v2(secret, "POST", uri, raw)
    assert sign_v3(secret, "POST", uri, raw, ts) == independent_v3(secret, "POST", uri, raw, ts)
    assert Signature.get_signature(secret, body, "v1") == sign_v1(secret, raw)
    assert Signature.get_signature(secret, body, "v2", uri, "POST") == sign_v2(
        secret, "POST", uri, raw
    )
    assert Signature.get_signature(secret, body, "v3", uri, "POST", ts) == sign_v3(
        secret, "POST", uri, raw, ts
    )


def test_signature_headers_v1_and_v3_verify_with_official_sdk() -> None:
    body = b'[{"eventId":7}]'
    now_ms = int(time.time() * 1000)
    uri = "http://127.0.0.1:9/hook"
    headers = signature_headers(
        ["v1", "v3"], client_secret="abc", method="POST", uri=uri, body=body, timestamp_ms=now_ms
    )
    assert headers["X-HubSpot-Signature-Version"] == "v1"
    assert headers["X-HubSpot-Request-Timestamp"] == str(now_ms)
    assert Signature.is_valid(
        headers["X-HubSpot-Signature"], "abc", body.decode(), uri, signature_version="v1"
    )
    assert Signature.is_valid(
        headers["X-HubSpot-Signature-v3"],
        "abc",
        body.decode(),
        uri,
        signature_version="v3",
        timestamp=headers["X-HubSpot-Request-Timestamp"],
    )
    assert not Signature.is_valid(
        headers["X-HubSpot-Signature"], "wrong", body.decode(), uri, signature_version="v1"
    )


def test_signature_headers_v2_only() -> None:
    headers = signature_headers(
        ["v2"], client_secret="abc", method="post", uri="https://h/x", body=b"[]", timestamp_ms=5
    )
    assert headers == {
        "X-HubSpot-Signature": independent_v2("abc", "POST", "https://h/x", b"[]"),
        "X-HubSpot-Signature-Version": "v2",
    }


def test_signature_headers_reject_v1_with_v2() -> None:
    with pytest.raises(ValueError, match="choose one"):
        signature_headers(
            ["v1", "v2"], client_secret="a", method="POST", uri="u", body=b"", timestamp_ms=1
        )
