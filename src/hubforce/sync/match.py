"""Matching before creating: choose, deterministically and with a reason, the record to link.

The engine finds candidates on the other side (one call per page of keys) and hands them here
with normalised keys. Keys are tried in order (an external id first, then the pair's `match_on`
list, e.g. email for people, domain then name for companies). Among the candidates sharing the
first key that finds any, the choice is: preferred object type (Contact over Lead), then most
recently modified, then lowest id. Converted Leads and records already linked never match, and
`match_all` never gives one candidate to two sources (no duplicates).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from hubforce.sync.model import RecordRef

EXTERNAL_ID = "external_id"
_SCHEME = re.compile(r"^[a-z][a-z0-9+.-]*://")
_NAME_NOISE = re.compile(r"[^\w\s]")
_SPACES = re.compile(r"\s+")


def normalise_email(value: object) -> str | None:
    """An e-mail address as a match key: stripped and lower-cased."""
    text = str(value).strip().lower() if value is not None else ""
    return text if "@" in text else None


def normalise_domain(value: object) -> str | None:
    """A website or domain as a match key: no scheme, "www.", port, path or trailing dot."""
    text = str(value).strip().lower() if value is not None else ""
    text = _SCHEME.sub("", text).split("/", 1)[0].split(":", 1)[0].rstrip(".")
    text = text.removeprefix("www.")
    return text if "." in text else None


def normalise_name(value: object) -> str | None:
    """A company name as a match key: case-folded, punctuation dropped, spaces collapsed."""
    text = str(value) if value is not None else ""
    text = _SPACES.sub(" ", _NAME_NOISE.sub(" ", text.casefold())).strip()
    return text or None


def normalise_id(value: object) -> str | None:
    """An external id as a match key: stripped text."""
    return (str(value).strip() or None) if value is not None else None


NORMALISERS: dict[str, Callable[[object], str | None]] = {
    "email": normalise_email,
    "domain": normalise_domain,
    "name": normalise_name,
    EXTERNAL_ID: normalise_id,
}


def match_keys(raw: Mapping[str, object], fields: Mapping[str, str]) -> dict[str, str]:
    """Normalised match keys from raw values: `fields` maps key kind -> field name."""
    keys: dict[str, str] = {}
    for kind, name in fields.items():
        normalise = NORMALISERS.get(kind, normalise_name)
        value = normalise(raw.get(name))
        if value is not None:
            keys[kind] = value
    return keys


@dataclass(frozen=True, slots=True)
class Candidate:
    """A record on the other side that may be the same as a source record."""

    ref: RecordRef
    keys: Mapping[str, str]
    modified_at: int = 0
    converted: bool = False


@dataclass(frozen=True, slots=True)
class MatchResult:
    """The outcome of matching one source record, with the reason shown to users."""

    source: RecordRef
    chosen: Candidate | None
    key: str | None
    reason: str
    others: tuple[RecordRef, ...] = field(default_factory=tuple)


def choose_match(
    source: RecordRef,
    source_keys: Mapping[str, str],
    candidates: Iterable[Candidate],
    *,
    match_on: Sequence[str],
    type_preference: Sequence[str] = ("Contact", "Lead"),
    taken: Collection[str] = (),
) -> MatchResult:
    """Pick the candidate for `source`, or None, deterministically, and say why.

    `taken` holds ids already linked (or given to another source in this batch).
    """
    usable = [c for c in candidates if not c.converted and c.ref.id not in taken]
    order = [EXTERNAL_ID, *[kind for kind in match_on if kind != EXTERNAL_ID]]
    for kind in order:
        wanted = source_keys.get(kind)
        if wanted is None:
            continue
        hits = [c for c in usable if c.keys.get(kind) == wanted]
        if not hits:
            continue
        hits.sort(key=lambda c: _rank(c, type_preference))
        chosen = hits[0]
        others = tuple(c.ref for c in hits[1:])
        reason = f"matched by {kind} {wanted!r} to {chosen.ref.object_type} {chosen.ref.id}"
        if others:
            reason += f" ({len(hits)} candidates: {_why(hits, type_preference)})"
        return MatchResult(source, chosen, kind, reason, others)
    tried = ", ".join(kind for kind in order if kind in source_keys) or "no key"
    return MatchResult(source, None, None, f"no match by {tried}")


def match_all(
    sources: Sequence[tuple[RecordRef, Mapping[str, str]]],
    candidates: Sequence[Candidate],
    *,
    match_on: Sequence[str],
    type_preference: Sequence[str] = ("Contact", "Lead"),
    taken: Collection[str] = (),
) -> list[MatchResult]:
    """Match many sources (in id order) so that no candidate is chosen twice."""
    used = set(taken)
    by_key: dict[tuple[str, str], list[Candidate]] = {}
    for candidate in candidates:
        for kind, value in candidate.keys.items():
            by_key.setdefault((kind, value), []).append(candidate)
    results: list[MatchResult] = []
    for ref, keys in sorted(sources, key=lambda item: (len(item[0].id), item[0].id)):
        pool: dict[str, Candidate] = {}
        for kind, value in keys.items():
            for candidate in by_key.get((kind, value), ()):
                pool[candidate.ref.id] = candidate
        result = choose_match(
            ref,
            keys,
            pool.values(),
            match_on=match_on,
            type_preference=type_preference,
            taken=used,
        )
        if result.chosen is not None:
            used.add(result.chosen.ref.id)
        results.append(result)
    return results


def _rank(candidate: Candidate, preference: Sequence[str]) -> tuple[int, int, int, str]:
    kind = candidate.ref.object_type
    rank = preference.index(kind) if kind in preference else len(preference)
    return rank, -candidate.modified_at, len(candidate.ref.id), candidate.ref.id


def _why(hits: list[Candidate], preference: Sequence[str]) -> str:
    first, second = hits[0], hits[1]
    if _rank(first, preference)[0] != _rank(second, preference)[0]:
        return f"preferred {first.ref.object_type} over {second.ref.object_type}"
    if first.modified_at != second.modified_at:
        return "chose the most recently modified"
    return "chose the lowest id"
