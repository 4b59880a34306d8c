"""Associations between records: v4 type ids, labels and a symmetric in-memory store."""

from __future__ import annotations

from dataclasses import dataclass

# (from, to) -> (unlabeled type id, primary type id or None); reference section 6.
TYPE_IDS: dict[tuple[str, str], tuple[int, int | None]] = {
    ("contacts", "companies"): (279, 1),
    ("companies", "contacts"): (280, 2),
    ("deals", "contacts"): (3, None),
    ("contacts", "deals"): (4, None),
    ("deals", "companies"): (341, 5),
    ("companies", "deals"): (342, 6),
}
# every type id -> (from, to, label, is_primary)
TYPE_INFO: dict[int, tuple[str, str, str | None, bool]] = {}
for (_from, _to), (_plain, _primary) in TYPE_IDS.items():
    TYPE_INFO[_plain] = (_from, _to, None, False)
    if _primary is not None:
        TYPE_INFO[_primary] = (_from, _to, "Primary", True)


def inverse_type(type_id: int) -> int:
    """The type id of the same association seen from the other end."""
    from_type, to_type, _, primary = TYPE_INFO[type_id]
    plain, prim = TYPE_IDS[(to_type, from_type)]
    return prim if primary and prim is not None else plain


def v3_type_name(from_type: str, to_type: str, type_id: int) -> str:
    """The string v3 reads show, e.g. 'contact_to_company' / 'contact_to_company_unlabeled'."""
    base = f"{from_type[:-1] if from_type != 'companies' else 'company'}_to_" + (
        to_type[:-1] if to_type != "companies" else "company"
    )
    return base if TYPE_INFO[type_id][3] else f"{base}_unlabeled"


def webhook_type_name(from_type: str, to_type: str) -> str:
    """E.g. CONTACT_TO_COMPANY for association-change events."""
    singular = {"contacts": "CONTACT", "companies": "COMPANY", "deals": "DEAL"}
    return f"{singular[from_type]}_TO_{singular[to_type]}"


@dataclass(frozen=True)
class Link:
    """One typed association from one record to another."""

    from_type: str
    from_id: int
    to_type: str
    to_id: int
    type_id: int


class AssociationStore:
    """Typed associations, stored from both ends so reads in either direction are cheap."""

    def __init__(self) -> None:
        # (type, id, to_type) -> {to_id: set(type ids)}
        self._by_end: dict[tuple[str, int, str], dict[int, set[int]]] = {}

    def add(self, from_type: str, from_id: int, to_type: str, to_id: int, type_id: int) -> bool:
        """Add one typed association (and its inverse); True if it was new."""
        if TYPE_INFO.get(type_id, ("", "", None, False))[:2] != (from_type, to_type):
            raise KeyError(type_id)
        ids = self._by_end.setdefault((from_type, from_id, to_type), {}).setdefault(to_id, set())
        if type_id in ids:
            return False
        ids.add(type_id)
        back = self._by_end.setdefault((to_type, to_id, from_type), {}).setdefault(from_id, set())
        back.add(inverse_type(type_id))
        return True

    def remove_pair(self, from_type: str, from_id: int, to_type: str, to_id: int) -> bool:
        """Remove every association between two records; True if any existed."""
        a = self._by_end.get((from_type, from_id, to_type), {}).pop(to_id, None)
        self._by_end.get((to_type, to_id, from_type), {}).pop(from_id, None)
        return bool(a)

    def targets(self, from_type: str, from_id: int, to_type: str) -> dict[int, set[int]]:
        """to id -> type ids, for one record and one target type."""
        return self._by_end.get((from_type, from_id, to_type), {})

    def remove_record(self, object_type: str, record_id: int) -> list[Link]:
        """Drop every association of a record; return what was removed."""
        removed: list[Link] = []
        for to_type in ("contacts", "companies", "deals"):
            for to_id, types in list(
                self._by_end.pop((object_type, record_id, to_type), {}).items()
            ):
                self._by_end.get((to_type, to_id, object_type), {}).pop(record_id, None)
                removed.extend(Link(object_type, record_id, to_type, to_id, t) for t in types)
        return removed

    def all_links(self) -> list[Link]:
        """Every stored association (both directions), in a stable order."""
        links = [
            Link(f, fid, t, tid, type_id)
            for (f, fid, t), targets in self._by_end.items()
            for tid, types in targets.items()
            for type_id in types
        ]
        return sorted(links, key=lambda x: (x.from_type, x.from_id, x.to_type, x.to_id, x.type_id))

    def clear(self) -> None:
        """Forget everything."""
        self._by_end.clear()
