"""OAuth, token expiry and the ten-secondly/daily limits through the official client."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlparse

import httpx
import pytest
from hubspot import HubSpot
from hubspot.crm.contacts.exceptions import ApiException, UnauthorizedException
from urllib3.util.retry import Retry

from hubforce.emulators.hubspot.models import Portal

REDIRECT = "http://127.0.0.1:9/callback"


def _authorize(url: str, portal: Portal) -> str:
    """Walk the local authorize page and return the authorization code."""
    client_id = portal.settings.client_id
    with httpx.Client(base_url=url, follow_redirects=False, verify=False) as http:
        page = http.get(
            "/oauth/authorize",
            params={
                "client_id": client_id,
                "redirect_uri": REDIRECT,
                "scope": "crm.objects.contacts.read",
            },
        )
        assert page.status_code == 200 and 'id="approve"' in page.text
        approve = http.get(
            "/oauth/authorize",
            params={
                "client_id": client_id,
                "redirect_uri": REDIRECT,
                "scope": "crm.objects.contacts.read",
                "state": "s1",
                "approve": "1",
            },
        )
    assert approve.status_code == 302
    location = urlparse(approve.headers["location"])
    query = parse_qs(location.query)
    assert query["state"] == ["s1"]
    return query["code"][0]


def test_authorization_code_then_refresh_with_the_sdk(
    hubspot_client: HubSpot, hubspot_url: str, portal: Portal
) -> None:
    code = _authorize(hubspot_url, portal)
    tokens = hubspot_client.oauth.tokens_api
    first = tokens.create(
        grant_type="authorization_code",
        code=code,
        redirect_uri=REDIRECT,
        client_id=portal.settings.client_id,
        client_secret=portal.settings.client_secret,
    )
    assert first is not None and first.expires_in == 1800 and first.token_type == "bearer"
    oauth_client = HubSpot(access_token=first.access_token, host=hubspot_url)
    assert oauth_client.crm.contacts.basic_api.get_page().results == []
    refreshed = tokens.create(
        grant_type="refresh_token",
        refresh_token=first.refresh_token,
        client_id=portal.settings.client_id,
        client_secret=portal.settings.client_secret,
    )
    assert refreshed.access_token != first.access_token
    assert refreshed.refresh_token == first.refresh_token
    info = hubspot_client.oauth.access_tokens_api.get(refreshed.access_token)
    assert info.hub_id == portal.portal_id


def test_expired_token_is_401_expired_authentication(hubspot_url: str, portal: Portal) -> None:
    code = _authorize(hubspot_url, portal)
    issued = portal.tokens.exchange(
        {
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": portal.settings.client_id,
            "client_secret": portal.settings.client_secret,
        }
    )
    portal.clock.advance(1800 + 75)
    client = HubSpot(access_token=issued["access_token"], host=hubspot_url)
    with pytest.raises(UnauthorizedException) as exc:
        client.crm.contacts.basic_api.get_page()
    body = json.loads(exc.value.body)
    assert body["category"] == "EXPIRED_AUTHENTICATION"
    assert body["message"] == "The OAuth token used to make this call expired 75 second(s) ago."
    assert list(body["context"]) == ["expire time"]


def test_bad_refresh_token_is_400_with_status_code(hubspot_client: HubSpot, portal: Portal) -> None:
    from hubspot.oauth import ApiException as OAuthApiException

    with pytest.raises(OAuthApiException) as exc:
        hubspot_client.oauth.tokens_api.create(
            grant_type="refresh_token",
            refresh_token="nope",
            client_id=portal.settings.client_id,
            client_secret=portal.settings.client_secret,
        )
    assert exc.value.status == 400
    assert json.loads(exc.value.body)["status"] == "BAD_REFRESH_TOKEN"


def test_rate_headers_and_ten_secondly_429(
    hubspot_url: str, portal: Portal, hubspot_control: httpx.Client
) -> None:
    from tests.conformance.hubspot.conftest import STATIC_TOKEN

    hubspot_control.put("/__emulator__/limits", json={"burst": 3})
    portal.clock.freeze()
    try:
        client = HubSpot(
            access_token=STATIC_TOKEN,
            host=hubspot_url,
            retry=Retry(0, respect_retry_after_header=False, raise_on_status=False),
        )
        api = client.crm.contacts.basic_api
        _, _, headers = api.get_page_with_http_info()
        assert headers["X-HubSpot-RateLimit-Max"] == "3"
        assert headers["X-HubSpot-RateLimit-Remaining"] == "2"
        assert headers["X-HubSpot-RateLimit-Interval-Milliseconds"] == "10000"
        assert headers["X-HubSpot-RateLimit-Daily"] == "1000000"
        api.get_page()
        api.get_page()
        with pytest.raises(ApiException) as exc:
            api.get_page()
        assert exc.value.status == 429
        body = json.loads(exc.value.body)
        assert body["policyName"] == "TEN_SECONDLY_ROLLING"
        assert body["message"] == "You have reached your ten_secondly_rolling limit."
        portal.clock.advance(10)
        assert api.get_page().results == []
    finally:
        portal.clock.freeze(False)


def test_daily_limit_429(hubspot_client: HubSpot, hubspot_control: httpx.Client) -> None:
    hubspot_control.put("/__emulator__/limits", json={"daily": 1})
    api = hubspot_client.crm.contacts.basic_api
    assert api.get_page().results == []
    with pytest.raises(ApiException) as exc:
        api.get_page()
    body = json.loads(exc.value.body)
    assert exc.value.status == 429
    assert (body["policyName"], body["errorType"]) == ("DAILY", "RATE_LIMIT")
    assert body["message"] == "You have reached your daily limit."


def test_injected_faults_render_hubspot_bodies(
    hubspot_client: HubSpot, hubspot_control: httpx.Client
) -> None:
    from hubspot.crm.contacts.exceptions import ServiceException

    rule = {"route": "/crm/v3/objects/contacts", "method": "GET", "sequence": ["503", "429"]}
    assert hubspot_control.post("/__emulator__/faults", json={"rules": [rule]}).status_code == 200
    api = hubspot_client.crm.contacts.basic_api
    with pytest.raises(ServiceException) as exc:
        api.get_page()
    assert exc.value.status == 503 and json.loads(exc.value.body)["status"] == "error"
    with pytest.raises(ApiException) as exc2:
        api.get_page()
    assert json.loads(exc2.value.body)["policyName"] == "TEN_SECONDLY_ROLLING"
    assert api.get_page().results == []


def test_malformed_json_is_400_not_a_traceback(
    hubspot_url: str, hubspot_control: httpx.Client
) -> None:
    from tests.conformance.hubspot.conftest import STATIC_TOKEN

    reply = hubspot_control.post(
        "/crm/v3/objects/contacts",
        content=b'{"properties": {',
        headers={"Authorization": f"Bearer {STATIC_TOKEN}", "Content-Type": "application/json"},
    )
    assert reply.status_code == 400
    body = reply.json()
    assert body["category"] == "VALIDATION_ERROR"
    assert body["message"].startswith("Invalid input JSON on line 1, column 17")
