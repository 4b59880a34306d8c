"""A small schema and record store for SOQL unit tests, independent of the org model."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from hubforce.emulators.salesforce.soql import CompiledQuery, Row, compile_query

NOW = datetime(2024, 3, 15, 12, 0, tzinfo=UTC)  # a Friday


@dataclass
class FakeField:
    name: str
    type: str
    reference_to: Sequence[str] = ()
    relationship_name: str | None = None


@dataclass
class FakeObject:
    name: str
    fields: list[FakeField] = field(default_factory=list)

    def find_field(self, name: str) -> FakeField | None:
        return next((f for f in self.fields if f.name.lower() == name.lower()), None)

    def relationship(self, name: str) -> FakeField | None:
        return next(
            (f for f in self.fields if (f.relationship_name or "").lower() == name.lower()), None
        )


LEAD = FakeObject(
    "Lead",
    [
        FakeField("Id", "id"),
        FakeField("IsDeleted", "boolean"),
        FakeField("Name", "string"),
        FakeField("Email", "email"),
        FakeField("Status", "picklist"),
        FakeField("Score", "int"),
        FakeField("Revenue", "currency"),
        FakeField("Active", "boolean"),
        FakeField("Born", "date"),
        FakeField("SystemModstamp", "datetime"),
        FakeField("OwnerId", "reference", ("User", "Group"), "Owner"),
        FakeField("ManagerId", "reference", ("User",), "Manager"),
    ],
)
USER = FakeObject(
    "User",
    [
        FakeField("Id", "id"),
        FakeField("Email", "email"),
        FakeField("Name", "string"),
        FakeField("ManagerId", "reference", ("User",), "Manager"),
    ],
)
GROUP = FakeObject("Group", [FakeField("Id", "id"), FakeField("Name", "string")])
SCHEMA = {o.name.lower(): o for o in (LEAD, USER, GROUP)}


class FakeOrg:
    """Records by sObject and id, with the lookups compile_query needs."""

    def __init__(self) -> None:
        self.records: dict[str, dict[str, dict[str, Any]]] = {"Lead": {}, "User": {}, "Group": {}}

    def add(self, sobject: str, **values: Any) -> dict[str, Any]:
        self.records[sobject][values["Id"]] = values
        return values

    def fetch(self, sobject: str, record_id: str) -> Row | None:
        return self.records[sobject].get(record_id)

    def compile(self, text: str) -> CompiledQuery:
        return compile_query(text, lambda name: SCHEMA.get(name.lower()), self.fetch, NOW)

    def query(self, text: str, *, include_deleted: bool = False) -> list[Row]:
        compiled = self.compile(text)
        return compiled.run(
            self.records[compiled.sobject].values(), include_deleted=include_deleted
        )

    def ids(self, text: str, *, include_deleted: bool = False) -> list[str]:
        return [r["Id"] for r in self.query(text, include_deleted=include_deleted)]
