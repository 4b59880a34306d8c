"""ApiSession: bounded retries with backoff, Retry-After, and no unsafe resend of creates."""

from __future__ import annotations

import random

import httpx
import pytest

from hubforce.connectors.http import ApiSession, RetryPolicy, build_http_client
from hubforce.connectors.hubspot.errors import classify as hs_classify
from hubforce.connectors.salesforce.errors import classify as sf_classify
from hubforce.errors import AuthFailed, RateLimited, Transient
from tests.unit.connectors.conftest import FakeClock, Script, reply

pytestmark = pytest.mark.anyio

SF_LOCKED = [
    {
        "message": "unable to obtain exclusive access to this record",
        "errorCode": "UNABLE_TO_LOCK_ROW",
    }
]


def session(script: Script, policy: RetryPolicy, *, salesforce: bool = False) -> ApiSession:
    client = build_http_client("https://api.example.test", transport=script.transport)
    if salesforce:
        return ApiSession("salesforce", client, sf_classify, policy=policy)
    return ApiSession("hubspot", client, hs_classify, policy=policy)


async def test_503_storm_ends_in_transient_after_max_attempts(
    policy: RetryPolicy, clock: FakeClock
) -> None:
    script = Script(*[reply(503, {"status": "error", "message": "down"})] * 4)
    api = session(script, policy)
    with pytest.raises(Transient) as caught:
        await api.request("GET", "/crm/v3/objects/contacts", kind="list")
    assert caught.value.status == 503
    assert len(script.requests) == policy.max_attempts == 4
    assert len(clock.sleeps) == 3
    assert api.calls.total == 4 and api.calls.retries == 3


async def test_backoff_grows_capped_with_jitter(clock: FakeClock) -> None:
    policy = RetryPolicy(
        max_attempts=8, base_delay=1.0, max_delay=4.0, rng=random.Random(1), sleep=clock.sleep
    )
    delays = [policy.backoff(n) for n in range(1, 8)]
    for attempt, delay in enumerate(delays, start=1):
        ceiling = min(4.0, 2.0 ** (attempt - 1))
        assert ceiling / 2 <= delay <= ceiling
    assert max(delays) <= 4.0
    again = RetryPolicy(rng=random.Random(1), base_delay=1.0, max_delay=4.0)
    assert [again.backoff(n) for n in range(1, 8)] == delays


async def test_429_waits_retry_after_then_succeeds(policy: RetryPolicy, clock: FakeClock) -> None:
    limited = reply(
        429,
        {
            "status": "error",
            "message": "You have reached your ten_secondly_rolling limit.",
            "errorType": "RATE_LIMIT",
            "policyName": "TEN_SECONDLY_ROLLING",
        },
        {"Retry-After": "7"},
    )
    script = Script(limited, reply(200, {"results": []}))
    api = session(script, policy)
    response = await api.request("GET", "/crm/v3/objects/contacts", kind="list")
    assert response.status_code == 200
    assert clock.sleeps and clock.sleeps[0] >= 7.0
    assert api.calls.rate_limited == 1


async def test_rate_limit_longer_than_max_wait_surfaces(
    policy: RetryPolicy, clock: FakeClock
) -> None:
    daily = reply(
        429,
        {
            "status": "error",
            "message": "You have reached your daily limit.",
            "errorType": "RATE_LIMIT",
            "policyName": "DAILY",
        },
        {"Retry-After": "3600"},
    )
    script = Script(daily)
    with pytest.raises(RateLimited) as caught:
        await session(script, policy).request("GET", "/x", kind="list")
    assert caught.value.window == "daily"
    assert caught.value.retry_after == 3600
    assert clock.sleeps == []


async def test_unable_to_lock_row_is_retried_even_for_a_create(policy: RetryPolicy) -> None:
    script = Script(
        reply(400, SF_LOCKED), reply(200, [{"id": "001", "success": True, "errors": []}])
    )
    api = session(script, policy, salesforce=True)
    response = await api.request(
        "POST", "/composite/sobjects", kind="create", json={}, idempotent=False
    )
    assert response.status_code == 200
    assert len(script.requests) == 2


async def test_500_on_a_create_is_not_resent(policy: RetryPolicy, clock: FakeClock) -> None:
    script = Script(
        reply(500, [{"message": "An unexpected error occurred", "errorCode": "UNKNOWN_EXCEPTION"}])
    )
    api = session(script, policy, salesforce=True)
    with pytest.raises(Transient):
        await api.request("POST", "/composite/sobjects", kind="create", json={}, idempotent=False)
    assert len(script.requests) == 1
    assert clock.sleeps == []


async def test_500_on_a_read_is_resent(policy: RetryPolicy) -> None:
    script = Script(reply(500, {"status": "error", "message": "internal"}), reply(200, {"ok": 1}))
    response = await session(script, policy).request("GET", "/x", kind="read")
    assert response.json() == {"ok": 1}
    assert len(script.requests) == 2


async def test_read_timeout_on_create_is_not_resent_but_connect_error_is(
    policy: RetryPolicy,
) -> None:
    script = Script(httpx.ReadTimeout("slow"))
    with pytest.raises(Transient) as caught:
        await session(script, policy).request(
            "POST", "/batch/create", kind="c", json={}, idempotent=False
        )
    assert "ReadTimeout" in caught.value.message
    assert len(script.requests) == 1

    script = Script(httpx.ConnectError("refused"), reply(201, {"results": []}))
    response = await session(script, policy).request(
        "POST", "/batch/create", kind="c", json={}, idempotent=False
    )
    assert response.status_code == 201
    assert len(script.requests) == 2


async def test_timeouts_on_reads_end_in_transient(policy: RetryPolicy) -> None:
    script = Script(*[httpx.ReadTimeout("slow")] * 4)
    with pytest.raises(Transient):
        await session(script, policy).request("GET", "/x", kind="read")
    assert len(script.requests) == 4


async def test_auth_failure_is_not_retried(policy: RetryPolicy) -> None:
    script = Script(
        reply(401, [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}])
    )
    with pytest.raises(AuthFailed):
        await session(script, policy, salesforce=True).request("GET", "/x", kind="read")
    assert len(script.requests) == 1


async def test_retries_are_logged_without_secrets(
    policy: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    body = {"status": "error", "message": "token refresh_token=abc123 leaked?"}
    script = Script(reply(503, body), reply(200, {}))
    with caplog.at_level("WARNING", logger="hubforce.connectors"):
        await session(script, policy).request("GET", "/x", kind="list")
    assert "hubspot list" in caplog.text and "retry 1/3" in caplog.text
    assert "abc123" not in caplog.text


async def test_a_failing_call_warns_once_and_logs_its_further_retries_at_info(
    policy: RetryPolicy, caplog: pytest.LogCaptureFixture
) -> None:
    script = Script(reply(503, {}), reply(503, {}), reply(503, {}), reply(200, {}))
    with caplog.at_level("INFO", logger="hubforce.connectors"):
        await session(script, policy).request("GET", "/x", kind="list")
    retries = [r for r in caplog.records if "retry" in r.getMessage()]
    assert [r.levelname for r in retries] == ["WARNING", "INFO", "INFO"]
    assert [r.getMessage().split("; ")[-1].split(" in")[0] for r in retries] == [
        "retry 1/3",
        "retry 2/3",
        "retry 3/3",
    ]
