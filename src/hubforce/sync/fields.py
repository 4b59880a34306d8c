"""Field mappings compiled from the configuration: flat `FieldSpec`s per object pair.

`compile_pair` turns one `ObjectPairConfig` into a `PairMapping`, the form the converters
(`hubforce.sync.mapping`) and the planner read at full speed. Canonical vocabularies: picklist
values, owner ids and associated record ids are canonical in HubSpot's terms.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from hubforce.config.model import (
    DefaultValue,
    InclusionFilter,
    ObjectPairConfig,
    Transform,
    ValueKind,
)
from hubforce.sync import values as v
from hubforce.sync.model import (
    CanonicalValue,
    DeletePolicy,
    Rule,
)

ASSOCIATION_PREFIX = "assoc:"


class IdLookup(Protocol):
    """Translates linked ids between sides (owners, associated companies) for one pair."""

    def to_salesforce(self, pair: str, hubspot_id: str) -> str | None:
        """The Salesforce id linked to `hubspot_id` in `pair`, if any."""
        ...

    def to_hubspot(self, pair: str, salesforce_id: str) -> str | None:
        """The HubSpot id linked to `salesforce_id` in `pair`, if any."""
        ...


@dataclass(slots=True)
class DictLookup:
    """An `IdLookup` over in-memory dicts: pair -> {hubspot_id: salesforce_id}."""

    links: dict[str, dict[str, str]] = field(default_factory=dict)
    _reverse: dict[str, dict[str, str]] = field(default_factory=dict)

    def add(self, pair: str, hubspot_id: str, salesforce_id: str) -> None:
        """Record one link."""
        self.links.setdefault(pair, {})[hubspot_id] = salesforce_id
        self._reverse.setdefault(pair, {})[salesforce_id] = hubspot_id

    def to_salesforce(self, pair: str, hubspot_id: str) -> str | None:
        """The Salesforce id linked to `hubspot_id`."""
        return self.links.get(pair, {}).get(hubspot_id)

    def to_hubspot(self, pair: str, salesforce_id: str) -> str | None:
        """The HubSpot id linked to `salesforce_id`."""
        return self._reverse.get(pair, {}).get(salesforce_id)


@dataclass(frozen=True, slots=True)
class FieldSpec:
    """One mapped field, flattened for speed. `key` is the HubSpot name (or `assoc:<type>`)."""

    key: str
    hubspot: str
    salesforce: str
    rule: Rule
    kind: ValueKind
    objects: frozenset[str] | None = None
    to_salesforce_values: Mapping[str, str] = field(default_factory=dict)
    to_hubspot_values: Mapping[str, str] = field(default_factory=dict)
    transform: Transform | None = None
    max_length: int | None = None
    defaults: Mapping[str, CanonicalValue] = field(default_factory=dict)
    ref_pair: str | None = None
    salesforce_names: Mapping[str, str] = field(default_factory=dict)

    def salesforce_for(self, object_type: str) -> str:
        """The Salesforce field name on `object_type`."""
        return self.salesforce_names.get(object_type, self.salesforce)

    def applies_to(self, object_type: str) -> bool:
        """True when this field exists on `object_type` (HubSpot types always qualify)."""
        return self.objects is None or object_type in self.objects

    @property
    def association(self) -> bool:
        """True for a HubSpot association mapped to a Salesforce lookup."""
        return self.key.startswith(ASSOCIATION_PREFIX)


@dataclass(frozen=True, slots=True)
class PairMapping:
    """Everything the pure core needs to know about one object pair."""

    name: str
    hubspot_type: str
    salesforce_types: tuple[str, ...]
    fields: tuple[FieldSpec, ...]
    create_as: str | None = None
    create_in_hubspot: bool = True
    assign: bool = False
    delete_policy: DeletePolicy = DeletePolicy.UNLINK
    external_id: str | None = None
    match_on: tuple[str, ...] = ()
    inclusion: InclusionFilter | None = None
    extra_defaults: Mapping[str, Mapping[str, DefaultValue]] = field(default_factory=dict)
    _by_type: dict[str, tuple[FieldSpec, ...]] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )
    memo: dict[object, Any] = field(default_factory=dict, init=False, repr=False, compare=False)
    """Tables derived from this mapping by the converters, computed once per mapping."""

    def fields_for(self, object_type: str) -> tuple[FieldSpec, ...]:
        """The synced (not dont_sync) fields that exist on `object_type` (all on HubSpot's)."""
        found = self._by_type.get(object_type)
        if found is None:
            every = object_type == self.hubspot_type
            found = tuple(
                spec
                for spec in self.fields
                if spec.rule is not Rule.DONT_SYNC and (every or spec.applies_to(object_type))
            )
            self._by_type[object_type] = found  # a cache: the mapping itself never changes
        return found

    def spec(self, key: str) -> FieldSpec:
        """The field with `key` (KeyError if none)."""
        index: dict[str, FieldSpec] | None = self.memo.get("by_key")
        if index is None:
            index = self.memo["by_key"] = {spec.key: spec for spec in self.fields}
        return index[key]


def compile_pair(name: str, config: ObjectPairConfig) -> PairMapping:
    """Flatten one configured object pair into a `PairMapping`."""
    specs: list[FieldSpec] = []
    mapped: dict[str, set[str]] = {}  # Salesforce field -> object types it is mapped on
    for item in config.fields:
        kind = item.type
        if item.transform in (Transform.DATE_TO_DATETIME, Transform.DATETIME_TO_DATE):
            kind = ValueKind.DATE
        if item.transform is Transform.FRACTION_TO_PERCENT:
            kind = ValueKind.NUMBER
        names = item.salesforce if isinstance(item.salesforce, dict) else {}
        primary = (
            item.salesforce if isinstance(item.salesforce, str) else next(iter(names.values()))
        )
        limit = set(item.objects or names or config.salesforce)
        objects = frozenset(limit) if limit != set(config.salesforce) else None
        defaults = _field_defaults(config, names, primary, item.hubspot, kind, objects)
        to_hubspot: dict[str, str] = {}
        for hs_value, sf_value in item.picklist.items():
            to_hubspot.setdefault(sf_value, hs_value)  # the first HubSpot value listed wins
        to_hubspot.update(item.picklist_to_hubspot)
        specs.append(
            FieldSpec(
                key=item.hubspot,
                hubspot=item.hubspot,
                salesforce=primary,
                salesforce_names=dict(names),
                rule=item.rule,
                kind=kind,
                objects=objects,
                to_salesforce_values=dict(item.picklist),
                to_hubspot_values=to_hubspot,
                transform=item.transform,
                max_length=item.max_length,
                defaults=defaults,
                ref_pair="owners" if kind is ValueKind.OWNER else None,
            )
        )
        for object_type in objects or config.salesforce:
            mapped.setdefault(names.get(object_type, primary), set()).add(object_type)
        mapped.setdefault(item.hubspot, set()).add(config.hubspot)
    for assoc in config.associations:
        specs.append(
            FieldSpec(
                key=ASSOCIATION_PREFIX + assoc.hubspot,
                hubspot=ASSOCIATION_PREFIX + assoc.hubspot,
                salesforce=assoc.salesforce,
                rule=assoc.rule,
                kind=ValueKind.REFERENCE,
                objects=frozenset(assoc.objects) if assoc.objects else None,
                ref_pair=assoc.pair,
            )
        )
    extra = {
        object_type: {
            name_: value
            for name_, value in values.items()
            if object_type not in mapped.get(name_, set())
        }
        for object_type, values in config.defaults.items()
    }
    return PairMapping(
        name=name,
        hubspot_type=config.hubspot,
        salesforce_types=tuple(config.salesforce),
        fields=tuple(specs),
        create_as=config.create_as,
        create_in_hubspot=config.create_in_hubspot,
        assign=config.assign,
        delete_policy=config.delete_policy,
        external_id=config.external_id,
        match_on=tuple(config.match_on),
        inclusion=config.inclusion,
        extra_defaults={k: v_ for k, v_ in extra.items() if v_},
    )


def _field_defaults(
    config: ObjectPairConfig,
    names: Mapping[str, str],
    salesforce: str,
    hubspot: str,
    kind: ValueKind,
    objects: frozenset[str] | None,
) -> dict[str, CanonicalValue]:
    found: dict[str, CanonicalValue] = {}
    for object_type, values in config.defaults.items():
        name = hubspot if object_type == config.hubspot else names.get(object_type, salesforce)
        if name in values and (
            objects is None or object_type in objects or object_type == config.hubspot
        ):
            found[object_type] = canonical(kind, values[name])
    return found


READERS: dict[ValueKind, Callable[[object], CanonicalValue]] = {
    ValueKind.STRING: v.to_string,
    ValueKind.EMAIL: v.to_email,
    ValueKind.NUMBER: v.to_number,
    ValueKind.BOOLEAN: v.to_boolean,
    ValueKind.DATE: v.to_date,
    ValueKind.DATETIME: v.to_datetime_ms,
    ValueKind.ENUMERATION: v.to_enumeration,
    ValueKind.MULTI_ENUMERATION: v.to_multi,
    ValueKind.OWNER: v.to_string,
    ValueKind.REFERENCE: v.to_string,
}


def canonical(kind: ValueKind, raw: object) -> CanonicalValue:
    """The canonical value of `raw` for a field of `kind`; raises ConversionError."""
    return READERS[kind](raw)
