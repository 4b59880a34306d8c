"""HubSpot classify(): every real error body quoted in the reference -> the right type."""

from __future__ import annotations

import httpx
import pytest

from hubforce.connectors.hubspot.errors import classify, existing_id, record_failure
from hubforce.errors import AuthFailed, Category, ConnectorError, RateLimited, Transient

NOT_FOUND_CREDENTIALS = {
    "status": "error",
    "message": "Authentication credentials not found. This API supports OAuth 2.0 authentication "
    "and you can find more details at https://developers.hubspot.com/docs/methods/auth/oauth-overview",
    "correlationId": "f0ee980f-a446-4189-b004-ff06d08bf4e3",
    "category": "INVALID_AUTHENTICATION",
}
EXPIRED = {
    "status": "error",
    "message": "The OAuth token used to make this call expired 75 second(s) ago.",
    "correlationId": "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx",
    "category": "EXPIRED_AUTHENTICATION",
    "context": {"expire time": ["2022-06-21T10:37:52.040Z"]},
}
PROPERTY_MISSING = {
    "status": "error",
    "message": 'Property values were not valid: [{"isValid":false,"message":'
    '"Property \\"bogus_prop\\" does not exist","error":"PROPERTY_DOESNT_EXIST",'
    '"name":"bogus_prop","localizedErrorMessage":'
    '"Property \\"bogus_prop\\" does not exist","portalId":3855728}]',
    "correlationId": "c1",
    "category": "VALIDATION_ERROR",
}
INVALID_STAGE = {
    "status": "error",
    "message": 'Property values were not valid: [{"isValid":false,"message":'
    '"registered is not a valid pipeline stage ID. Valid options are: '
    'pipelineId=default : [appointmentscheduled, closedwon]",'
    '"error":"INVALID_OPTION","name":"dealstage"}]',
    "correlationId": "c2",
    "category": "VALIDATION_ERROR",
}
INVALID_EMAIL = {
    "status": "error",
    "message": 'Property values were not valid: [{"isValid":false,"message":'
    '"Email address not-an-email is invalid","error":"INVALID_EMAIL","name":"email"}]',
    "correlationId": "c3",
    "category": "VALIDATION_ERROR",
}
DUPLICATE = {
    "status": "error",
    "message": "Contact already exists. Existing ID: 179556362935",
    "correlationId": "c4",
    "category": "CONFLICT",
}
DAILY = {
    "status": "error",
    "message": "You have reached your daily limit.",
    "errorType": "RATE_LIMIT",
    "correlationId": "c033cdaa-2c40-4a64-ae48-b4cec88dad24",
    "policyName": "DAILY",
    "requestId": "3d3e35b7-0dae-4b9f-a6e3-9c230cbcf8dd",
}
TEN_SECONDLY = {
    "status": "error",
    "message": "You have reached your ten_secondly_rolling limit.",
    "errorType": "RATE_LIMIT",
    "correlationId": "c5",
    "policyName": "TEN_SECONDLY_ROLLING",
}
SECONDLY = {
    "status": "error",
    "message": "You have reached your secondly limit.",
    "errorType": "RATE_LIMIT",
    "correlationId": "c0ffee",
    "policyName": "SECONDLY",
}
BATCH_NOT_FOUND = {
    "status": "error",
    "category": "OBJECT_NOT_FOUND",
    "message": "Could not get some COMPANY objects, they may be deleted or not exist. "
    "Check that ids are valid.",
    "context": {"ids": ["8380080352", "8144745976"]},
}


def classified(status: int, body: object, headers: dict[str, str] | None = None) -> ConnectorError:
    error = classify(httpx.Response(status, json=body, headers=headers))
    assert error is not None
    return error


def test_success_is_not_an_error() -> None:
    assert classify(httpx.Response(200, json={})) is None
    assert classify(httpx.Response(207, json={"errors": []})) is None
    assert classify(httpx.Response(204)) is None


