"""`POST /salesforce/outbound`: Salesforce Outbound Messages as instant change triggers.

Salesforce POSTs a SOAP envelope whose `notifications` element holds the org id, the action
id and up to 100 `Notification`s, each with a notification id and an `sObject` (its type in
`xsi:type="sf:Lead"`, its fields as `sf:` children). It treats anything but the
`notificationsResponse` envelope with `<Ack>true</Ack>` as a failure and redelivers (for up to
24 hours), so the answer is the ack as soon as the ids are queued. Notifications from another
org than the configured one are refused (Ack false, HTTP 401) and logged; DTDs are refused
outright (no entity expansion).
"""

from __future__ import annotations

import logging
import time
import xml.etree.ElementTree as ET
from dataclasses import dataclass

from fastapi import APIRouter, Request, Response

from hubforce.server.dispatch import Dispatcher
from hubforce.server.events import ChangeEvent, MalformedPayload, iso_ms
from hubforce.sync.model import Side

logger = logging.getLogger(__name__)

SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
OUTBOUND_NS = "http://soap.sforce.com/2005/09/outbound"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
MAX_BODY = 2_000_000

ACK_TEMPLATE = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    f'<soapenv:Envelope xmlns:soapenv="{SOAP_NS}">'
    "<soapenv:Body>"
    f'<notificationsResponse xmlns="{OUTBOUND_NS}"><Ack>{{ack}}</Ack></notificationsResponse>'
    "</soapenv:Body></soapenv:Envelope>"
)


@dataclass(frozen=True, slots=True)
class OutboundNotification:
    """One notification: its id, the record's sObject type, id and sent field values."""

    notification_id: str
    sobject: str
    record_id: str
    fields: dict[str, str]


@dataclass(frozen=True, slots=True)
class OutboundMessage:
    """A whole outbound message."""

    organization_id: str
    action_id: str
    notifications: list[OutboundNotification]


def ack(value: bool = True) -> str:
    """The SOAP answer Salesforce expects."""
    return ACK_TEMPLATE.format(ack="true" if value else "false")


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child_text(parent: ET.Element, name: str) -> str:
    for child in parent:
        if _local(child.tag) == name:
            return (child.text or "").strip()
    return ""


def parse_outbound(body: bytes) -> OutboundMessage:
    """Parse an Outbound Message envelope; MalformedPayload when it is not one."""
    if b"<!DOCTYPE" in body.upper() or b"<!ENTITY" in body.upper():
        raise MalformedPayload("DTDs are not accepted")
    try:
        root = ET.fromstring(body)
    except ET.ParseError as exc:
        raise MalformedPayload(f"not XML: {exc}") from None
    found = root.find(f"{{{SOAP_NS}}}Body/{{{OUTBOUND_NS}}}notifications")
    if root.tag != f"{{{SOAP_NS}}}Envelope" or found is None:
        raise MalformedPayload("not a SOAP envelope with outbound notifications")
    notifications: list[OutboundNotification] = []
    for item in found.findall(f"{{{OUTBOUND_NS}}}Notification"):
        sobject = item.find(f"{{{OUTBOUND_NS}}}sObject")
        if sobject is None:
            raise MalformedPayload("notification without an sObject")
        kind = sobject.get(f"{{{XSI_NS}}}type", "")
        fields = {_local(child.tag): (child.text or "") for child in sobject}
        record_id = fields.get("Id", "")
        if not kind or not record_id:
            raise MalformedPayload("sObject without a type or an Id")
        notifications.append(
            OutboundNotification(
                _child_text(item, "Id"), kind.rsplit(":", 1)[-1], record_id, fields
            )
        )
    return OutboundMessage(
        _child_text(found, "OrganizationId"), _child_text(found, "ActionId"), notifications
    )


def to_event(notification: OutboundNotification) -> ChangeEvent:
    """The change a notification reports. Its time is the record's SystemModstamp (or
    LastModifiedDate) when the message sends it, so a redelivery is the same change; add one of
    them to the outbound message's fields. Created when CreatedDate equals that time."""
    fields = notification.fields
    stamp = iso_ms(fields.get("SystemModstamp")) or iso_ms(fields.get("LastModifiedDate"))
    created = iso_ms(fields.get("CreatedDate"))
    occurred = stamp if stamp is not None else int(time.time() * 1000)
    return ChangeEvent(
        side=Side.SALESFORCE,
        object_type=notification.sobject,
        object_id=notification.record_id,
        kind="created" if created is not None and created == stamp else "updated",
        occurred_at=occurred,
        event_id=notification.notification_id or f"{notification.record_id}:{occurred}",
    )


def _soap(status: int, ok: bool) -> Response:
    return Response(ack(ok), status_code=status, media_type="text/xml; charset=utf-8")


def build_outbound_router(dispatcher: Dispatcher, organization_id: str | None) -> APIRouter:
    """The outbound-message route; `organization_id` (15 or 18 chars) limits the sender."""
    router = APIRouter()

    @router.post("/salesforce/outbound")
    async def outbound(request: Request) -> Response:
        body = await request.body()
        if len(body) > MAX_BODY:
            return _soap(400, False)
        try:
            message = parse_outbound(body)
        except MalformedPayload as exc:
            logger.warning("refused malformed outbound message: %s", exc)
            return _soap(400, False)
        if organization_id and message.organization_id[:15] != organization_id[:15]:
            logger.warning("refused outbound message from another org")
            return _soap(401, False)
        dispatcher.submit(to_event(n) for n in message.notifications)
        return _soap(200, True)

    return router
