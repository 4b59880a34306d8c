"""The org's configured rules: validation rules, duplicate rules and Lead assignment rules."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from hubforce.emulators.salesforce.config import OrgConfig
from hubforce.emulators.salesforce.exceptions import DuplicatesDetected, FieldCustomValidation
from hubforce.emulators.salesforce.formula import Condition
from hubforce.emulators.salesforce.ids import make_id, to18
from hubforce.emulators.salesforce.schema import SObjectSchema

Row = dict[str, Any]
# (sobject, field) -> lower-cased value -> ids of live records holding it
Lookup = Callable[[str, str, str], set[str]]


@dataclass
class ValidationRule:
    """A compiled validation rule."""

    sobject: str
    name: str
    condition: Condition
    message: str
    field: str | None


@dataclass
class DuplicateRule:
    """A compiled duplicate rule."""

    sobject: str
    name: str
    match_fields: list[str]
    match_objects: list[str]
    allow: bool
    message: str


@dataclass
class AssignmentRule:
    """A compiled Lead assignment rule."""

    id: str
    name: str
    active: bool
    entries: list[tuple[dict[str, set[str]], list[str] | None]]  # criteria, usernames/emails


class OrgRules:
    """All rules of an org, compiled against its schema."""

    def __init__(self, config: OrgConfig, schema: dict[str, SObjectSchema]) -> None:
        def obj(name: str) -> SObjectSchema:
            for key, value in schema.items():
                if key.lower() == name.lower():
                    return value
            raise ValueError(f"rule names unknown sObject {name!r}")

        self.validation: dict[str, list[ValidationRule]] = {}
        for spec in config.validation_rules:
            if not spec.active:
                continue
            o = obj(spec.object)
            cond = Condition(spec.condition, lambda n, o=o: o.field(n).name)  # type: ignore[misc]
            field = o.field(spec.field).name if spec.field else None
            rule = ValidationRule(o.name, spec.name, cond, spec.message, field)
            self.validation.setdefault(o.name, []).append(rule)
        self.duplicate: dict[str, list[DuplicateRule]] = {}
        for d in config.duplicate_rules:
            if not d.active:
                continue
            o = obj(d.object)
            targets = [obj(m) for m in (d.match_objects or [d.object])]
            fields = [o.field(f).name for f in d.match_fields]
            for t in targets:
                for f in fields:
                    t.field(f)
            self.duplicate.setdefault(o.name, []).append(
                DuplicateRule(
                    o.name,
                    d.name,
                    fields,
                    [t.name for t in targets],
                    d.action == "allow",
                    d.message,
                )
            )
        self.assignment: list[AssignmentRule] = []
        lead = obj("Lead")
        for i, a in enumerate(config.assignment_rules):
            entries: list[tuple[dict[str, set[str]], list[str] | None]] = []
            for e in a.entries:
                crit = {lead.field(k).name: {v.lower() for v in vs} for k, vs in e.criteria.items()}
                entries.append((crit, None if e.users == "all" else [u.lower() for u in e.users]))
            self.assignment.append(AssignmentRule(make_id("01Q", i + 1), a.name, a.active, entries))
        self._round_robin: dict[tuple[str, int], int] = {}

    def indexed_fields(self) -> dict[str, set[str]]:
        """Fields that duplicate rules look up, per sObject."""
        out: dict[str, set[str]] = {}
        for rules in self.duplicate.values():
            for r in rules:
                for target in r.match_objects:
                    out.setdefault(target, set()).update(r.match_fields)
        return out

    def reset(self) -> None:
        """Restart round-robin positions."""
        self._round_robin.clear()

    def check_validation(self, sobject: str, row: Row, old: Row | None) -> None:
        """Raise FIELD_CUSTOM_VALIDATION_EXCEPTION for the first violated rule."""
        for rule in self.validation.get(sobject, ()):
            if rule.condition.evaluate(row, old):
                raise FieldCustomValidation(rule.message, [rule.field] if rule.field else [])

    def check_duplicates(
        self,
        sobject: str,
        row: Row,
        lookup: Lookup,
        *,
        allow_save: bool,
        exclude: str | None = None,
        version: str = "59.0",
    ) -> None:
        """Raise DUPLICATES_DETECTED when an active rule finds matching records."""
        for rule in self.duplicate.get(sobject, ()):
            values = [row.get(f) for f in rule.match_fields]
            if any(v is None or v == "" for v in values):
                continue
            matches: list[tuple[str, str]] = []
            for target in rule.match_objects:
                ids: set[str] | None = None
                for f, v in zip(rule.match_fields, values, strict=True):
                    found = lookup(target, f, str(v).lower())
                    ids = found if ids is None else ids & found
                matches += [(target, i) for i in sorted(ids or ()) if i != exclude]
            if matches and not (rule.allow and allow_save):
                raise DuplicatesDetected(
                    rule.message,
                    rule=rule.name,
                    sobject=sobject,
                    allow_save=rule.allow,
                    matches=matches,
                    version=version,
                )

    def pick_rule(self, assignment: bool | str) -> AssignmentRule | None:
        """The rule a Sforce-Auto-Assign value selects (TRUE: the active one, or by id)."""
        if assignment is False:
            return None
        if assignment is True:
            return next((r for r in self.assignment if r.active), None)
        wanted = to18(assignment)
        return next((r for r in self.assignment if r.id == wanted), None)

    def assign_owner(
        self, rule: AssignmentRule, row: Row, active_users: Iterable[Row]
    ) -> str | None:
        """The OwnerId the rule's first matching entry picks, round robin; None if none."""
        users = list(active_users)
        for index, (criteria, names) in enumerate(rule.entries):
            if any(str(row.get(f) or "").lower() not in vs for f, vs in criteria.items()):
                continue
            pool = [
                u
                for u in users
                if names is None
                or str(u.get("Username", "")).lower() in names
                or str(u.get("Email", "")).lower() in names
            ]
            if not pool:
                continue
            key = (rule.id, index)
            position = self._round_robin.get(key, 0)
            self._round_robin[key] = position + 1
            return str(pool[position % len(pool)]["Id"])
        return None
