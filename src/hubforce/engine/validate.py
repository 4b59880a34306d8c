"""`hubforce validate`: every mapping checked against both live schemas before any write.

HubSpot's properties API and Salesforce's describe are read once per object type. Problems
found: unknown fields, incompatible types, read-only targets the rule writes to, required
Salesforce fields that are neither mapped nor defaulted on a type hubforce creates, and
picklist values the target refuses. Each problem says how to fix it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from hubforce.config.model import ValueKind
from hubforce.engine.context import SyncContext
from hubforce.sync.fields import FieldSpec, PairMapping
from hubforce.sync.model import Rule, Side

#: Rules that write to each side.
WRITES_TO = {
    Side.HUBSPOT: {Rule.TWO_WAY, Rule.ALWAYS_SALESFORCE, Rule.PREFER_SALESFORCE_UNLESS_BLANK},
    Side.SALESFORCE: {Rule.TWO_WAY, Rule.ALWAYS_HUBSPOT, Rule.PREFER_HUBSPOT_UNLESS_BLANK},
}
#: Which vendor types each canonical kind may sit on.
HUBSPOT_TYPES = {
    ValueKind.STRING: {"string", "phone_number", "enumeration"},
    ValueKind.EMAIL: {"string"},
    ValueKind.NUMBER: {"number"},
    ValueKind.BOOLEAN: {"bool", "enumeration"},
    ValueKind.DATE: {"date", "datetime"},
    ValueKind.DATETIME: {"datetime", "date"},
    ValueKind.ENUMERATION: {"enumeration", "string"},
    ValueKind.MULTI_ENUMERATION: {"enumeration"},
    ValueKind.OWNER: {"enumeration", "string", "number"},
    ValueKind.REFERENCE: {"string", "number"},
}
SALESFORCE_TYPES = {
    ValueKind.STRING: {
        "string",
        "textarea",
        "phone",
        "url",
        "email",
        "picklist",
        "combobox",
        "address",
    },
    ValueKind.EMAIL: {"email", "string"},
    ValueKind.NUMBER: {"double", "currency", "percent", "int", "long"},
    ValueKind.BOOLEAN: {"boolean"},
    ValueKind.DATE: {"date", "datetime"},
    ValueKind.DATETIME: {"datetime", "date"},
    ValueKind.ENUMERATION: {"picklist", "string", "combobox"},
    ValueKind.MULTI_ENUMERATION: {"multipicklist"},
    ValueKind.OWNER: {"reference"},
    ValueKind.REFERENCE: {"reference"},
}


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a mapping, and what to do about it."""

    pair: str
    side: Side
    object_type: str
    field: str
    message: str
    fix: str
    severity: str = "error"  # "warning": works, but some records may fail


async def validate_mappings(ctx: SyncContext) -> list[Problem]:
    """Check every enabled pair's mapping against the live schemas of both sides."""
    problems: list[Problem] = []
    for mapping in ctx.mappings.values():
        if mapping.name == "owners":
            continue
        props = await ctx.hubspot.properties(mapping.hubspot_type)
        problems += check_hubspot(mapping, {p["name"]: p for p in props})
        for sobject in mapping.salesforce_types:
            describe = await ctx.salesforce.describe(sobject)
            fields = {f["name"]: f for f in describe.get("fields", [])}
            problems += check_salesforce(mapping, sobject, fields)
    return problems


