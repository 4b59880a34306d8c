"""Linked-id translation for owner and lookup fields, loaded from the store a page at a time.

The converters (`hubforce.sync.mapping`) ask "which Salesforce id is HubSpot company 42
linked to?" record by record; answering from the database each time would cost a round trip
per field. `LinkLookup.prefetch` loads the ids a page refers to in one query, then every
question is a dict lookup.
"""

from __future__ import annotations

from collections.abc import Iterable

from hubforce.store import Store
from hubforce.sync.model import Side


class LinkLookup:
    """An `IdLookup` over the store's links, with per-pair caches filled by `prefetch`."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self._to_sf: dict[str, dict[str, str]] = {}
        self._to_hs: dict[str, dict[str, str]] = {}
        self._loaded: set[str] = set()

    def load_all(self, pair: str) -> None:
        """Cache every link of `pair` (small pairs such as owners)."""
        if pair in self._loaded:
            return
        for page in self.store.links.iter_pair(pair):
            for link in page:
                if link.deleted_on is None:
                    self.add(pair, link.hubspot_id, link.salesforce_id)
        self._loaded.add(pair)

    def prefetch(self, pair: str, side: Side, ids: Iterable[str]) -> None:
        """Load the links of these ids (on `side`) that are not cached yet."""
        if pair in self._loaded:
            return
        cache = self._to_sf if side is Side.HUBSPOT else self._to_hs
        known = cache.setdefault(pair, {})
        missing = [i for i in dict.fromkeys(ids) if i and i not in known]
        if not missing:
            return
        for link in self.store.links.get_many(pair, side, missing, include_deleted=False).values():
            self.add(pair, link.hubspot_id, link.salesforce_id)

    def add(self, pair: str, hubspot_id: str, salesforce_id: str) -> None:
        """Remember one link (also used right after a create)."""
        self._to_sf.setdefault(pair, {})[hubspot_id] = salesforce_id
        self._to_hs.setdefault(pair, {})[salesforce_id] = hubspot_id

    def to_salesforce(self, pair: str, hubspot_id: str) -> str | None:
        """The Salesforce id linked to `hubspot_id`."""
        return self._to_sf.get(pair, {}).get(hubspot_id)

    def to_hubspot(self, pair: str, salesforce_id: str) -> str | None:
        """The HubSpot id linked to `salesforce_id` (15- or 18-character form)."""
        found = self._to_hs.get(pair, {})
        return found.get(salesforce_id) or (
            None if len(salesforce_id) != 15 else _by_prefix(found, salesforce_id)
        )


def _by_prefix(index: dict[str, str], short_id: str) -> str | None:
    for long_id, hubspot_id in index.items():
        if long_id[:15] == short_id:
            return hubspot_id
    return None
