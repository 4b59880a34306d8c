"""Salesforce classify(): every real error body quoted in the reference -> the right type."""

from __future__ import annotations

import httpx
import pytest

from hubforce.connectors.salesforce.errors import classify, record_failure
from hubforce.errors import AuthFailed, Category, ConnectorError, RateLimited, Transient

DUP_MESSAGE = "You're creating a duplicate record. We recommend you use an existing record instead."
DUPLICATES = [
    {
        "duplicateResut": {
            "allowSave": True,
            "duplicateRule": "Standard_Contact_Duplicate_Rule",
            "duplicateRuleEntityType": "Contact",
            "errorMessage": DUP_MESSAGE,
            "matchResults": [],
        },
        "errorCode": "DUPLICATES_DETECTED",
        "message": DUP_MESSAGE,
    }
]

REST_BODIES = [
    (
        400,
        "REQUIRED_FIELD_MISSING",
        "Required fields are missing: [LastName]",
        ["LastName"],
        Category.REQUIRED_FIELD,
    ),
    (
        400,
        "INVALID_FIELD",
        "No such column 'foo' on sobject of type Bar",
        None,
        Category.MISSING_FIELD,
    ),
    (
        400,
        "INVALID_FIELD_FOR_INSERT_UPDATE",
        "Unable to create/update fields: Name. Please check the security settings of this field",
        ["Name"],
        Category.PERMISSION,
    ),
    (
        400,
        "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "Jurisdiction: bad value for restricted picklist field: State of Washington",
        ["Jurisdiction__c"],
        Category.PICKLIST,
    ),
    (
        400,
        "DUPLICATE_VALUE",
        "duplicate value found: Ext__c duplicates value on record with id: 0018M000001",
        [],
        Category.DUPLICATE,
    ),
    (
        400,
        "FIELD_CUSTOM_VALIDATION_EXCEPTION",
        "Close date must be in the future",
        None,
        Category.VALIDATION_RULE,
    ),
    (
        400,
        "STRING_TOO_LONG",
        "Topic Name: data value too large: NOWELLPOINT_OPPORTUNITY_PUSH_TOPIC (max length=25)",
        ["Name"],
        Category.TYPE_MISMATCH,
    ),
    (404, "ENTITY_IS_DELETED", "entity is deleted", [], Category.NOT_FOUND),
    (400, "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [], Category.ASSOCIATION),
    (
        400,
        "INSUFFICIENT_ACCESS_ON_CROSS_REFERENCE_ENTITY",
        "insufficient access rights on cross-reference id: 001xx",
        [],
        Category.PERMISSION,
    ),
    (404, "NOT_FOUND", "The requested resource does not exist", None, Category.NOT_FOUND),
    (400, "MALFORMED_ID", "malformed id 001RM000003oLrB000", [], Category.NOT_FOUND),
    (400, "MALFORMED_QUERY", "unexpected token: 'invalid'", None, Category.UNKNOWN),
    (400, "INVALID_TYPE", "sObject type 'Unknown' is not supported.", None, Category.MISSING_FIELD),
    (
        400,
        "CANNOT_UPDATE_CONVERTED_LEAD",
        "cannot reference converted lead",
        None,
        Category.VALIDATION_RULE,
    ),
    (
        400,
        "INVALID_EMAIL_ADDRESS",
        "Email: invalid email address: not an email",
        ["Email"],
        Category.VALIDATION_RULE,
    ),
    (
        403,
        "API_DISABLED_FOR_ORG",
        "API is not enabled for this Organization or Partner",
        None,
        Category.PERMISSION,
    ),
]


@pytest.mark.parametrize(("status", "code", "message", "fields", "category"), REST_BODIES)
def test_rest_error_bodies(
    status: int, code: str, message: str, fields: list[str] | None, category: Category
) -> None:
    body: dict[str, object] = {"message": message, "errorCode": code}
    if fields is not None:
        body["fields"] = fields
    error = classify(httpx.Response(status, json=[body]))
    assert isinstance(error, ConnectorError) and not isinstance(error, Transient)
    assert (error.category, error.api_code, error.status) == (category, code, status)
    assert error.hint
    failure = record_failure({"statusCode": code, "message": message, "fields": fields or []})
    assert (failure.category, failure.api_code, failure.fields) == (
        category,
        code,
        tuple(fields or ()),
    )


def test_duplicates_detected_body() -> None:
    error = classify(httpx.Response(400, json=DUPLICATES))
    assert error is not None and error.category is Category.DUPLICATE
    assert error.api_code == "DUPLICATES_DETECTED"


def test_invalid_session_is_auth_failed() -> None:
    body = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
    error = classify(httpx.Response(401, json=body))
    assert isinstance(error, AuthFailed)
    assert error.message == "Authentication failed: reauthorize Salesforce"


@pytest.mark.parametrize(
    ("pair"),
    [
        ("invalid_grant", "authentication failure"),
        ("invalid_grant", "expired access/refresh token"),
        ("invalid_client_id", "client identifier invalid"),
        ("invalid_client", "invalid client credentials"),
        ("invalid_grant", "user hasn't approved this consumer"),
    ],
)
def test_oauth_error_objects_are_auth_failed(pair: tuple[str, str]) -> None:
    error = classify(httpx.Response(400, json={"error": pair[0], "error_description": pair[1]}))
    assert isinstance(error, AuthFailed)
    assert (error.api_code, error.api_message) == pair


def test_request_limit_exceeded_is_rate_limited_daily() -> None:
    body = [{"message": "TotalRequests Limit exceeded.", "errorCode": "REQUEST_LIMIT_EXCEEDED"}]
    error = classify(httpx.Response(403, json=body))
    assert isinstance(error, RateLimited)
    assert error.window == "daily" and error.retry_after == 900
    concurrent = [
        {
            "message": "ConcurrentPerOrgLongTxn Limit exceeded.",
            "errorCode": "REQUEST_LIMIT_EXCEEDED",
        }
    ]
    short = classify(httpx.Response(403, json=concurrent))
    assert (
        isinstance(short, RateLimited) and short.window == "concurrent" and short.retry_after == 5
    )


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (
            400,
            [
                {
                    "message": "unable to obtain exclusive access to this record",
                    "errorCode": "UNABLE_TO_LOCK_ROW",
                }
            ],
        ),
        (500, [{"message": "An unexpected error occurred", "errorCode": "UNKNOWN_EXCEPTION"}]),
        (503, [{"message": "Server unavailable", "errorCode": "SERVER_UNAVAILABLE"}]),
        (502, "<html>bad gateway</html>"),
    ],
)
def test_transient_bodies(status: int, body: object) -> None:
    response = (
        httpx.Response(status, json=body)
        if isinstance(body, list)
        else httpx.Response(status, text=str(body))
    )
    assert isinstance(classify(response), Transient)


def test_300_multiple_choices_is_a_duplicate() -> None:
    body = [
        "/services/data/v23.0/sobjects/Whizbang/foo",
        "/services/data/v23.0/sobjects/Whizbang/bar",
    ]
    error = classify(httpx.Response(300, json=body))
    assert error is not None and error.category is Category.DUPLICATE


def test_collections_per_record_errors() -> None:
    rolled_back = {
        "statusCode": "ALL_OR_NONE_OPERATION_ROLLED_BACK",
        "message": "Record rolled back because not all records were valid",
        "fields": [],
    }
    assert record_failure(rolled_back).retryable
    assert not record_failure(
        {"statusCode": "DUPLICATES_DETECTED", "message": "Use one of these records?"}
    ).retryable
