"""Logins (SOAP, OAuth password, client credentials, JWT) and the errors simple-salesforce maps."""

from __future__ import annotations

import ssl
import time

import httpx
import jwt
import pytest
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from simple_salesforce import Salesforce
from simple_salesforce.exceptions import (
    SalesforceAuthenticationFailed,
    SalesforceExpiredSession,
    SalesforceGeneralError,
    SalesforceMalformedRequest,
    SalesforceRefusedRequest,
    SalesforceResourceNotFound,
)

from hubforce.emulators.common.serve import BackgroundServer
from hubforce.emulators.salesforce.config import Credentials
from hubforce.emulators.salesforce.ids import make_id

CREDS = Credentials()


def test_soap_login_then_crud(login_session: requests.Session, sf_server: BackgroundServer) -> None:
    sf = Salesforce(
        username=CREDS.username,
        password=CREDS.password,
        security_token=CREDS.security_token,
        session=login_session,
    )
    assert sf.sf_instance == sf_server.host_port
    assert sf.Account.create({"Name": "Soap Co"})["success"] is True


def test_soap_login_with_a_wrong_password_fails(login_session: requests.Session) -> None:
    with pytest.raises(SalesforceAuthenticationFailed) as exc:
        Salesforce(
            username=CREDS.username,
            password="nope",
            security_token=CREDS.security_token,
            session=login_session,
        )
    assert exc.value.code == "INVALID_LOGIN"


def test_oauth_password_login_relogs_in_after_expiry(
    login_session: requests.Session, sf_control: httpx.Client
) -> None:
    sf = Salesforce(
        username=CREDS.username,
        password=CREDS.password,
        consumer_key=CREDS.consumer_key,
        consumer_secret=CREDS.consumer_secret,
        session=login_session,
    )
    first = sf.session_id
    lead = sf.Lead.create({"LastName": "A", "Company": "B"})["id"]
    sf_control.post("/__emulator__/clock", json={"advance_seconds": 7300})  # past the lifetime
    assert sf.restful(f"sobjects/Lead/{lead}")["Id"] == lead  # 401 -> re-login -> retry
    assert sf.session_id != first


def test_client_credentials_and_jwt_logins(login_session: requests.Session) -> None:
    sf = Salesforce(
        consumer_key=CREDS.consumer_key,
        consumer_secret=CREDS.consumer_secret,
        domain="emulator.my",
        session=login_session,
    )
    assert sf.restful("limits")["DailyApiRequests"]["Max"] > 0
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    sf_jwt = Salesforce(
        username=CREDS.username,
        consumer_key=CREDS.consumer_key,
        privatekey=pem.decode(),
        session=login_session,
    )
    assert sf_jwt.describe()["maxBatchSize"] == 200
    assert (
        jwt.get_unverified_header(jwt.encode({"a": int(time.time())}, key, algorithm="RS256"))[
            "alg"
        ]
        == "RS256"
    )


def test_expired_static_session_raises_expired_session(
    sf: Salesforce, sf_control: httpx.Client
) -> None:
    sf_control.post(
        "/__emulator__/faults",
        json={"rules": [{"route": "/services/data/*", "sequence": ["expired_session"]}]},
    )
    with pytest.raises(SalesforceExpiredSession) as exc:
        sf.Lead.create({"LastName": "A", "Company": "B"})
    assert exc.value.content[0]["errorCode"] == "INVALID_SESSION_ID"


def test_bad_token_is_401_json_array(sf_server: BackgroundServer) -> None:
    assert sf_server.certs is not None
    reply = httpx.get(
        f"{sf_server.url}/services/data/v59.0/sobjects",
        headers={"Authorization": "Bearer wrong"},
        verify=ssl.create_default_context(cafile=str(sf_server.certs.ca_file)),
    )
    assert reply.status_code == 401
    assert reply.json() == [
        {"message": "Session expired or invalid", "errorCode": "INVALID_SESSION_ID"}
    ]


def test_validation_errors_are_400_with_the_real_codes(sf: Salesforce) -> None:
    cases = [
        ({"Company": "Acme"}, "REQUIRED_FIELD_MISSING", ["LastName"]),
        ({"LastName": "x" * 81, "Company": "A"}, "STRING_TOO_LONG", ["LastName"]),
        (
            {"LastName": "A", "Company": "A", "Status": "Nope"},
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            ["Status"],
        ),
        (
            {"LastName": "A", "Company": "A", "Email": "not an email"},
            "INVALID_EMAIL_ADDRESS",
            ["Email"],
        ),
        (
            {"LastName": "A", "Company": "A", "OwnerId": make_id("005", 999)},
            "INVALID_CROSS_REFERENCE_KEY",
            ["OwnerId"],
        ),
        (
            {"LastName": "A", "Company": "A", "Status": "Working - Contacted"},
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            ["Phone"],
        ),
        ({"LastName": "A", "Company": "A", "Bogus__c": 1}, "INVALID_FIELD", []),
    ]
    for body, code, fields in cases:
        with pytest.raises(SalesforceMalformedRequest) as exc:
            sf.Lead.create(body)
        assert exc.value.content[0]["errorCode"] == code, body
        assert exc.value.content[0].get("fields", []) == fields, body


def test_duplicate_rule_blocks_unless_allow_save(sf: Salesforce) -> None:
    sf.Contact.create({"LastName": "A", "Email": "dup@x.example"})
    with pytest.raises(SalesforceMalformedRequest) as exc:
        sf.Contact.create({"LastName": "B", "Email": "DUP@x.example"})
    body = exc.value.content[0]
    assert body["errorCode"] == "DUPLICATES_DETECTED"
    assert body["duplicateResut"]["duplicateRule"] == "Standard_Contact_Duplicate_Rule"
    allowed = sf.Contact.create(
        {"LastName": "B", "Email": "dup@x.example"},
        headers={"Sforce-Duplicate-Rule-Header": "allowSave=true"},
    )
    assert allowed["success"] is True


def test_limit_exceeded_and_api_disabled_are_403(sf: Salesforce, sf_control: httpx.Client) -> None:
    sf_control.put("/__emulator__/limits", json={"daily_api_requests": 5, "used": 5})
    with pytest.raises(SalesforceRefusedRequest) as exc:
        sf.describe()
    assert exc.value.content[0]["errorCode"] == "REQUEST_LIMIT_EXCEEDED"
    sf_control.put("/__emulator__/limits", json={"edition": "professional"})
    with pytest.raises(SalesforceRefusedRequest) as exc:
        sf.describe()
    assert exc.value.content[0]["errorCode"] == "API_DISABLED_FOR_ORG"


def test_unknown_object_and_version_are_404_and_faults_render(
    sf: Salesforce, sf_control: httpx.Client
) -> None:
    with pytest.raises(SalesforceResourceNotFound):
        sf.Nope__c.describe()
    sf_control.post(
        "/__emulator__/faults",
        json={"rules": [{"route": "/services/data/*", "sequence": ["unable_to_lock_row", "503"]}]},
    )
    with pytest.raises(SalesforceMalformedRequest) as locked:
        sf.Account.create({"Name": "A"})
    assert locked.value.content[0]["errorCode"] == "UNABLE_TO_LOCK_ROW"
    with pytest.raises(SalesforceGeneralError) as unavailable:
        sf.Account.create({"Name": "A"})
    assert unavailable.value.status == 503
