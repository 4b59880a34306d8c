"""The emulated org: schema, records and every rule applied on write. No FastAPI here.

`Org` is the backend of the Salesforce emulator (it implements the shared `EmulatorBackend`).
Records live in `records[sobject][id18]` as full rows (every field of the sObject, None when
blank), soft-deleted rows included (`IsDeleted=True`), in insertion order. See `values.py` for
how values are represented.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from hubforce.emulators.common.clock import EmulatorClock
from hubforce.emulators.common.faults import FaultPlan
from hubforce.emulators.common.limits import DailyAllocation
from hubforce.emulators.common.stats import RequestStats
from hubforce.emulators.salesforce import lifecycle, tracking
from hubforce.emulators.salesforce.config import OrgConfig, default_config
from hubforce.emulators.salesforce.editions import OrgLimits
from hubforce.emulators.salesforce.exceptions import (
    CannotUpdateConvertedLead,
    EntityIsDeleted,
    InvalidType,
    MalformedId,
    MultipleRecordsMatch,
    NotFound,
)
from hubforce.emulators.salesforce.ids import make_id, to18
from hubforce.emulators.salesforce.rules import OrgRules
from hubforce.emulators.salesforce.schema import SObjectSchema, build_schema
from hubforce.emulators.salesforce.soql.compiler import COMPARE_KEYS
from hubforce.emulators.salesforce.soql.index import TableIndexes
from hubforce.emulators.salesforce.soql.lookups import TableLookups
from hubforce.emulators.salesforce.validation import check_unique, clean_values, complete_row
from hubforce.emulators.salesforce.values import wire_datetime

Row = dict[str, Any]
# Sorted for the incremental-sync query shape (range + ORDER BY on the same dateTime field).
RANGE_INDEXED = ("SystemModstamp", "LastModifiedDate", "CreatedDate")


@dataclass
class _Journal:
    """Undo information of one allOrNone transaction."""

    rows: list[tuple[str, str, Row | None]]  # (sobject, id, row before the write or None)
    log: list[tuple[str, str, str]]  # delete-log entries appended by the transaction


class Org:
    """One Salesforce org held in memory."""

    def __init__(
        self,
        config: OrgConfig | None = None,
        *,
        edition: str = "enterprise",
        clock: EmulatorClock | None = None,
        api_version: str = "59.0",
    ) -> None:
        self.config = config or default_config()
        self.clock = clock or EmulatorClock()
        self.stats = RequestStats()
        self.faults = FaultPlan()
        self.api_version = api_version
        self.org_id = make_id("00D", 1)
        self.schema: dict[str, SObjectSchema] = build_schema(self.config)
        self._schema_lower = {name.lower(): obj for name, obj in self.schema.items()}
        self._prefixes = {obj.key_prefix: obj.name for obj in self.schema.values()}
        self.rules = OrgRules(self.config, self.schema)
        self.schema_changed_at = self.clock.now().replace(microsecond=0)
        self._journal: ContextVar[_Journal | None] = ContextVar(f"journal-{id(self)}", default=None)
        self.limits = OrgLimits(self.clock, edition, self.config.licenses)
        self.reset()

    # -- schema -----------------------------------------------------------------------------

    def sobject(self, name: str) -> SObjectSchema:
        """The sObject type `name` (case-insensitive); NotFound for an unknown type."""
        obj = self._schema_lower.get(name.lower())
        if obj is None:
            raise NotFound("The requested resource does not exist")
        return obj

    def sobject_for_query(self, name: str) -> SObjectSchema:
        """Like `sobject`, but an unknown type is INVALID_TYPE (the SOQL/bulk wording)."""
        obj = self._schema_lower.get(name.lower())
        if obj is None:
            raise InvalidType(
                f"sObject type '{name}' is not supported. If you are attempting to use a custom "
                "object, be sure to append the '__c' after the entity name. Please reference your "
                "WSDL or the describe call for the appropriate names."
            )
        return obj

    def sobject_of_id(self, record_id: str) -> SObjectSchema | None:
        """The sObject type an id's key prefix names, if this org has it."""
        name = self._prefixes.get(record_id[:3])
        return self.schema[name] if name else None

    # -- EmulatorBackend --------------------------------------------------------------------

    def reset(self) -> None:
        """Drop all data; keep the schema, the config and issued sessions."""
        self.records: dict[str, dict[str, Row]] = {name: {} for name in self.schema}
        self.deleted_log: list[tuple[str, str, str]] = []  # (sobject, id, deletedDate)
        self._counters: dict[str, int] = {}
        index_fields = self.rules.indexed_fields()
        for obj in self.schema.values():
            for f in obj.fields.values():
                if f.external_id or f.unique:
                    index_fields.setdefault(obj.name, set()).add(f.name)
        self._index: dict[tuple[str, str], dict[str, set[str]]] = {
            (s, f): {} for s, fields in index_fields.items() for f in fields
        }
        self._index_fields = {s: sorted(fs) for s, fs in index_fields.items()}
        self._new_range_indexes()
        self.rules.reset()
        self.api_usage.reset()
        self.created_at = self.clock.now()
        self.integration_user_id = self.insert_row(
            "User",
            {
                "Username": self.config.credentials.username,
                "Email": self.config.credentials.username,
                "FirstName": "Integration",
                "LastName": "User",
                "Alias": "integ",
                "IsActive": True,
                "UserType": "Standard",
            },
        )

    def seed(self, params: dict[str, Any]) -> dict[str, Any]:
        """Deterministic demo data (see seed.py)."""
        from hubforce.emulators.salesforce.seed import seed_org

        result: dict[str, Any] = seed_org(self, params)
        return result

    def export_state(self) -> dict[str, Any]:
        """All records, the delete log and id counters as JSON-ready values."""
        return {
            "records": {s: list(rows.values()) for s, rows in self.records.items()},
            "deleted_log": [list(entry) for entry in self.deleted_log],
            "counters": dict(self._counters),
        }

    def import_state(self, state: dict[str, Any]) -> None:
        """Replace all data with an exported state."""
        self.reset()
        self.records = {name: {} for name in self.schema}
        for key in list(self._index):
            self._index[key] = {}
        for sobject, rows in state["records"].items():
            obj = self.sobject(sobject)
            for row in rows:
                full = {name: row.get(name) for name in obj.fields}
                self.records[obj.name][to18(str(row["Id"]))] = full
                if not full.get("IsDeleted"):
                    self._index_add(obj.name, full)
        self._new_range_indexes()
        self.deleted_log = [(str(a), str(b), str(c)) for a, b, c in state.get("deleted_log", [])]
        self._counters = {str(k): int(v) for k, v in state.get("counters", {}).items()}

    def get_limits(self) -> dict[str, Any]:
        """Edition, API access and today's usage."""
        return self.limits.describe()

    def set_limits(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change `edition`, `api_enabled`, `daily_api_requests` (max) or `used`."""
        return self.limits.change(changes)

    @property
    def edition(self) -> str:
        """The org's edition."""
        return self.limits.edition

    @property
    def api_enabled(self) -> bool:
        """Whether the edition (or a control override) allows API access."""
        return self.limits.api_enabled

    @property
    def api_usage(self) -> DailyAllocation:
        """The daily API request counter."""
        return self.limits.api_usage

    # -- time and ids -----------------------------------------------------------------------

    def now_wire(self) -> str:
        """The emulator clock as a Salesforce datetime string."""
        return wire_datetime(self.clock.now())

    def new_id(self, sobject: str) -> str:
        """The next 18-char id for `sobject`."""
        prefix = self.sobject(sobject).key_prefix
        counter = self._counters.get(prefix, 0) + 1
        self._counters[prefix] = counter
        return make_id(prefix, counter)

    # -- indexes ----------------------------------------------------------------------------

    def _index_add(self, sobject: str, row: Row) -> None:
        for f in self._index_fields.get(sobject, ()):
            value = row.get(f)
            if value is not None and value != "":
                self._index[(sobject, f)].setdefault(str(value).lower(), set()).add(row["Id"])

    def index_row(self, sobject: str, row: Row) -> None:
        """Add a row built outside `create` (bulk seeding) to the lookup indexes."""
        self._index_add(sobject, row)
        ranges = self._range_indexes.get(sobject)
        if ranges is not None:
            ranges.invalidate()  # rebuilt once on the next query, not sorted in row by row
        self._key_lookups[sobject].invalidate()

    def _new_range_indexes(self) -> None:
        self._range_indexes: dict[str, TableIndexes] = {}
        self._key_lookups: dict[str, TableLookups] = {}
        for name, obj in self.schema.items():
            fields = [f for f in RANGE_INDEXED if f in obj.fields]
            if fields:
                self._range_indexes[name] = TableIndexes(self.records[name], fields)
            self._key_lookups[name] = TableLookups(self.records[name], COMPARE_KEYS)

    def _sync_ranges(self, sobject: str, rid: str) -> None:
        ranges = self._range_indexes.get(sobject)
        if ranges is not None:
            ranges.sync(rid)
        lookups = self._key_lookups.get(sobject)
        if lookups is not None:
            lookups.sync(rid)

    def resync(self, sobject: str, rid: str) -> None:
        """Bring the SOQL indexes up to date after a stored row was changed in place."""
        self._sync_ranges(sobject, rid)

    def range_indexes(self, sobject: str) -> TableIndexes | None:
        """Sorted dateTime indexes over `records[sobject]`, for the SOQL evaluator."""
        return self._range_indexes.get(sobject)

    def key_lookups(self, sobject: str) -> TableLookups | None:
        """Hash indexes over `records[sobject]` for `Id IN` / `Email IN` lookups (SOQL)."""
        return self._key_lookups.get(sobject)

    def _index_remove(self, sobject: str, row: Row) -> None:
        for f in self._index_fields.get(sobject, ()):
            value = row.get(f)
            if value is not None and value != "":
                bucket = self._index[(sobject, f)].get(str(value).lower())
                if bucket is not None:
                    bucket.discard(row["Id"])

    def lookup(self, sobject: str, field: str, lowered_value: str) -> set[str]:
        """Ids of live records whose indexed `field` equals the value (case-insensitive)."""
        index = self._index.get((sobject, field))
        if index is None:
            return {
                rid
                for rid, row in self.records[sobject].items()
                if not row["IsDeleted"] and str(row.get(field) or "").lower() == lowered_value
            }
        return set(index.get(lowered_value, ()))

    # -- all-or-none transactions ---------------------------------------------------------------

    def begin(self) -> None:
        """Start recording undo information for the current task (allOrNone writes).

        The journal lives in a context variable, so writes made meanwhile by other requests
        (other asyncio tasks) are neither recorded nor undone.
        """
        self._journal.set(_Journal(rows=[], log=[]))

    def commit(self) -> None:
        """Forget the undo information."""
        self._journal.set(None)

    def rollback(self) -> None:
        """Undo every write since `begin` (ids already issued stay burned, as in Salesforce)."""
        journal = self._journal.get()
        self._journal.set(None)
        if journal is None:
            return
        for sobject, rid, old in reversed(journal.rows):
            current = self.records[sobject].get(rid)
            if current is not None and not current["IsDeleted"]:
                self._index_remove(sobject, current)
            if old is None:
                self.records[sobject].pop(rid, None)
            else:
                self.records[sobject][rid] = old
                if not old["IsDeleted"]:
                    self._index_add(sobject, old)
            self._sync_ranges(sobject, rid)
        for entry in journal.log:
            if entry in self.deleted_log:
                self.deleted_log.remove(entry)

    def _remember(self, sobject: str, rid: str) -> None:
        journal = self._journal.get()
        if journal is not None:
            row = self.records[sobject].get(rid)
            journal.rows.append((sobject, rid, dict(row) if row is not None else None))

    # -- reads ------------------------------------------------------------------------------

    def _live(self, obj: SObjectSchema, record_id: str, *, include_deleted: bool = False) -> Row:
        try:
            rid = to18(record_id)
        except MalformedId as exc:
            raise NotFound(
                f"Provided external ID field does not exist or is not accessible: {record_id}"
            ) from exc
        row = self.records[obj.name].get(rid)
        if row is None:
            raise NotFound("The requested resource does not exist")
        if row["IsDeleted"] and not include_deleted:
            raise EntityIsDeleted("entity is deleted")
        return row

    def get(self, sobject: str, record_id: str, *, include_deleted: bool = False) -> Row:
        """A copy of one record; NotFound / ENTITY_IS_DELETED otherwise."""
        return dict(self._live(self.sobject(sobject), record_id, include_deleted=include_deleted))

    def find_by_external_id(self, sobject: str, field: str, value: str) -> list[str]:
        """Ids of live records whose external-id (or Id) field equals `value`."""
        obj = self.sobject(sobject)
        fs = obj.find_field(field)
        if fs is None or not (fs.external_id or fs.name == "Id"):
            raise NotFound(
                f"Provided external ID field does not exist or is not accessible: {field}"
            )
        if fs.name == "Id":
            try:
                row = self._live(obj, value)
            except (NotFound, EntityIsDeleted):
                return []
            return [row["Id"]]
        return sorted(self.lookup(obj.name, fs.name, value.lower()))

    def active_users(self) -> list[Row]:
        """Active users other than the integration user, in creation order."""
        return [
            u
            for u in self.records["User"].values()
            if u["IsActive"] and not u["IsDeleted"] and u["Id"] != self.integration_user_id
        ]

    # -- writes -----------------------------------------------------------------------------

    def insert_row(self, sobject: str, values: Mapping[str, Any], *, user_id: str = "") -> str:
        """Store a record with system fields and defaults, skipping every rule (seeding)."""
        obj = self.sobject(sobject)
        now = str(values.get("CreatedDate") or self.now_wire())
        rid = self.new_id(obj.name)
        user = user_id or getattr(self, "integration_user_id", "") or rid
        row: Row = dict.fromkeys(obj.fields)
        for f in obj.fields.values():
            if f.type == "boolean":
                row[f.name] = False
            elif f.default_value is not None:
                row[f.name] = f.default_value
        row.update(values)
        row.update(Id=rid, IsDeleted=False, CreatedDate=now, CreatedById=user)
        row.setdefault("LastModifiedDate", now)
        row["LastModifiedDate"] = row["LastModifiedDate"] or now
        row["LastModifiedById"] = user
        row["SystemModstamp"] = row.get("SystemModstamp") or row["LastModifiedDate"]
        if "OwnerId" in obj.fields and row.get("OwnerId") is None:
            row["OwnerId"] = user
        if "Name" in obj.fields and obj.fields["Name"].calculated:
            row["Name"] = " ".join(p for p in (row.get("FirstName"), row.get("LastName")) if p)
        self.records[obj.name][rid] = row
        self._index_add(obj.name, row)
        self._sync_ranges(obj.name, rid)
        return rid

    def create(
        self,
        sobject: str,
        values: Mapping[str, Any],
        *,
        assignment: bool | str = False,
        user_id: str | None = None,
        allow_save: bool = False,
    ) -> str:
        """Validate and insert a record as the API does; return its 18-char id."""
        obj = self.sobject(sobject)
        clean = clean_values(self, obj, values, creating=True)
        user = user_id or self.integration_user_id
        row: Row = dict.fromkeys(obj.fields)
        for f in obj.fields.values():
            if f.type == "boolean":
                row[f.name] = False
            elif f.default_value is not None:
                row[f.name] = f.default_value
        if "OwnerId" in obj.fields:
            row["OwnerId"] = user
        row.update(clean)
        complete_row(obj, row)
        self.rules.check_validation(obj.name, row, None)
        check_unique(self, obj, row, None)
        self.rules.check_duplicates(
            obj.name, row, self.lookup, allow_save=allow_save, version=self.api_version
        )
        if obj.name == "Lead" and "OwnerId" not in clean:
            rule = self.rules.pick_rule(assignment)
            owner = self.rules.assign_owner(rule, row, self.active_users()) if rule else None
            row["OwnerId"] = owner or row["OwnerId"]
        now = self.now_wire()
        rid = self.new_id(obj.name)
        row.update(
            Id=rid,
            IsDeleted=False,
            CreatedDate=now,
            CreatedById=user,
            LastModifiedDate=now,
            LastModifiedById=user,
            SystemModstamp=now,
        )
        self._remember(obj.name, rid)
        self.records[obj.name][rid] = row
        self._index_add(obj.name, row)
        self._sync_ranges(obj.name, rid)
        return rid

    def update(
        self,
        sobject: str,
        record_id: str,
        values: Mapping[str, Any],
        *,
        assignment: bool | str = False,
        user_id: str | None = None,
        allow_save: bool = False,
    ) -> None:
        """Validate and apply a partial update."""
        obj = self.sobject(sobject)
        old = self._live(obj, record_id)
        if obj.name == "Lead" and old["IsConverted"]:
            raise CannotUpdateConvertedLead("cannot reference converted lead", [])
        clean = clean_values(self, obj, values, creating=False)
        row = {**old, **clean}
        complete_row(obj, row)
        self.rules.check_validation(obj.name, row, old)
        check_unique(self, obj, row, old["Id"])
        dup_fields = {f for r in self.rules.duplicate.get(obj.name, ()) for f in r.match_fields}
        if any(old.get(f) != row.get(f) for f in dup_fields):
            self.rules.check_duplicates(
                obj.name, row, self.lookup, allow_save=allow_save, exclude=old["Id"]
            )
        if obj.name == "Lead" and assignment is not False and "OwnerId" not in clean:
            rule = self.rules.pick_rule(assignment)
            owner = self.rules.assign_owner(rule, row, self.active_users()) if rule else None
            row["OwnerId"] = owner or row["OwnerId"]
        self._remember(obj.name, old["Id"])
        self.touch(obj.name, row, user_id)
        self._index_remove(obj.name, old)
        self.records[obj.name][old["Id"]] = row
        self._index_add(obj.name, row)
        self._sync_ranges(obj.name, old["Id"])

    def touch(self, sobject: str, row: Row, user_id: str | None = None) -> None:
        """Stamp a row as modified now by `user_id` (the integration user by default)."""
        now = self.now_wire()
        row["LastModifiedDate"] = now
        row["SystemModstamp"] = now
        row["LastModifiedById"] = user_id or self.integration_user_id
        self._sync_ranges(sobject, row["Id"])  # a stored row touched in place moves in the index

    def upsert(
        self,
        sobject: str,
        ext_field: str,
        ext_value: str,
        values: Mapping[str, Any],
        *,
        assignment: bool | str = False,
        user_id: str | None = None,
        allow_save: bool = False,
    ) -> tuple[str, bool]:
        """Create or update by external id; return (id, created). 300 on several matches."""
        obj = self.sobject(sobject)
        matches = self.find_by_external_id(obj.name, ext_field, ext_value)
        field = obj.field(ext_field).name
        if len(matches) > 1:
            raise MultipleRecordsMatch(obj.name, matches, self.api_version)
        body = {k: v for k, v in values.items() if k.lower() != field.lower()}
        if matches:
            self.update(obj.name, matches[0], body, user_id=user_id, allow_save=allow_save)
            return matches[0], False
        if field != "Id":
            body[field] = ext_value
        rid = self.create(
            obj.name, body, assignment=assignment, user_id=user_id, allow_save=allow_save
        )
        return rid, True

    def delete(self, sobject: str, record_id: str, *, user_id: str | None = None) -> None:
        """Soft-delete a record (and, for an Account, its Contacts and Opportunities)."""
        obj = self.sobject(sobject)
        row = self._live(obj, record_id)
        self.soft_delete(obj.name, row["Id"], user_id=user_id)
        if obj.name == "Account":
            for child in ("Contact", "Opportunity"):
                for child_row in list(self.records[child].values()):
                    if child_row["AccountId"] == row["Id"] and not child_row["IsDeleted"]:
                        self.soft_delete(child, child_row["Id"], user_id=user_id)

    def soft_delete(
        self, sobject: str, rid: str, *, user_id: str | None = None, master: str | None = None
    ) -> None:
        """Mark one row deleted, log it for getDeleted, drop it from the indexes."""
        self._remember(sobject, rid)
        row = self.records[sobject][rid]
        self._index_remove(sobject, row)
        row["IsDeleted"] = True
        row["MasterRecordId"] = master
        self.touch(sobject, row, user_id)
        entry = (sobject, rid, str(row["SystemModstamp"]))
        self.deleted_log.append(entry)
        journal = self._journal.get()
        if journal is not None:
            journal.log.append(entry)

    # -- change tracking, conversion and merge (logic in tracking.py / lifecycle.py) --------

    def get_updated(self, sobject: str, start: str, end: str) -> dict[str, Any]:
        """sObject Get Updated for a window."""
        return tracking.get_updated(self, self.sobject(sobject).name, start, end)

    def get_deleted(self, sobject: str, start: str, end: str) -> dict[str, Any]:
        """sObject Get Deleted for a window."""
        return tracking.get_deleted(self, self.sobject(sobject).name, start, end)

    def convert_lead(self, lead_id: str, **options: Any) -> dict[str, Any]:
        """Convert a Lead (see lifecycle.convert_lead)."""
        return lifecycle.convert_lead(self, lead_id, **options)

    def merge(self, sobject: str, master_id: str, loser_ids: list[str]) -> dict[str, Any]:
        """Merge records into a master (see lifecycle.merge)."""
        return lifecycle.merge(self, sobject, master_id, loser_ids)

    def today(self) -> str:
        """The emulator clock's UTC date as 'YYYY-MM-DD'."""
        return self.clock.now().date().isoformat()

    def moment(self) -> datetime:
        """The emulator clock's current time."""
        return self.clock.now()
