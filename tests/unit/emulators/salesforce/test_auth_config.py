"""OAuth authorization-code and refresh grants, SOAP convertLead, and the YAML config."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import httpx
import pytest

from hubforce.emulators.salesforce.app import SalesforceEmulatorSettings, create_app
from hubforce.emulators.salesforce.config import Credentials, load_config
from hubforce.emulators.salesforce.models import Org

V = "/services/data/v59.0"
CREDS = Credentials()
Scenario = Callable[[httpx.AsyncClient], Awaitable[None]]


def run(scenario: Scenario, settings: SalesforceEmulatorSettings | None = None) -> None:
    async def main() -> None:
        transport = httpx.ASGITransport(app=create_app(settings))
        async with httpx.AsyncClient(transport=transport, base_url="https://sf.local") as client:
            await scenario(client)

    asyncio.run(main())


def test_authorization_code_then_refresh_token() -> None:
    async def scenario(c: httpx.AsyncClient) -> None:
        page = await c.get(
            "/services/oauth2/authorize",
            params={
                "response_type": "code",
                "client_id": CREDS.consumer_key,
                "redirect_uri": "http://localhost:9999/callback",
                "state": "xyz",
            },
        )
        assert page.status_code == 302
        query = parse_qs(urlparse(page.headers["location"]).query)
        assert query["state"] == ["xyz"]
        form = {
            "grant_type": "authorization_code",
            "code": query["code"][0],
            "client_id": CREDS.consumer_key,
            "client_secret": CREDS.consumer_secret,
            "redirect_uri": "http://localhost:9999/callback",
        }
        token = (await c.post("/services/oauth2/token", data=form)).json()
        assert token["instance_url"] == "https://sf.local" and token["refresh_token"]
        assert len(token["issued_at"]) == 13
        reused = await c.post("/services/oauth2/token", data=form)
        assert reused.status_code == 400 and reused.json()["error"] == "invalid_grant"
        refreshed = await c.post(
            "/services/oauth2/token",
            data={"grant_type": "refresh_token", "refresh_token": token["refresh_token"],
                  "client_id": CREDS.consumer_key},
        )  # fmt: skip
        access = refreshed.json()["access_token"]
        ok = await c.get(f"{V}/limits", headers={"Authorization": f"Bearer {access}"})
        assert ok.status_code == 200
        unknown = await c.post("/services/oauth2/token", data={"grant_type": "magic"})
        assert unknown.json() == {
            "error": "unsupported_grant_type",
            "error_description": "grant type not supported",
        }

    run(scenario)


def test_soap_convert_lead() -> None:
    async def scenario(c: httpx.AsyncClient) -> None:
        auth = {"Authorization": "Bearer emulator-token"}
        lead = (
            await c.post(f"{V}/sobjects/Lead", json={"LastName": "A", "Company": "B"}, headers=auth)
        ).json()["id"]
        envelope = (
            '<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" '
            'xmlns:urn="urn:partner.soap.sforce.com"><soapenv:Header><urn:SessionHeader>'
            "<urn:sessionId>emulator-token</urn:sessionId></urn:SessionHeader></soapenv:Header>"
            "<soapenv:Body><urn:convertLead><urn:leadConverts>"
            "<urn:convertedStatus>Closed - Converted</urn:convertedStatus>"
            f"<urn:leadId>{lead}</urn:leadId><urn:doNotCreateOpportunity>true"
            "</urn:doNotCreateOpportunity></urn:leadConverts></urn:convertLead></soapenv:Body>"
            "</soapenv:Envelope>"
        )
        reply = await c.post(
            "/services/Soap/u/59.0/00D8H0000000001", content=envelope,
            headers={"content-type": "text/xml", "SOAPAction": "convertLead"},
        )  # fmt: skip
        assert reply.status_code == 200
        assert (
            "<success>true</success>" in reply.text and 'opportunityId xsi:nil="true"' in reply.text
        )
        converted = (await c.get(f"{V}/sobjects/Lead/{lead}", headers=auth)).json()
        assert converted["IsConverted"] is True and converted["ConvertedContactId"] in reply.text
        again = await c.post("/services/Soap/u/59.0", content=envelope)
        assert "<statusCode>CANNOT_UPDATE_CONVERTED_LEAD</statusCode>" in again.text

    run(scenario)


def test_yaml_config_adds_custom_objects_fields_and_rules(tmp_path: Path) -> None:
    path = tmp_path / "org.yaml"
    path.write_text(
        """
