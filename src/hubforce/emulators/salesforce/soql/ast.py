"""The SOQL syntax tree: plain frozen dataclasses produced by the parser."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal as TypingLiteral

CompareOp = TypingLiteral["=", "!=", "<", "<=", ">", ">=", "LIKE"]


@dataclass(frozen=True)
class Position:
    """Where a token starts in the query text (1-based, like the API's messages)."""

    line: int
    column: int


@dataclass(frozen=True)
class FieldPath:
    """A field reference such as `Email` or `Owner.Email`, as written."""

    parts: tuple[str, ...]
    pos: Position

    @property
    def text(self) -> str:
        """The path as written in the query."""
        return ".".join(self.parts)


@dataclass(frozen=True)
class StringLit:
    """A quoted string; `raw` keeps the escapes so LIKE can tell `\\%` from `%`."""

    raw: str
    pos: Position


@dataclass(frozen=True)
class NumberLit:
    """An unquoted number."""

    value: int | float
    pos: Position


@dataclass(frozen=True)
class BoolLit:
    """TRUE or FALSE."""

    value: bool
    pos: Position


@dataclass(frozen=True)
class NullLit:
    """NULL."""

    pos: Position


@dataclass(frozen=True)
class DateLit:
    """An unquoted date such as 2024-01-31."""

    text: str
    pos: Position


@dataclass(frozen=True)
class DateTimeLit:
    """An unquoted dateTime such as 2024-01-31T10:00:00Z or ...+01:00."""

    text: str
    pos: Position


@dataclass(frozen=True)
class RelativeDate:
    """A relative date literal such as TODAY or LAST_N_DAYS:7 (`n` is None when it takes none)."""

    name: str
    n: int | None
    pos: Position


Value = StringLit | NumberLit | BoolLit | NullLit | DateLit | DateTimeLit | RelativeDate


@dataclass(frozen=True)
class Comparison:
    """`field op value`, including LIKE."""

    field: FieldPath
    op: CompareOp
    value: Value


@dataclass(frozen=True)
class InList:
    """`field IN (...)` or `field NOT IN (...)`."""

    field: FieldPath
    values: tuple[Value, ...]
    negated: bool


@dataclass(frozen=True)
class Not:
    """`NOT condition`."""

    operand: Condition


@dataclass(frozen=True)
class And:
    """Conditions joined by AND."""

    operands: tuple[Condition, ...]


@dataclass(frozen=True)
class Or:
    """Conditions joined by OR."""

    operands: tuple[Condition, ...]


Condition = Comparison | InList | Not | And | Or


@dataclass(frozen=True)
class OrderKey:
    """One ORDER BY item; `nulls_first` None means the API default for the direction."""

    field: FieldPath
    descending: bool
    nulls_first: bool | None


@dataclass(frozen=True)
class Query:
    """A parsed SELECT statement."""

    text: str
    fields: tuple[FieldPath, ...]
    count: bool
    sobject: str
    sobject_pos: Position
    where: Condition | None
    order_by: tuple[OrderKey, ...]
    limit: int | None
    offset: int | None
