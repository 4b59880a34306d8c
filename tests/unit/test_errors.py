"""The exception tree, remediation hints, RecordFailure and secret redaction."""

from __future__ import annotations

import pytest

from hubforce.errors import (
    AuthFailed,
    Category,
    ConfigError,
    ConnectorError,
    HubforceError,
    RateLimited,
    RecordFailure,
    StoreError,
    Transient,
    redact,
    remediation,
)


def test_tree_matches_the_documented_hierarchy() -> None:
    for cls in (ConfigError, ConnectorError, StoreError):
        assert issubclass(cls, HubforceError)
    for cls in (AuthFailed, RateLimited, Transient):
        assert issubclass(cls, ConnectorError)


@pytest.mark.parametrize(("side", "label"), [("hubspot", "HubSpot"), ("salesforce", "Salesforce")])
def test_auth_failed_says_reauthorize_and_the_command(side: str, label: str) -> None:
    error = AuthFailed(side, status=401, api_code="INVALID_SESSION_ID")
    assert error.message == f"Authentication failed: reauthorize {label}"
    assert error.command == f"hubforce connect {side}"
    assert f"hubforce connect {side}" in error.hint
    assert error.category is Category.AUTHENTICATION
    assert not error.retryable


def test_rate_limited_carries_window_and_wait() -> None:
    error = RateLimited("hubspot", 9.5, "ten_secondly_rolling", status=429)
    assert error.retry_after == 9.5
    assert error.window == "ten_secondly_rolling"
    assert error.retryable
    assert RateLimited("hubspot", -3, "daily").retry_after == 0.0


def test_transient_is_retryable_and_plain_connector_error_is_not() -> None:
    assert Transient("salesforce", "503").retryable
    assert not ConnectorError("salesforce", Category.PICKLIST, "bad").retryable


def test_config_error_names_file_and_key_path() -> None:
    error = ConfigError("hubforce.yaml", "connections.hubspot.token", "inline secret", "use ${ENV}")
    assert str(error) == "hubforce.yaml: connections.hubspot.token: inline secret (use ${ENV})"
    assert error.key_path == "connections.hubspot.token"


def test_remediation_prefers_the_api_code_then_the_category() -> None:
    assert "retries it automatically" in remediation(Category.TRANSIENT, "UNABLE_TO_LOCK_ROW")
    assert "converted" in remediation(Category.VALIDATION_RULE, "cannot_update_converted_lead")
    assert remediation(Category.PICKLIST, "SOMETHING_NEW") == remediation(Category.PICKLIST)
    for category in Category:
        assert remediation(category), category


def test_record_failure_of_fills_hint_and_retryability() -> None:
    failure = RecordFailure.of(
        Category.REQUIRED_FIELD,
        "REQUIRED_FIELD_MISSING",
        "Required fields are missing: [LastName]",
        ("LastName",),
    )
    assert failure.fields == ("LastName",)
    assert "required field" in failure.remediation
    assert failure.retryable is False
    assert RecordFailure.of(Category.TRANSIENT, "UNABLE_TO_LOCK_ROW", "locked").retryable


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("Authorization: Bearer pat-na1-1234abcd-5678", "1234abcd"),
        ("grant_type=refresh_token&refresh_token=rt-SECRET-1&client_id=x", "rt-SECRET-1"),
        ('{"client_secret": "s3cr3t", "x": 1}', "s3cr3t"),
        ("password=hunter2tok&username=u@x.com", "hunter2tok"),
        ("session 00Dxx0000001gPL!AR8AQJXg5oj8jXSgxJfA0lBog.dy1s1 expired", "AR8AQJXg5oj8j"),
        ("token pat-eu1-aaaa-bbbb-cccc used", "aaaa-bbbb"),
    ],
)
def test_redact_masks_secrets(text: str, secret: str) -> None:
    assert secret not in redact(text)
    assert "redacted" in redact(text)


def test_errors_redact_their_messages() -> None:
    error = ConnectorError(
        "hubspot",
        Category.UNKNOWN,
        "call failed with Bearer abc.def",
        api_message="refresh_token=zzz",
    )
    assert "abc.def" not in str(error)
    assert "zzz" not in error.api_message
