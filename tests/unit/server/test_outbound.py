"""Salesforce Outbound Messages: parsing, the Ack envelope, refusals."""

from __future__ import annotations

import asyncio
import re
import xml.etree.ElementTree as ET

import httpx
import pytest

from hubforce.server.events import MalformedPayload
from hubforce.server.outbound import OUTBOUND_NS, SOAP_NS, parse_outbound, to_event
from hubforce.sync.model import Side
from tests.unit.server.test_app import ORG, Server

MESSAGE = f"""<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="{SOAP_NS}" xmlns:xsd="http://www.w3.org/2001/XMLSchema"
 xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance">
 <soapenv:Body>
  <notifications xmlns="{OUTBOUND_NS}">
   <OrganizationId>{ORG}</OrganizationId>
   <ActionId>04k000000000001AAA</ActionId>
   <SessionId xsi:nil="true"/>
   <EnterpriseUrl>https://example.my.salesforce.com/services/Soap/c/59.0/00D</EnterpriseUrl>
   <PartnerUrl>https://example.my.salesforce.com/services/Soap/u/59.0/00D</PartnerUrl>
   <Notification>
    <Id>04l000000000001AAA</Id>
    <sObject xsi:type="sf:Lead" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>00Q000000000001AAA</sf:Id>
     <sf:Email>jane@example.com</sf:Email>
    </sObject>
   </Notification>
   <Notification>
    <Id>04l000000000002AAA</Id>
    <sObject xsi:type="sf:Contact" xmlns:sf="urn:sobject.enterprise.soap.sforce.com">
     <sf:Id>003000000000001AAA</sf:Id>
    </sObject>
   </Notification>
  </notifications>
 </soapenv:Body>
</soapenv:Envelope>"""


def test_parse_reads_org_types_ids_and_fields() -> None:
    message = parse_outbound(MESSAGE.encode())
    assert message.organization_id == ORG
    assert [(n.sobject, n.record_id) for n in message.notifications] == [
        ("Lead", "00Q000000000001AAA"),
        ("Contact", "003000000000001AAA"),
    ]
    assert message.notifications[0].fields["Email"] == "jane@example.com"


@pytest.mark.parametrize(
    "body",
    [
        b"not xml",
        b"<a/>",
        b'<!DOCTYPE x [<!ENTITY a "b">]><x>&a;</x>',
        MESSAGE.replace("<sf:Id>00Q000000000001AAA</sf:Id>", "").encode(),
    ],
)
def test_parse_refuses_what_is_not_an_outbound_message(body: bytes) -> None:
    with pytest.raises(MalformedPayload):
        parse_outbound(body)


def _ack_of(response: httpx.Response) -> str:
    root = ET.fromstring(response.content)
    ack = root.find(
        f"{{{SOAP_NS}}}Body/{{{OUTBOUND_NS}}}notificationsResponse/{{{OUTBOUND_NS}}}Ack"
    )
    assert ack is not None
    return ack.text or ""


def test_route_acknowledges_and_queues_a_targeted_sync() -> None:
    async def go() -> tuple[list[tuple[int, str]], Server]:
        server = Server()
        out = []
        for body in (MESSAGE, MESSAGE.replace(ORG, "00D000000000002AAA"), "<x/>"):
            response = await server.client.post(
                "/salesforce/outbound", content=body.encode(), headers={"Content-Type": "text/xml"}
            )
            assert response.headers["content-type"].startswith("text/xml")
            out.append((response.status_code, _ack_of(response)))
        await server.dispatcher.drain()
        return out, server

    results, server = asyncio.run(go())
    assert results == [(200, "true"), (401, "false"), (400, "false")]
    # Only Lead belongs to a configured pair in the test server; Contact is ignored for sync.
    assert server.target.calls == [("contacts", Side.SALESFORCE, ["00Q000000000001AAA"])]


def test_redelivered_notification_is_the_same_change() -> None:
    stamped = MESSAGE.replace(
        "<sf:Email>jane@example.com</sf:Email>",
        "<sf:Email>jane@example.com</sf:Email>"
        "<sf:CreatedDate>2026-11-28T10:00:00.000Z</sf:CreatedDate>"
        "<sf:SystemModstamp>2026-11-28T10:00:00.000+0000</sf:SystemModstamp>",
    )
    first = to_event(parse_outbound(stamped.encode()).notifications[0])
    again = to_event(parse_outbound(stamped.encode()).notifications[0])
    assert first.dedupe_key == again.dedupe_key
    assert (first.kind, first.occurred_at) == ("created", 1_795_860_000_000)
    edited = stamped.replace(
        "<sf:SystemModstamp>2026-11-28T10:00:00", "<sf:SystemModstamp>2026-11-28T11:00:00"
    )
    assert to_event(parse_outbound(edited.encode()).notifications[0]).kind == "updated"

    # Only the stamped Lead: an unstamped notification is timed on arrival (not deduplicated).
    lead_only = re.sub(
        r"<Notification>\s*<Id>04l000000000002AAA.*?</Notification>", "", stamped, flags=re.S
    )
    assert "003000000000001AAA" not in lead_only

    async def go() -> Server:
        server = Server()
        for _ in range(2):
            response = await server.client.post("/salesforce/outbound", content=lead_only.encode())
            assert response.status_code == 200
        await server.dispatcher.drain()
        return server

    server = asyncio.run(go())
    assert server.dispatcher.deduper.duplicates == 1
    assert server.target.calls == [("contacts", Side.SALESFORCE, ["00Q000000000001AAA"])]
