"""Wire <-> canonical conversions per field: transforms, picklists, owners, typed failures."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings

from hubforce.config.defaults import DEFAULT_CONFIG_YAML
from hubforce.config.load import parse_config
from hubforce.errors import Category
from hubforce.sync.mapping import DictLookup, PairMapping, compile_pair, fit, to_change, to_wire
from hubforce.sync.model import Side
from tests.unit.sync.sim import SF_TYPE, SIM_MAPPING, records

HS, SF = Side.HUBSPOT, Side.SALESFORCE
ENV = {"HUBSPOT_TOKEN": "t", "SALESFORCE_CLIENT_SECRET": "s", "SALESFORCE_REFRESH_TOKEN": "r"}


def default_pairs() -> dict[str, PairMapping]:
    config = parse_config(DEFAULT_CONFIG_YAML, env=ENV)
    return {name: compile_pair(name, pair) for name, pair in config.objects.items()}


PAIRS = default_pairs()
LOOKUP = DictLookup()
LOOKUP.add("owners", "41629779", "005000000000001AAA")
LOOKUP.add("companies", "9001", "001000000000001AAA")


def test_hubspot_and_salesforce_forms_of_one_contact_are_equal() -> None:
    contacts = PAIRS["contacts"]
    hubspot, hs_failures = to_change(
        contacts,
        HS,
        "contacts",
        "1",
        {
            "email": "Ann@Acme.example",
            "firstname": "Ann ",
            "hs_lead_status": "IN_PROGRESS",
            "hubspot_owner_id": "41629779",
            "hs_email_optout": "",
            "city": "Delft",
            "assoc:companies": "9001",
        },
        1000,
        lookup=LOOKUP,
    )
    salesforce, sf_failures = to_change(
        contacts,
        SF,
        "Lead",
        "00Q1",
        {
            "Email": "ann@acme.example",
            "FirstName": "Ann",
            "Status": "Working - Contacted",
            "OwnerId": "005000000000001AAA",
            "HasOptedOutOfEmail": False,
            "City": "Delft",
        },
        1000,
        lookup=LOOKUP,
    )
    assert hs_failures == sf_failures == []
    shared = set(hubspot.values) & set(salesforce.values)
    assert shared == {"email", "firstname", "hs_lead_status", "hubspot_owner_id"} | {
        "hs_email_optout",
        "city",
    }
    assert all(hubspot.values[k] == salesforce.values[k] for k in shared)
    assert "assoc:companies" not in salesforce.values  # a Lead has no AccountId


def test_contact_uses_its_own_address_fields_and_account_lookup() -> None:
    change, failures = to_change(
        PAIRS["contacts"],
        SF,
        "Contact",
        "003",
        {"MailingCity": "Delft", "City": "ignored", "AccountId": "001000000000001AAA"},
        1,
        lookup=LOOKUP,
    )
    assert failures == []
    assert change.values == {"city": "Delft", "assoc:companies": "9001"}
    wire, failures, _ = to_wire(PAIRS["contacts"], SF, "Contact", change.values, lookup=LOOKUP)
    assert wire == {"MailingCity": "Delft", "AccountId": "001000000000001AAA"}


def test_unknown_picklist_value_is_a_picklist_failure_not_an_exception() -> None:
    change, failures = to_change(
        PAIRS["companies"], SF, "Account", "001", {"Industry": "Space", "Name": "X"}, 1
    )
    assert change.values == {"name": "X"}
    (failure,) = failures
    assert failure.category is Category.PICKLIST
    assert failure.fields == ("Industry",)
    assert "Space" in failure.message


def test_unconvertible_value_is_a_type_mismatch_failure() -> None:
    change, failures = to_change(
        PAIRS["companies"], HS, "companies", "1", {"numberofemployees": "lots", "name": "X"}, 1
    )
    assert change.values == {"name": "X"}
    assert [f.category for f in failures] == [Category.TYPE_MISMATCH]


def test_unlinked_owner_is_an_association_failure_both_ways() -> None:
    _, failures = to_change(
        PAIRS["deals"], SF, "Opportunity", "006", {"OwnerId": "005999"}, 1, lookup=LOOKUP
    )
    assert [f.category for f in failures] == [Category.ASSOCIATION]
    _, failures, _ = to_wire(
        PAIRS["deals"], SF, "Opportunity", {"hubspot_owner_id": "7"}, lookup=LOOKUP
    )
    assert [f.category for f in failures] == [Category.ASSOCIATION]


def test_deal_close_date_and_stage_convert_both_ways() -> None:
    deals = PAIRS["deals"]
    hubspot, _ = to_change(
        deals,
        HS,
        "deals",
        "1",
        {"closedate": "2025-03-01T00:00:00.000Z", "dealstage": "closedwon", "amount": "1500.00"},
        1,
    )
    salesforce, _ = to_change(
        deals,
        SF,
        "Opportunity",
        "006",
        {"CloseDate": "2025-03-01", "StageName": "Closed Won", "Amount": 1500.0},
        1,
    )
    assert hubspot.values == salesforce.values
    assert hubspot.values["amount"] == Decimal(1500)
    wire, failures, _ = to_wire(deals, SF, "Opportunity", hubspot.values)
    assert failures == []
    assert wire == {"CloseDate": "2025-03-01", "StageName": "Closed Won", "Amount": 1500}
    wire, _, _ = to_wire(deals, HS, "deals", salesforce.values, create=True)
    assert wire == {
        "closedate": "2025-03-01T00:00:00.000Z",
        "dealstage": "closedwon",
        "amount": "1500",
        "pipeline": "default",
    }


def test_many_to_one_picklist_reads_back_as_the_first_hubspot_value() -> None:
    contacts = PAIRS["contacts"]
    wire, _, _ = to_wire(contacts, SF, "Lead", {"hs_lead_status": "OPEN"})
    assert wire == {"Status": "Open - Not Contacted"}
    back, _ = to_change(contacts, SF, "Lead", "00Q", wire, 1)
    assert back.values == {"hs_lead_status": "NEW"}


def test_create_adds_defaults_and_external_id() -> None:
    config = parse_config(
        DEFAULT_CONFIG_YAML.replace("# external_id: HubSpot_Id__c", "external_id: HubSpot_Id__c"),
        env=ENV,
    )
    contacts = compile_pair("contacts", config.objects["contacts"])
    wire, _, _ = to_wire(
        contacts, SF, "Lead", {"email": "a@b.example"}, create=True, hubspot_id="51"
    )
    assert wire == {"Email": "a@b.example", "HubSpot_Id__c": "51"}


def test_text_cut_to_salesforce_length_is_noted() -> None:
    wire, failures, notes = to_wire(PAIRS["contacts"], SF, "Lead", {"city": "x" * 60})
    assert wire == {"City": "x" * 40}
    assert failures == []
    assert [n.field for n in notes] == ["city"]
    hubspot_wire, _, notes = to_wire(PAIRS["contacts"], HS, "contacts", {"city": "x" * 60})
    assert hubspot_wire == {"city": "x" * 60}
    assert notes == []


def test_hubspot_wire_values_are_strings_and_blank_clears() -> None:
    wire, _, _ = to_wire(
        PAIRS["contacts"],
        HS,
        "contacts",
        {"hs_email_optout": True, "annualrevenue": Decimal("12.50"), "phone": None},
    )
    assert wire == {"hs_email_optout": "true", "annualrevenue": "12.5", "phone": ""}


def test_fraction_to_percent_scales_by_a_hundred() -> None:
    from hubforce.config.model import ObjectPairConfig

    pair = compile_pair(
        "deals",
        ObjectPairConfig.model_validate(
            {
                "hubspot": "deals",
                "salesforce": ["Opportunity"],
                "fields": [
                    {
                        "hubspot": "hs_p",
                        "salesforce": "Probability",
                        "transform": "fraction_to_percent",
                    }
                ],
            }
        ),
    )
    hubspot, _ = to_change(pair, HS, "deals", "1", {"hs_p": "0.25"}, 1)
    salesforce, _ = to_change(pair, SF, "Opportunity", "6", {"Probability": 25}, 1)
    assert hubspot.values == salesforce.values == {"hs_p": Decimal(25)}
    wire, _, _ = to_wire(pair, HS, "deals", hubspot.values)
    assert wire == {"hs_p": "0.25"}


def test_per_field_timestamps_follow_the_field_key() -> None:
    change, _ = to_change(
        PAIRS["contacts"],
        SF,
        "Lead",
        "00Q",
        {"Title": "CEO"},
        5000,
        field_modified_at={"Title": 4000},
    )
    assert change.modified_at_of("jobtitle") == 4000
    assert change.modified_at_of("email") == 5000


# --- round trips through each side's wire ---------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(records())
def test_canonical_values_round_trip_through_both_wires(values: dict[str, object]) -> None:
    """Written to a side and read back, a value equals the image `fit` predicted for it."""
    synced = {k: val for k, val in values.items() if k != "skip"}
    for side, object_type in ((HS, "contacts"), (SF, SF_TYPE)):
        wire, failures, _ = to_wire(SIM_MAPPING, side, object_type, synced)  # type: ignore[arg-type]
        assert failures == []
        if side is HS:
            assert all(isinstance(item, str) for item in wire.values())
        back, failures = to_change(SIM_MAPPING, side, object_type, "1", wire, 1)
        assert failures == []
        for key, value in synced.items():
            spec = SIM_MAPPING.spec(key)
            assert back.values[key] == fit(spec, side, object_type, value)[0], (side, key)  # type: ignore[arg-type]