@pytest.mark.parametrize("body", [NOT_FOUND_CREDENTIALS, EXPIRED])
def test_401_bodies_are_auth_failed(body: dict[str, object]) -> None:
    error = classified(401, body)
    assert isinstance(error, AuthFailed)
    assert error.api_code == body["category"]
    assert error.request_id == body["correlationId"]
    assert error.message == "Authentication failed: reauthorize HubSpot"


@pytest.mark.parametrize(
    ("body", "category", "code", "fields"),
    [
        (PROPERTY_MISSING, Category.MISSING_FIELD, "PROPERTY_DOESNT_EXIST", ("bogus_prop",)),
        (INVALID_STAGE, Category.PICKLIST, "INVALID_OPTION", ("dealstage",)),
        (INVALID_EMAIL, Category.VALIDATION_RULE, "INVALID_EMAIL", ("email",)),
    ],
)
def test_property_validation_codes(
    body: dict[str, object], category: Category, code: str, fields: tuple[str, ...]
) -> None:
    error = classified(400, body)
    assert (error.category, error.api_code, error.status) == (category, code, 400)
    failure = record_failure(body)
    assert (failure.category, failure.api_code, failure.fields) == (category, code, fields)
    assert failure.remediation


def test_duplicate_contact_is_a_duplicate() -> None:
    error = classified(409, DUPLICATE)
    assert error.category is Category.DUPLICATE
    assert "Existing ID: 179556362935" in error.api_message
    assert existing_id(record_failure(DUPLICATE)) == "179556362935"
    assert existing_id(record_failure(PROPERTY_MISSING)) is None


@pytest.mark.parametrize(
    ("body", "window", "wait"),
    [(TEN_SECONDLY, "ten_secondly_rolling", 10.0), (SECONDLY, "secondly", 1.0)],
)
def test_429_policies(body: dict[str, object], window: str, wait: float) -> None:
    error = classified(429, body)
    assert isinstance(error, RateLimited)
    assert (error.window, error.retry_after) == (window, wait)


def test_429_daily_waits_until_midnight_and_retry_after_header_wins() -> None:
    daily = classified(429, DAILY)
    assert isinstance(daily, RateLimited) and daily.window == "daily"
    assert 0 < daily.retry_after <= 86400
    with_header = classified(429, TEN_SECONDLY, {"Retry-After": "3"})
    assert isinstance(with_header, RateLimited) and with_header.retry_after == 3.0


def test_429_burst_waits_the_window_its_headers_announce() -> None:
    interval = {"X-HubSpot-RateLimit-Interval-Milliseconds": "1500"}
    short = classified(429, TEN_SECONDLY, interval)
    assert isinstance(short, RateLimited) and short.retry_after == 1.5
    garbled = classified(429, TEN_SECONDLY, {"X-HubSpot-RateLimit-Interval-Milliseconds": "x"})
    assert isinstance(garbled, RateLimited) and garbled.retry_after == 10.0
    search = classified(429, SECONDLY, interval)  # the search limit is per second regardless
    assert isinstance(search, RateLimited) and search.retry_after == 1.0


@pytest.mark.parametrize("status", [500, 502, 503, 504, 423])
def test_server_errors_and_locks_are_transient(status: int) -> None:
    assert isinstance(classified(status, {"status": "error", "message": "x"}), Transient)


def test_non_json_5xx_is_transient() -> None:
    error = classify(httpx.Response(502, text="<html>Bad gateway</html>"))
    assert isinstance(error, Transient)


def test_not_found_and_scopes() -> None:
    assert classified(404, BATCH_NOT_FOUND).category is Category.NOT_FOUND
    scopes = {
        "status": "error",
        "message": "This app hasn't been granted all required scopes",
        "category": "MISSING_SCOPES",
        "correlationId": "c9",
    }
    assert classified(403, scopes).category is Category.PERMISSION
    assert record_failure(BATCH_NOT_FOUND).category is Category.NOT_FOUND
