"""The default property catalogue of contacts, companies and deals (names, types, options)."""

from __future__ import annotations

from typing import Any

from hubforce.emulators.hubspot.properties import PropertyDef


def _opts(*values: str) -> list[dict[str, Any]]:
    return [
        {"label": v.replace("_", " ").title(), "value": v, "displayOrder": i, "hidden": False}
        for i, v in enumerate(values)
    ]


LIFECYCLE = _opts(
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
INDUSTRY = _opts(
    "ACCOUNTING",
    "COMPUTER_SOFTWARE",
    "CONSTRUCTION",
    "EDUCATION_MANAGEMENT",
    "FINANCIAL_SERVICES",
    "HOSPITAL_HEALTH_CARE",
    "MACHINERY",
    "MANAGEMENT_CONSULTING",
    "OIL_ENERGY",
    "RETAIL",
)


def _system(name: str, label: str, type_: str = "datetime", group: str = "") -> PropertyDef:
    field_type = {"datetime": "date", "number": "number"}.get(type_, "text")
    return PropertyDef(name, label, type_, field_type, group, read_only_value=True)


def _common(group: str, modified: str) -> list[PropertyDef]:
    return [
        _system("createdate", "Create Date", group=group),
        _system(modified, "Last Modified Date", group=group),
        _system("hs_object_id", "Record ID", "number", group),
        _system("hs_merged_object_ids", "Merged record IDs", "enumeration", group),
        PropertyDef(
            "hubspot_owner_id",
            "Owner",
            "enumeration",
            "select",
            group,
            external_options=True,
            referenced_object_type="OWNER",
        ),
    ]


def _text(name: str, label: str, group: str, field_type: str = "text") -> PropertyDef:
    return PropertyDef(name, label, "string", field_type, group)


def default_catalogue() -> dict[str, dict[str, PropertyDef]]:
    """A fresh copy of the default properties of contacts, companies and deals."""
    g = "contactinformation"
    contacts = [
        *_common(g, "lastmodifieddate"),
        *(
            _text(n, lbl, g)
            for n, lbl in (
                ("email", "Email"),
                ("firstname", "First Name"),
                ("lastname", "Last Name"),
                ("company", "Company Name"),
                ("jobtitle", "Job Title"),
                ("website", "Website URL"),
                ("address", "Street Address"),
                ("city", "City"),
                ("state", "State/Region"),
                ("zip", "Postal Code"),
                ("country", "Country/Region"),
                ("hs_additional_emails", "Additional email addresses"),
                ("recent_conversion_event_name", "Recent Conversion"),
                ("first_conversion_event_name", "First Conversion"),
            )
        ),
        PropertyDef("phone", "Phone Number", "string", "phonenumber", g),
        PropertyDef("mobilephone", "Mobile Phone Number", "string", "phonenumber", g),
        PropertyDef("fax", "Fax Number", "string", "phonenumber", g),
        PropertyDef("message", "Message", "string", "textarea", g),
        PropertyDef("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", g, "", LIFECYCLE),
        PropertyDef(
            "hs_lead_status",
            "Lead Status",
            "enumeration",
            "radio",
            g,
            "",
            _opts("NEW", "OPEN", "IN_PROGRESS", "OPEN_DEAL", "UNQUALIFIED", "CONNECTED"),
        ),
        PropertyDef("date_of_birth", "Date of birth", "date", "date", g),
        PropertyDef("annualrevenue", "Annual Revenue", "number", "number", g),
        PropertyDef("hs_email_optout", "Unsubscribed from all email", "bool", "booleancheckbox", g),
        PropertyDef("recent_conversion_date", "Recent Conversion Date", "datetime", "date", g),
        PropertyDef("first_conversion_date", "First Conversion Date", "datetime", "date", g),
        _system("num_conversion_events", "Number of Form Submissions", "number", g),
        _system("num_unique_conversion_events", "Number of Unique Forms Submitted", "number", g),
        _system("hs_calculated_merged_vids", "Merged Contact IDs", "enumeration", g),
    ]
    cg = "companyinformation"
    companies = [
        *_common(cg, "hs_lastmodifieddate"),
        *(
            _text(n, lbl, cg)
            for n, lbl in (
                ("name", "Company name"),
                ("domain", "Company Domain Name"),
                ("website", "Website URL"),
                ("address", "Street Address"),
                ("city", "City"),
                ("state", "State/Region"),
                ("zip", "Postal Code"),
                ("country", "Country/Region"),
            )
        ),
        PropertyDef("phone", "Phone Number", "string", "phonenumber", cg),
        PropertyDef("description", "Description", "string", "textarea", cg),
        PropertyDef("industry", "Industry", "enumeration", "select", cg, "", INDUSTRY),
        PropertyDef("numberofemployees", "Number of Employees", "number", "number", cg),
        PropertyDef("annualrevenue", "Annual Revenue", "number", "number", cg),
        PropertyDef("lifecyclestage", "Lifecycle Stage", "enumeration", "radio", cg, "", LIFECYCLE),
        PropertyDef(
            "type",
            "Type",
            "enumeration",
            "select",
            cg,
            "",
            _opts("PROSPECT", "PARTNER", "RESELLER", "VENDOR", "OTHER"),
        ),
    ]
    dg = "dealinformation"
    deals = [
        *_common(dg, "hs_lastmodifieddate"),
        _text("dealname", "Deal Name", dg),
        _text("description", "Deal Description", dg, "textarea"),
        PropertyDef("amount", "Amount", "number", "number", dg),
        PropertyDef("closedate", "Close Date", "datetime", "date", dg),
        PropertyDef("pipeline", "Pipeline", "enumeration", "select", dg, external_options=True),
        PropertyDef("dealstage", "Deal Stage", "enumeration", "radio", dg, external_options=True),
        PropertyDef(
            "dealtype",
            "Deal Type",
            "enumeration",
            "radio",
            dg,
            "",
            [
                {
                    "label": "New Business",
                    "value": "newbusiness",
                    "displayOrder": 0,
                    "hidden": False,
                },
                {
                    "label": "Existing Business",
                    "value": "existingbusiness",
                    "displayOrder": 1,
                    "hidden": False,
                },
            ],
        ),
    ]
    return {
        "contacts": {p.name: p for p in contacts},
        "companies": {p.name: p for p in companies},
        "deals": {p.name: p for p in deals},
    }
