"""Salesforce record ids: key prefix + counter (15 case-sensitive chars) + 3-char checksum."""

from __future__ import annotations

import re

from hubforce.emulators.salesforce.exceptions import MalformedId

_CHECKSUM_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ012345"
_BASE62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
_ID_RE = re.compile(r"^[a-zA-Z0-9]{15}(?:[A-Za-z0-5]{3})?$")
POD = "8H"  # the instance segment every emulated id carries after its key prefix


def checksum(id15: str) -> str:
    """The 3-char suffix that makes a 15-char id case-insensitively unique."""
    suffix = ""
    for block in range(3):
        bits = 0
        for pos in range(5):
            if "A" <= id15[block * 5 + pos] <= "Z":
                bits |= 1 << pos
        suffix += _CHECKSUM_ALPHABET[bits]
    return suffix


def to18(record_id: str) -> str:
    """The 18-char form of a 15- or 18-char id; MalformedId for anything else."""
    if not _ID_RE.match(record_id):
        raise MalformedId(f"malformed id {record_id}")
    id15 = record_id[:15]
    full = id15 + checksum(id15)
    if len(record_id) == 18 and record_id.upper() != full.upper():
        raise MalformedId(f"malformed id {record_id}")
    return full


def looks_like_id(value: str) -> bool:
    """True when `value` has the shape of a 15/18-char id with a valid checksum."""
    try:
        to18(value)
    except MalformedId:
        return False
    return True


def make_id(prefix: str, counter: int) -> str:
    """The 18-char id number `counter` of the object with key prefix `prefix`."""
    digits = ""
    n = counter
    for _ in range(9):
        n, rem = divmod(n, 62)
        digits = _BASE62[rem] + digits
    if n:
        raise ValueError("id counter overflow")
    id15 = f"{prefix}{POD}0{digits}"
    return id15 + checksum(id15)
