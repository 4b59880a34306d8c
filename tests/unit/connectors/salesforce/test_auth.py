"""Salesforce grants: refresh token, JWT bearer, password; 401 INVALID_SESSION_ID refreshes once."""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from hubforce.connectors.governor import salesforce_governor
from hubforce.connectors.http import RetryPolicy
from hubforce.connectors.salesforce.auth import (
    JwtBearerGrant,
    PasswordGrant,
    RefreshTokenGrant,
    StaticSession,
)
from hubforce.connectors.salesforce.client import SalesforceClient
from hubforce.errors import AuthFailed
from tests.unit.connectors.conftest import FakeClock, Script, reply

pytestmark = pytest.mark.anyio

LOGIN = "https://login.example.test"
INSTANCE = "https://na1.example.test"
TOKEN = {
    "access_token": "00Dx0000000BV7z!AR8AQ.first",
    "instance_url": INSTANCE,
    "id": f"{LOGIN}/id/00Dx0000000BV7z/005x00000012Q9P",
    "token_type": "Bearer",
    "issued_at": "1278448832702",
    "signature": "sig",
}
EXPIRED = [{"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}]
LIMITS = {"DailyApiRequests": {"Max": 15000, "Remaining": 14998}}


def form_of(request: httpx.Request) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(request.content.decode()).items()}


def make(
    script: Script, auth: httpx.Auth, clock: FakeClock, policy: RetryPolicy, url: str | None = None
) -> SalesforceClient:
    governor = salesforce_governor(sleep=clock.sleep, monotonic=clock.monotonic)
    return SalesforceClient(
        url, auth=auth, transport=script.transport, governor=governor, policy=policy
    )


async def test_refresh_grant_logs_in_and_uses_the_instance_url(
    clock: FakeClock, policy: RetryPolicy
) -> None:
    auth = RefreshTokenGrant(
        login_url=LOGIN, client_id="ck", client_secret="cs", refresh_token="rt-1"
    )
    script = Script(reply(200, TOKEN), reply(200, LIMITS))
    async with make(script, auth, clock, policy) as sf:
        assert (await sf.limits())["DailyApiRequests"]["Max"] == 15000
    token_call, limits_call = script.requests
    assert str(token_call.url) == f"{LOGIN}/services/oauth2/token"
    assert form_of(token_call) == {
        "grant_type": "refresh_token",
        "client_id": "ck",
        "refresh_token": "rt-1",
        "client_secret": "cs",
    }
    assert str(limits_call.url) == f"{INSTANCE}/services/data/v59.0/limits/"
    assert limits_call.headers["Authorization"] == f"Bearer {TOKEN['access_token']}"


async def test_invalid_session_refreshes_once_then_retries(
    clock: FakeClock, policy: RetryPolicy
) -> None:
    auth = RefreshTokenGrant(login_url=LOGIN, client_id="ck", refresh_token="rt-1")
    second = {**TOKEN, "access_token": "00Dx0000000BV7z!second", "refresh_token": "rt-2"}
    script = Script(reply(200, TOKEN), reply(401, EXPIRED), reply(200, second), reply(200, LIMITS))
    async with make(script, auth, clock, policy, INSTANCE) as sf:
        await sf.limits()
    assert [r.url.path for r in script.requests] == [
        "/services/oauth2/token",
        "/services/data/v59.0/limits/",
        "/services/oauth2/token",
        "/services/data/v59.0/limits/",
    ]
    assert script.requests[-1].headers["Authorization"] == "Bearer 00Dx0000000BV7z!second"
    assert form_of(script.requests[2])["refresh_token"] == "rt-1"
    assert auth.token_form()["refresh_token"] == "rt-2"  # rotation followed


async def test_revoked_refresh_token_is_auth_failed_without_secrets(
    clock: FakeClock, policy: RetryPolicy
) -> None:
    auth = RefreshTokenGrant(
        login_url=LOGIN, client_id="ck", client_secret="cs-secret", refresh_token="rt-revoked"
    )
    script = Script(
        reply(400, {"error": "invalid_grant", "error_description": "expired access/refresh token"})
    )
    sf = make(script, auth, clock, policy)
    with pytest.raises(AuthFailed) as caught:
        await sf.connect()
    await sf.aclose()
    error = caught.value
    assert str(error).startswith("Authentication failed: reauthorize Salesforce")
    assert (error.api_code, error.api_message) == ("invalid_grant", "expired access/refresh token")
    assert "hubforce connect salesforce" in error.hint
    assert "rt-revoked" not in str(error) and "cs-secret" not in str(error)


async def test_second_invalid_session_after_refresh_is_auth_failed(
    clock: FakeClock, policy: RetryPolicy
) -> None:
    auth = RefreshTokenGrant(login_url=LOGIN, client_id="ck", refresh_token="rt")
    script = Script(reply(200, TOKEN), reply(401, EXPIRED), reply(200, TOKEN), reply(401, EXPIRED))
    async with make(script, auth, clock, policy, INSTANCE) as sf:
        with pytest.raises(AuthFailed):
            await sf.limits()
    assert len(script.requests) == 4


async def test_jwt_bearer_assertion_is_rs256_signed(clock: FakeClock, policy: RetryPolicy) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    auth = JwtBearerGrant(
        login_url=LOGIN,
        client_id="ck",
        username="int@x.test",
        private_key=pem,
        clock=lambda: 1_700_000_000,
    )
    script = Script(reply(200, TOKEN))
    sf = make(script, auth, clock, policy)
    await sf.connect()
    await sf.aclose()
    form = form_of(script.requests[0])
    assert form["grant_type"] == "urn:ietf:params:oauth:grant-type:jwt-bearer"
    claims = jwt.decode(
        form["assertion"],
        key.public_key(),
        algorithms=["RS256"],
        audience=LOGIN,
        options={"verify_exp": False},
    )
    assert claims == {"iss": "ck", "sub": "int@x.test", "aud": LOGIN, "exp": 1_700_000_180}


async def test_password_grant_appends_the_security_token(
    clock: FakeClock, policy: RetryPolicy
) -> None:
    auth = PasswordGrant(
        login_url=LOGIN,
        client_id="ck",
        client_secret="cs",
        username="u@x.test",
        password="pw",
        security_token="TOK",
    )
    script = Script(reply(200, TOKEN))
    sf = make(script, auth, clock, policy)
    await sf.connect()
    await sf.aclose()
    assert form_of(script.requests[0]) == {
        "grant_type": "password",
        "client_id": "ck",
        "client_secret": "cs",
        "username": "u@x.test",
        "password": "pwTOK",
    }
    assert "pw" not in repr(auth)


async def test_static_session_never_refreshes(clock: FakeClock, policy: RetryPolicy) -> None:
    script = Script(reply(401, EXPIRED))
    async with make(script, StaticSession("00Dx!tok"), clock, policy, INSTANCE) as sf:
        with pytest.raises(AuthFailed):
            await sf.limits()
    assert len(script.requests) == 1


async def test_concurrent_calls_share_one_login_and_one_refresh(
    clock: FakeClock, policy: RetryPolicy
) -> None:
    auth = RefreshTokenGrant(login_url=LOGIN, client_id="ck", refresh_token="rt")
    logins = 0

    async def server(request: httpx.Request) -> httpx.Response:
        await asyncio.sleep(0)  # let the other calls run: real interleaving
        nonlocal logins
        if request.url.path == "/services/oauth2/token":
            logins += 1
            return reply(200, {**TOKEN, "access_token": f"tok-{logins}"})
        if request.headers["Authorization"] == "Bearer tok-1":
            return reply(401, EXPIRED)
        return reply(200, LIMITS)

    governor = salesforce_governor(sleep=clock.sleep, monotonic=clock.monotonic)
    async with SalesforceClient(
        INSTANCE, auth=auth, transport=httpx.MockTransport(server), governor=governor, policy=policy
    ) as sf:
        results = await asyncio.gather(*(sf.limits() for _ in range(5)))
    assert results == [LIMITS] * 5
    assert logins == 2  # the first login, then one refresh for all five stale calls