def check_hubspot(mapping: PairMapping, props: dict[str, dict[str, Any]]) -> list[Problem]:
    """Problems of `mapping` against HubSpot property definitions."""
    out: list[Problem] = []
    kind = mapping.hubspot_type

    def problem(spec: FieldSpec, message: str, fix: str) -> None:
        out.append(Problem(mapping.name, Side.HUBSPOT, kind, spec.hubspot, message, fix))

    for spec in mapping.fields:
        if spec.association or spec.rule is Rule.DONT_SYNC:
            continue
        prop = props.get(spec.hubspot)
        if prop is None:
            problem(
                spec,
                f"HubSpot has no {kind} property {spec.hubspot!r}",
                "create the property in HubSpot or fix the name in the mapping",
            )
            continue
        if prop.get("type") not in HUBSPOT_TYPES[spec.kind]:
            problem(
                spec,
                f"property type {prop.get('type')!r} cannot hold a {spec.kind} value",
                f"set `type:` on the mapping to match, or map a {spec.kind} property",
            )
        read_only = (prop.get("modificationMetadata") or {}).get("readOnlyValue")
        if read_only and spec.rule in WRITES_TO[Side.HUBSPOT]:
            problem(
                spec,
                f"property {spec.hubspot!r} is read-only but rule {spec.rule} writes to it",
                "use rule always_hubspot (HubSpot -> Salesforce only) or dont_sync",
            )
        options = {o.get("value") for o in prop.get("options") or ()}
        if options and spec.kind is ValueKind.ENUMERATION and not prop.get("externalOptions"):
            refused = sorted(set(spec.to_hubspot_values.values()) - options)
            refused += sorted(set(spec.to_salesforce_values) - options - set(refused))
            if refused:
                problem(
                    spec,
                    f"HubSpot refuses option value(s) {', '.join(map(repr, refused))}",
                    f"use option values of {spec.hubspot!r} (not labels): {sorted(options)}",
                )
    return out


def check_salesforce(
    mapping: PairMapping, sobject: str, fields: dict[str, dict[str, Any]]
) -> list[Problem]:
    """Problems of `mapping` against one Salesforce describe."""
    out: list[Problem] = []
    mapped: set[str] = set()

    def problem(name: str, message: str, fix: str, severity: str = "error") -> None:
        out.append(Problem(mapping.name, Side.SALESFORCE, sobject, name, message, fix, severity))

    for spec in mapping.fields_for(sobject):
        name = spec.salesforce_for(sobject)
        mapped.add(name)
        field = fields.get(name)
        if field is None:
            problem(
                name,
                f"{sobject} has no field {name!r}",
                "create the field in Salesforce, fix the name, or limit it with `objects:`",
            )
            continue
        if field.get("type") not in SALESFORCE_TYPES[spec.kind]:
            problem(
                name,
                f"field type {field.get('type')!r} cannot hold a {spec.kind} value",
                f"set `type:` on the mapping to match, or map a {spec.kind} field",
            )
        if spec.rule in WRITES_TO[Side.SALESFORCE] and not (
            field.get("createable") or field.get("updateable")
        ):
            problem(
                name,
                f"{sobject}.{name} is read-only but rule {spec.rule} writes to it",
                "use rule always_salesforce or dont_sync, or grant the integration user edit "
                "access to the field",
            )
        allowed = {p.get("value") for p in field.get("picklistValues") or () if p.get("active")}
        if allowed and field.get("restrictedPicklist"):
            refused = sorted(set(spec.to_salesforce_values.values()) - allowed)
            if refused:
                problem(
                    name,
                    f"restricted picklist refuses {', '.join(map(repr, refused))}",
                    f"map to one of {sorted(allowed)} or add the values in Salesforce",
                )
    if mapping.create_as == sobject:
        defaults = set(mapping.extra_defaults.get(sobject, {}))
        defaulted = {
            spec.salesforce_for(sobject) for spec in mapping.fields if sobject in spec.defaults
        }
        for name, field in fields.items():
            required = (
                field.get("createable")
                and not field.get("nillable", True)
                and not field.get("defaultedOnCreate")
                and field.get("type") != "boolean"
            )
            if required and name not in defaults and name not in defaulted and name not in mapped:
                problem(
                    name,
                    f"{sobject}.{name} is required on create but neither mapped nor defaulted",
                    f"map a property to it or add `defaults: {{{sobject}: {{{name}: ...}}}}`",
                )
            elif required and name in mapped and name not in defaults | defaulted:
                problem(
                    name,
                    f"{sobject}.{name} is required on create; records without it will fail",
                    f"add `defaults: {{{sobject}: {{{name}: ...}}}}` for records that lack it",
                    "warning",
                )
    return out