objects:
  Invoice__c:
    label: Invoice
    fields:
      - {name: Amount__c, type: currency, required: true}
      - {name: Status__c, type: picklist, values: [Draft, Sent], restricted: true}
  Contact:
    fields:
      - {name: Tier__c, type: picklist, values: [Gold, Silver]}
validation_rules:
  - {object: Invoice__c, name: Positive, condition: "Amount__c <= 0",
     message: "Amount must be positive", field: Amount__c}
assignment_rules: []
""",
        encoding="utf-8",
    )
    org = Org(load_config(path))
    assert org.sobject("invoice__c").key_prefix == "a00"
    rid = org.create("Invoice__c", {"Name": "INV-1", "Amount__c": 10, "Status__c": "Draft"})
    assert rid.startswith("a00") and org.get("Invoice__c", rid)["Amount__c"] == 10
    with pytest.raises(Exception, match="Amount must be positive"):
        org.create("Invoice__c", {"Name": "INV-2", "Amount__c": -1})
    assert org.sobject("Contact").field("tier__c").picklist_values == ["Gold", "Silver"]
    assert org.sobject("Lead").find_field("HubSpot_Id__c") is None  # not in this config

    def settings() -> SalesforceEmulatorSettings:
        return SalesforceEmulatorSettings(config_path=path)

    async def scenario(c: httpx.AsyncClient) -> None:
        reply = await c.get(
            f"{V}/sobjects/Invoice__c/describe", headers={"Authorization": "Bearer emulator-token"}
        )
        assert reply.json()["custom"] is True

    run(scenario, settings())
    bad = tmp_path / "bad.yaml"
    bad.write_text("objects:\n  Lead:\n    fields:\n      - {name: NoSuffix, type: string}\n")
    with pytest.raises(ValueError, match="must end with '__c'"):
        Org(load_config(bad))


def test_serve_refuses_an_unknown_edition_without_a_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from hubforce.emulators.salesforce.main import serve

    with pytest.raises(SystemExit) as exc:
        serve(host="127.0.0.1", port=0, tls=False, config=None, static_token="t",
              edition="gold", token_lifetime=60, seed=None)  # fmt: skip
    assert exc.value.code == 2
    assert "Unknown edition 'gold'" in capsys.readouterr().out


def test_jwt_bearer_is_verified_when_a_public_key_is_configured() -> None:
    import jwt
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    from hubforce.emulators.salesforce.config import default_config

    trusted = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public_pem = trusted.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    config = default_config()
    config.credentials.jwt_public_key = public_pem.decode()
    claims = {"iss": CREDS.consumer_key, "sub": CREDS.username,
              "aud": "https://login.salesforce.com", "exp": 4_102_444_800}  # fmt: skip

    def grant(key: rsa.RSAPrivateKey) -> dict[str, str]:
        assertion = jwt.encode(claims, key, algorithm="RS256")
        return {"grant_type": "urn:ietf:params:oauth:grant-type:jwt-bearer", "assertion": assertion}

    async def scenario(c: httpx.AsyncClient) -> None:
        good = await c.post("/services/oauth2/token", data=grant(trusted))
        assert good.status_code == 200 and good.json()["token_type"] == "Bearer"
        bad = await c.post("/services/oauth2/token", data=grant(stranger))
        assert bad.status_code == 400 and bad.json()["error"] == "invalid_grant"

    run(scenario, SalesforceEmulatorSettings(config=config))


def test_soap_login_is_refused_when_the_edition_has_no_api() -> None:
    envelope = (
        '<env:Envelope xmlns:env="http://schemas.xmlsoap.org/soap/envelope/">'
        '<env:Body><n1:login xmlns:n1="urn:partner.soap.sforce.com">'
        f"<n1:username>{CREDS.username}</n1:username>"
        f"<n1:password>{CREDS.password}{CREDS.security_token}</n1:password>"
        "</n1:login></env:Body></env:Envelope>"
    )

    async def scenario(c: httpx.AsyncClient) -> None:
        reply = await c.post("/services/Soap/u/59.0", content=envelope)
        assert reply.status_code == 500
        assert "<sf:exceptionCode>API_DISABLED_FOR_ORG</sf:exceptionCode>" in reply.text

    run(scenario, SalesforceEmulatorSettings(edition="professional"))
