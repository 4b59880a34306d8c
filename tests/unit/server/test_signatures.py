"""Signature verification against vectors computed independently here (and the docs' v1)."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from hubforce.server.signatures import SignatureError, expected_v1, v3_uri, verify

DOC_SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
DOC_BODY = (
    b'[{"eventId":1,"subscriptionId":12345,"portalId":62515,"occurredAt":1564113600000,'
    b'"subscriptionType":"contact.creation","attemptNumber":0,"objectId":123,'
    b'"changeSource":"CRM","changeFlag":"NEW","appId":54321}]'
)
NOW = 1_800_000_000_000
URI = "https://hooks.example.com/webhooks/hubspot?x=1"


def _v3(secret: str, method: str, uri: str, body: bytes, ts: str) -> str:
    raw = f"{method}{uri}".encode() + body + ts.encode()
    return base64.b64encode(hmac.new(secret.encode(), raw, hashlib.sha256).digest()).decode()


def test_v1_matches_the_documented_example() -> None:
    expected = "232db2615f3d666fe21a8ec971ac7b5402d33b9a925784df3ca654d05f4817de"
    assert expected_v1(DOC_SECRET, DOC_BODY) == expected
    headers = {"X-HubSpot-Signature": expected, "X-HubSpot-Signature-Version": "v1"}
    assert (
        verify(headers, secret=DOC_SECRET, method="POST", uri=URI, body=DOC_BODY, now_ms=NOW)
        == "v1"
    )


def test_v3_accepts_an_independently_computed_signature() -> None:
    ts = str(NOW - 60_000)
    headers = {
        "x-hubspot-signature-v3": _v3("s3cret", "POST", URI, DOC_BODY, ts),
        "x-hubspot-request-timestamp": ts,
    }
    assert (
        verify(headers, secret="s3cret", method="post", uri=URI, body=DOC_BODY, now_ms=NOW) == "v3"
    )


def test_v3_decodes_listed_percent_encodings_only() -> None:
    assert v3_uri("https://h/p?a=%3A%2f%40%20") == "https://h/p?a=:/@%20"
    ts = str(NOW)
    signed_on = "https://h/p?email=a@b.c"
    headers = {
        "X-HubSpot-Signature-v3": _v3("k", "POST", signed_on, b"[]", ts),
        "X-HubSpot-Request-Timestamp": ts,
    }
    assert (
        verify(
            headers,
            secret="k",
            method="POST",
            uri="https://h/p?email=a%40b.c",
            body=b"[]",
            now_ms=NOW,
        )
        == "v3"
    )


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"body": DOC_BODY + b" "}, "mismatch"),
        ({"secret": "other"}, "mismatch"),
        ({"uri": URI + "&y=2"}, "mismatch"),
        ({"ts_offset": -301_000}, "stale"),
        ({"ts_offset": 301_000}, "stale"),
        ({"ts": "soon"}, "Request-Timestamp"),
    ],
)
def test_v3_refusals(change: dict[str, object], message: str) -> None:
    ts = str(change.get("ts", NOW + int(str(change.get("ts_offset", 0)))))
    headers = {
        "X-HubSpot-Signature-v3": _v3("k", "POST", URI, DOC_BODY, ts if ts.isdigit() else "0"),
        "X-HubSpot-Request-Timestamp": ts,
    }
    with pytest.raises(SignatureError, match=message):
        verify(
            headers,
            secret=str(change.get("secret", "k")),
            method="POST",
            uri=str(change.get("uri", URI)),
            body=change.get("body", DOC_BODY),  # type: ignore[arg-type]
            now_ms=NOW,
        )


def test_missing_or_disallowed_signatures_are_refused() -> None:
    with pytest.raises(SignatureError, match="no signature"):
        verify({}, secret="k", method="POST", uri=URI, body=b"[]", now_ms=NOW)
    v1 = {"X-HubSpot-Signature": expected_v1("k", b"[]")}
    with pytest.raises(SignatureError, match="not accepted"):
        verify(v1, secret="k", method="POST", uri=URI, body=b"[]", now_ms=NOW, allow_v1=False)
    with pytest.raises(SignatureError, match="no client secret"):
        verify(v1, secret="", method="POST", uri=URI, body=b"[]", now_ms=NOW)


def test_error_messages_never_contain_the_secret_or_signature() -> None:
    secret = "very-secret-value"
    good = expected_v1(secret, b"[1]")
    headers = {"X-HubSpot-Signature": good}
    with pytest.raises(SignatureError) as caught:
        verify(headers, secret=secret, method="POST", uri=URI, body=b"[2]", now_ms=NOW)
    assert secret not in str(caught.value)
    assert expected_v1(secret, b"[2]") not in str(caught.value) and good not in str(caught.value)
