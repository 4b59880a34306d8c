"""The portal: the in-memory HubSpot backend and all its rules. Never imports FastAPI.

`Portal` implements the shared `EmulatorBackend` protocol (reset, seed, state, limits) and the
CRM operations the handlers call. Every creation, property change, archive, merge and association
change is announced on `portal.events` as a `PortalEvent` (the webhooks module listens).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import replace
from typing import Any

from hubforce.emulators.common.clock import EmulatorClock
from hubforce.emulators.common.faults import FaultPlan
from hubforce.emulators.common.limits import DailyAllocation, RollingWindow
from hubforce.emulators.common.stats import RequestStats
from hubforce.emulators.hubspot import associations as assoc
from hubforce.emulators.hubspot.auth import TokenStore
from hubforce.emulators.hubspot.catalogue import default_catalogue
from hubforce.emulators.hubspot.events import EventBus, PortalEvent
from hubforce.emulators.hubspot.exceptions import (
    BadRequest,
    Conflict,
    ObjectNotFound,
    PropertyValidationError,
)
from hubforce.emulators.hubspot.properties import (
    MODIFIED_PROPERTY,
    OBJECT_TYPES,
    SINGULAR,
    TYPE_IDS,
    PropertyDef,
    failure,
    iso_ms,
    normalize_value,
)
from hubforce.emulators.hubspot.settings import TIERS, HubSpotEmulatorSettings
from hubforce.emulators.hubspot.store import HistoryEntry, ObjectStore, Record

OAUTH_BURST = 110
SYSTEM_PROPERTIES = {"createdate", "hs_object_id", "lastmodifieddate", "hs_lastmodifieddate"}
DEFAULT_PIPELINE_STAGES = (
    ("appointmentscheduled", "Appointment Scheduled", "0.2"),
    ("qualifiedtobuy", "Qualified To Buy", "0.4"),
    ("presentationscheduled", "Presentation Scheduled", "0.6"),
    ("decisionmakerboughtin", "Decision Maker Bought-In", "0.8"),
    ("contractsent", "Contract Sent", "0.9"),
    ("closedwon", "Closed Won", "1.0"),
    ("closedlost", "Closed Lost", "0.0"),
)


class Portal:
    """One HubSpot portal (account) held in memory."""

    def __init__(self, settings: HubSpotEmulatorSettings | None = None) -> None:
        self.settings = settings or HubSpotEmulatorSettings()
        self.portal_id: int = self.settings.portal_id
        self.clock = EmulatorClock()
        self.stats = RequestStats()
        self.faults = FaultPlan()
        self.events = EventBus()
        self.tokens = TokenStore(self.clock, self.settings)
        self.burst_seconds = self.settings.burst_window_seconds
        self._configure_limits(self.settings.tier)
        self.index_lag_ms = self.settings.index_lag_ms
        self.limits_enabled = True
        self.reset()

    # -- EmulatorBackend -------------------------------------------------------------------

    def _configure_limits(self, tier_name: str) -> None:
        tier = TIERS[tier_name]
        self.tier = tier_name
        self.burst = RollingWindow(self.clock, tier.burst, self.burst_seconds)
        # Public OAuth apps: 110 per ten seconds per installing account, no daily limit.
        self.oauth_burst = RollingWindow(self.clock, OAUTH_BURST, self.burst_seconds)
        self.daily = DailyAllocation(self.clock, tier.daily)
        self.search_window = RollingWindow(self.clock, self.settings.search_per_second, 1.0)

    def reset(self) -> None:
        """Drop all data; keep settings, clock and subscribers."""
        self.catalogue: dict[str, dict[str, PropertyDef]] = default_catalogue()
        self.stores = {
            t: ObjectStore(t, {"email"} if t == "contacts" else set()) for t in OBJECT_TYPES
        }
        self.associations = assoc.AssociationStore()
        self.owners: dict[int, dict[str, Any]] = {}
        self.pipelines: dict[str, dict[str, Any]] = {"default": self._default_pipeline()}
        self.gdpr_blocklist: set[str] = set()
        self.next_id = 1001
        self.burst.reset()
        self.oauth_burst.reset()
        self.daily.reset()
        self.search_window.reset()
        self.tokens.clear()

    def seed(self, params: dict[str, Any]) -> dict[str, Any]:
        """Seed from the shared world (and optional synthetic bulk contacts)."""
        from hubforce.emulators.hubspot.seed import seed_portal

        return seed_portal(self, params)

    def export_state(self) -> dict[str, Any]:
        """All data as JSON-ready values."""
        from hubforce.emulators.hubspot.state import export_portal

        return export_portal(self)

    def import_state(self, state: dict[str, Any]) -> None:
        """Replace all data with an exported state."""
        from hubforce.emulators.hubspot.state import import_portal

        import_portal(self, state)

    def get_limits(self) -> dict[str, Any]:
        """Limit settings and current usage."""
        return {
            "enabled": self.limits_enabled,
            "tier": self.tier,
            "burst": self.burst.limit,
            "burst_remaining": self.burst.remaining(),
            "burst_window_seconds": self.burst_seconds,
            "oauth_burst": self.oauth_burst.limit,
            "daily": self.daily.limit,
            "daily_remaining": self.daily.remaining(),
            "daily_used": self.daily.used_today(),
            "search_per_second": self.search_window.limit,
            "search_remaining": self.search_window.remaining(),
            "index_lag_ms": self.index_lag_ms,
            "token_lifetime": self.tokens.lifetime,
        }

    def set_limits(self, changes: dict[str, Any]) -> dict[str, Any]:
        """Change tier, limits, index lag or token lifetime.

        `burst_window_seconds` shortens the ten-second window (fast tests of real windows);
        `daily_used` sets today's count (0: as after the midnight reset).
        """
        known = {"enabled", "tier", "burst", "oauth_burst", "daily", "search_per_second"}
        known |= {"index_lag_ms", "burst_window_seconds", "daily_used"}
        unknown = set(changes) - known - {"token_lifetime"}
        if unknown:
            raise ValueError(f"unknown limit settings: {sorted(unknown)}; known: {sorted(known)}")
        if "burst_window_seconds" in changes:
            seconds = float(changes["burst_window_seconds"])
            if not 0 < seconds <= 86_400:
                raise ValueError("burst_window_seconds must be > 0 and at most a day")
            self.burst_seconds = self.burst.seconds = self.oauth_burst.seconds = seconds
        if "tier" in changes:
            if changes["tier"] not in TIERS:
                raise ValueError(f"tier must be one of {sorted(TIERS)}")
            self._configure_limits(str(changes["tier"]))
        if "enabled" in changes:
            self.limits_enabled = bool(changes["enabled"])
        if "burst" in changes:
            self.burst.limit = int(changes["burst"])
        if "oauth_burst" in changes:
            self.oauth_burst.limit = int(changes["oauth_burst"])
        if "daily" in changes:
            self.daily.limit = int(changes["daily"])
        if "daily_used" in changes:
            self.daily.set_used(int(changes["daily_used"]))
        if "search_per_second" in changes:
            self.search_window.limit = int(changes["search_per_second"])
        if "index_lag_ms" in changes:
            self.index_lag_ms = max(0, int(changes["index_lag_ms"]))
        if "token_lifetime" in changes:
            self.tokens.lifetime = max(1, int(changes["token_lifetime"]))
        return self.get_limits()

    # -- lookups ---------------------------------------------------------------------------

    def object_type(self, name: str) -> str:
        """'contacts' for 'contacts', 'contact' or '0-1'; 400 for anything else."""
        if name in OBJECT_TYPES:
            return name
        if name in TYPE_IDS:
            return TYPE_IDS[name]
        plural = {v: k for k, v in SINGULAR.items()}.get(name)
        if plural:
            return plural
        raise BadRequest(f"Unable to infer object type from: {name}")

    def store(self, object_type: str) -> ObjectStore:
        """The record store of an object type (name or type id)."""
        return self.stores[self.object_type(object_type)]

    def _default_pipeline(self) -> dict[str, Any]:
        created = "2019-08-06T02:41:08.029Z"
        return {
            "id": "default",
            "label": "Sales Pipeline",
            "displayOrder": 0,
            "archived": False,
            "createdAt": created,
            "updatedAt": created,
            "stages": [
                {
                    "id": sid,
                    "label": label,
                    "displayOrder": i,
                    "archived": False,
                    "metadata": {
                        "isClosed": str(sid.startswith("closed")).lower(),
                        "probability": p,
                    },
                    "createdAt": created,
                    "updatedAt": created,
                    "writePermissions": "CRM_PERMISSIONS_ENFORCEMENT",
                }
                for i, (sid, label, p) in enumerate(DEFAULT_PIPELINE_STAGES)
            ],
        }

    def deal_stages(self) -> set[str]:
        """Every stage id of every deal pipeline."""
        return {s["id"] for p in self.pipelines.values() for s in p["stages"]}

    def get_object(
        self,
        object_type: str,
        object_id: str,
        *,
        id_property: str | None = None,
        archived: bool = False,
    ) -> Record:
        """One record by id (following merges) or by a unique property; 404 if absent."""
        object_type = self.object_type(object_type)
        store = self.stores[object_type]
        record: Record | None = None
        if id_property and id_property != "hs_object_id":
            prop = self.catalogue[object_type].get(id_property)
            if prop is None or id_property not in store.unique:
                raise BadRequest(f"{id_property} is not a unique property of {object_type}")
            record = store.find_unique(id_property, object_id)
        elif object_id.isdigit():
            record = store.resolve(int(object_id))
        if record is None or record.archived != archived:
            raise ObjectNotFound(f"resource not found: {SINGULAR[object_type]} {object_id}")
        return record

    def iter_live(self, object_type: str) -> Iterator[Record]:
        """Live (not archived) records in id order."""
        return (r for r in self.store(object_type).records.values() if not r.archived)

    # -- writes ----------------------------------------------------------------------------

    def validate_properties(
        self, object_type: str, properties: dict[str, Any], *, allow_read_only: bool = False
    ) -> dict[str, str]:
        """Normalized values; raises 400 VALIDATION_ERROR naming every bad property."""
        if not isinstance(properties, dict):
            raise BadRequest("properties must be an object of property names to string values")
        catalogue = self.catalogue[object_type]
        stages = None
        if object_type == "deals":
            pipeline = self.pipelines.get(str(properties.get("pipeline") or "default"))
            if pipeline is not None:
                stages = (pipeline["id"], [s["id"] for s in pipeline["stages"]])
        clean: dict[str, str] = {}
        failures: list[dict[str, Any]] = []
        for name, value in properties.items():
            prop = catalogue.get(name)
            if prop is None:
                failures.append(
                    failure(name, "PROPERTY_DOESNT_EXIST", f'Property "{name}" does not exist')
                )
                continue
            if prop.read_only_value and not allow_read_only:
                failures.append(
                    failure(name, "READ_ONLY_VALUE", f'Property "{name}" is a read only property')
                )
                continue
            result = normalize_value(prop, value, stages=stages)
            unknown_pipeline = name == "pipeline" and result and result not in self.pipelines
            if object_type == "deals" and unknown_pipeline:
                valid = ", ".join(self.pipelines)
                result = failure(
                    name, "INVALID_OPTION", f"{result} is not a valid pipeline ID: [{valid}]"
                )
            owner_id = result if name == "hubspot_owner_id" and isinstance(result, str) else ""
            if owner_id and (not owner_id.isdigit() or int(owner_id) not in self.owners):
                result = failure(name, "INVALID_OPTION", f"{owner_id} is not a valid owner id")
            if isinstance(result, dict):
                failures.append(result)
            else:
                clean[name] = result
        if failures:
            raise PropertyValidationError(failures, self.portal_id)
        return clean

    def check_unique(self, object_type: str, values: dict[str, str], record_id: int | None) -> None:
        store = self.stores[object_type]
        for name in store.unique:
            value = values.get(name)
            if not value:
                continue
            holder = store.find_unique(name, value)
            if holder is not None and holder.id != record_id and not holder.archived:
                if name == "email":
                    raise Conflict(f"Contact already exists. Existing ID: {holder.id}")
                raise Conflict(
                    f"{SINGULAR[object_type].title()} with {name} {value} already exists. "
                    f"Existing ID: {holder.id}"
                )

    def _write(
        self, object_type: str, record: Record, values: dict[str, str], source: str, now: int
    ) -> list[str]:
        """Apply values with history; return the names whose value changed."""
        changed = []
        for name, value in values.items():
            if record.properties.get(name, "") == value:
                continue
            if value == "":
                record.properties.pop(name, None)
            else:
                record.properties[name] = value
            record.history.setdefault(name, []).insert(
                0,
                HistoryEntry(value, now, source, "hubforce-emulator" if source == "API" else None),
            )
            changed.append(name)
        return changed

    def _touch(self, object_type: str, record: Record, now: int) -> None:
        record.updated_ms = now
        stamp = iso_ms(now)
        modified = MODIFIED_PROPERTY[object_type]
        record.properties[modified] = stamp
        record.history.setdefault(modified, []).insert(0, HistoryEntry(stamp, now, "CALCULATED"))

    def _emit_changes(
        self, object_type: str, record: Record, names: Iterable[str], source: str, now: int
    ) -> None:
        kind = SINGULAR[object_type]
        for name in names:
            if name in SYSTEM_PROPERTIES:
                continue
            self.events.emit(
                PortalEvent(
                    f"{kind}.propertyChange",
                    record.id,
                    now,
                    change_source=source,
                    property_name=name,
                    property_value=record.properties.get(name, ""),
                )
            )

    def create_object(
        self,
        object_type: str,
        properties: dict[str, Any],
        *,
        change_source: str = "API",
        associations: Iterable[tuple[str, int, int]] = (),
    ) -> Record:
        """Create a record (201); associations are (to type, to id, type id)."""
        object_type = self.object_type(object_type)
        values = self.validate_properties(object_type, properties)
        self.check_unique(object_type, values, None)
        links = list(associations)
        for to_type, to_id, type_id in links:
            self._check_association(object_type, to_type, to_id, type_id)
        now = self.clock.now_ms()
        record = Record(id=self.next_id, properties={}, created_ms=now, updated_ms=now)
        self.next_id += 1
        system = {"createdate": iso_ms(now), "hs_object_id": str(record.id)}
        self._write(object_type, record, system, "CALCULATED", now)
        changed = self._write(object_type, record, values, change_source, now)
        self._touch(object_type, record, now)
        store = self.stores[object_type]
        store.records[record.id] = record
        store.index(record)
        self._defer_index(store, None, record.id, now)
        kind = SINGULAR[object_type]
        self.events.emit(PortalEvent(f"{kind}.creation", record.id, now, change_source))
        self._emit_changes(object_type, record, changed, change_source, now)
        for to_type, to_id, type_id in links:
            self.associate(object_type, record.id, to_type, to_id, type_id)
        return record

    def update_object(
        self,
        object_type: str,
        object_id: str,
        properties: dict[str, Any],
        *,
        change_source: str = "API",
        id_property: str | None = None,
        allow_read_only: bool = False,
    ) -> Record:
        """Set properties on an existing record; '' clears. Unchanged values are no-ops.

        `allow_read_only` lets the portal's own calculations (form conversion counters) write
        read-only properties; API handlers never pass it.
        """
        object_type = self.object_type(object_type)
        record = self.get_object(object_type, object_id, id_property=id_property)
        values = self.validate_properties(object_type, properties, allow_read_only=allow_read_only)
        self.check_unique(object_type, values, record.id)
        now = self.clock.now_ms()
        old = dict(record.properties)
        before = replace(record, properties=old) if self.index_lag_ms else None
        changed = self._write(object_type, record, values, change_source, now)
        if changed and before is not None:
            self._defer_index(self.stores[object_type], before, record.id, now)
        if changed:
            self._touch(object_type, record, now)
        self.stores[object_type].index(record, old)
        self._emit_changes(object_type, record, changed, change_source, now)
        return record

    def _defer_index(
        self, store: ObjectStore, before: Record | None, record_id: int, now: int
    ) -> None:
        """With an index lag, search keeps seeing `before` for `index_lag_ms`."""
        if self.index_lag_ms:
            store.defer_index(before, record_id, now + self.index_lag_ms)

    def upsert_contact_by_email(
        self, properties: dict[str, str], *, change_source: str
    ) -> tuple[str, bool]:
        """Create or update the contact keyed on `properties['email']`: (id, created)."""
        email = str(properties.get("email", "")).strip().lower()
        holder = self.stores["contacts"].find_unique("email", email) if email else None
        if holder is not None and not holder.archived:
            self.update_object("contacts", str(holder.id), properties, change_source=change_source)
            return str(holder.id), False
        record = self.create_object("contacts", properties, change_source=change_source)
        return str(record.id), True

    def archive_object(
        self, object_type: str, object_id: str, *, change_source: str = "API"
    ) -> None:
        """Archive (soft delete) a record; archiving an absent one is a no-op like HubSpot's."""
        object_type = self.object_type(object_type)
        try:
            record = self.get_object(object_type, object_id)
        except ObjectNotFound:
            return
        now = self.clock.now_ms()
        store = self.stores[object_type]
        for name, table in store.unique.items():
            value = record.properties.get(name)
            if value and table.get(value.lower()) == record.id:
                del table[value.lower()]
        if self.index_lag_ms:
            self._defer_index(
                store, replace(record, properties=dict(record.properties)), record.id, now
            )
        record.archived = True
        record.archived_ms = now
        store.index(record)
        self.events.emit(
            PortalEvent(f"{SINGULAR[object_type]}.deletion", record.id, now, change_source)
        )

    def gdpr_delete(self, object_id: str, id_property: str | None = None) -> None:
        """Permanently delete a contact; an unknown email is added to the blocklist."""
        try:
            record = self.get_object("contacts", object_id, id_property=id_property)
        except ObjectNotFound:
            if id_property == "email":
                self.gdpr_blocklist.add(object_id.lower())
                return
            raise
        now = self.clock.now_ms()
        email = record.properties.get("email")
        if email:
            self.gdpr_blocklist.add(email)
        self.associations.remove_record("contacts", record.id)
        self.stores["contacts"].drop(record)
        self.events.emit(PortalEvent("contact.privacyDeletion", record.id, now, "GDPR"))
        self.events.emit(PortalEvent("contact.deletion", record.id, now, "GDPR"))

    # -- merges and associations live in their own mixin-free helpers ---------------------

    def merge_objects(self, object_type: str, primary_id: str, merge_id: str) -> Record:
        """Merge two records; see `merges.merge_records`."""
        from hubforce.emulators.hubspot.merges import merge_records

        return merge_records(self, self.object_type(object_type), primary_id, merge_id)

    def _check_association(self, from_type: str, to_type: str, to_id: int, type_id: int) -> None:
        info = assoc.TYPE_INFO.get(type_id)
        if info is None or info[:2] != (from_type, to_type):
            raise BadRequest(
                f"{type_id} is not a valid association type id from {from_type} to {to_type}"
            )
        self.get_object(to_type, str(to_id))

    def associate(
        self, from_type: str, from_id: int, to_type: str, to_id: int, type_id: int | None = None
    ) -> list[int]:
        """Add an association (the default unlabeled one when `type_id` is None)."""
        plain, _ = assoc.TYPE_IDS[(from_type, to_type)]
        wanted = [plain] if type_id is None or type_id == plain else [type_id, plain]
        self._check_association(from_type, to_type, to_id, wanted[0])
        now = self.clock.now_ms()
        for tid in wanted:
            if self.associations.add(from_type, from_id, to_type, to_id, tid):
                self._emit_association(from_type, from_id, to_type, to_id, tid, now, False)
        return sorted(self.associations.targets(from_type, from_id, to_type).get(to_id, set()))

    def dissociate(self, from_type: str, from_id: int, to_type: str, to_id: int) -> None:
        """Remove every association between two records."""
        types = set(self.associations.targets(from_type, from_id, to_type).get(to_id, set()))
        if self.associations.remove_pair(from_type, from_id, to_type, to_id):
            now = self.clock.now_ms()
            for tid in sorted(types):
                self._emit_association(from_type, from_id, to_type, to_id, tid, now, True)

    def _emit_association(
        self, f: str, fid: int, t: str, tid: int, type_id: int, now: int, removed: bool
    ) -> None:
        self.events.emit(
            PortalEvent(
                f"{SINGULAR[f]}.associationChange",
                fid,
                now,
                association_type=assoc.webhook_type_name(f, t),
                from_object_id=fid,
                to_object_id=tid,
                association_removed=removed,
                extra={"isPrimaryAssociation": assoc.TYPE_INFO[type_id][3]},
            )
        )
