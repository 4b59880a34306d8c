"""Cursors and the fields a cycle reads."""

from __future__ import annotations

from hubforce.config import DEFAULT_CONFIG_YAML
from hubforce.config.load import parse_config
from hubforce.engine.reading import Cursor, match_field, read_fields
from hubforce.engine.runner import compile_mappings
from hubforce.sync.model import Side

ENV = {
    "HUBSPOT_TOKEN": "t",
    "SALESFORCE_CLIENT_SECRET": "s",
    "SALESFORCE_REFRESH_TOKEN": "r",
}


def _mappings():  # type: ignore[no-untyped-def]
    return compile_mappings(parse_config(DEFAULT_CONFIG_YAML, env=ENV))


def test_cursor_round_trips_through_its_stored_text() -> None:
    cursor = Cursor({"Lead": (1_700_000_000_000, "00Q1"), "Contact": (5, "")}, {"Lead": 9})
    again = Cursor.loads(cursor.dumps())
    assert again == cursor
    assert again.since("Lead", 5000) == 1_700_000_000_000 - 5000
    assert again.since("Account", 5000) is None
    assert again.since("Contact", 5000) == 0  # never negative


def test_unreadable_cursor_starts_from_the_beginning() -> None:
    for text in (None, "", "not json", '{"changed": {"Lead": [1]}}', "[]"):
        assert Cursor.loads(text) == Cursor()


def test_reads_mapped_fields_match_keys_and_identity_fields_per_type() -> None:
    contacts = _mappings()["contacts"]
    lead = read_fields(contacts, Side.SALESFORCE, "Lead")
    contact = read_fields(contacts, Side.SALESFORCE, "Contact")
    assert {"Email", "Company", "Street", "IsConverted", "ConvertedContactId"} <= set(lead)
    assert "Company" not in contact and "MailingStreet" in contact and "AccountId" in contact
    assert "AccountId" not in lead  # the association is mapped on Contact only
    hubspot = read_fields(contacts, Side.HUBSPOT, "contacts")
    assert {"email", "company", "hs_merged_object_ids"} <= set(hubspot)
    assert not any(name.startswith("assoc:") for name in hubspot)
    assert len(lead) == len(set(lead))


def test_match_fields_follow_the_pair() -> None:
    mappings = _mappings()
    companies, deals = mappings["companies"], mappings["deals"]
    assert match_field(companies, "domain", Side.SALESFORCE) == "Website"
    assert match_field(companies, "name", Side.HUBSPOT) == "name"
    assert match_field(deals, "name", Side.HUBSPOT) == "dealname"
    assert match_field(deals, "external_id", Side.SALESFORCE) is None  # not configured
