"""A small, safe expression language for workflow conditions on record fields.

Parsed with lark into a tiny AST and evaluated by walking it: nothing is ever passed to
`eval`, and a name can only read a field of the record. Grammar, loosest binding first:

    expr    := or ;  or := and ("or" and)* ;  and := not ("and" not)* ;  not := "not" not | cmp
    cmp     := operand (("=" | "!=" | "<" | "<=" | ">" | ">=") operand)?
             | operand ["not"] "in" "(" literal ("," literal)* ")"
             | operand "is" ["not"] "empty"
    operand := NAME | STRING | NUMBER | "true" | "false" | "(" expr ")"

Example: `lifecyclestage = "lead" and hs_analytics_source in ("ORGANIC_SEARCH", "PAID_SEARCH")`.
Field values arrive as strings from HubSpot; comparisons with a number literal compare as
numbers when the field parses as one, otherwise the comparison is false.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import LarkError, VisitError

_GRAMMAR = r"""
?start: or_
?or_: and_ ("or"i and_)*        -> or_
?and_: not_ ("and"i not_)*      -> and_
?not_: "not"i not_              -> not_
     | cmp
?cmp: operand OP operand        -> compare
    | operand "in"i tuple       -> in_
    | operand "not"i "in"i tuple -> not_in
    | operand "is"i "empty"i    -> empty
    | operand "is"i "not"i "empty"i -> not_empty
    | operand
tuple: "(" literal ("," literal)* ")"
?operand: literal | NAME -> field | "(" or_ ")"
?literal: STRING -> string
        | SIGNED_NUMBER -> number
        | "true"i -> true
        | "false"i -> false
OP: "<=" | ">=" | "!=" | "=" | "<" | ">"
NAME: /(?!(and|or|not|in|is|empty|true|false)\b)[A-Za-z_][A-Za-z0-9_.]*/i
STRING: /"(\\.|[^"\\])*"/ | /'(\\.|[^'\\])*'/
%import common.SIGNED_NUMBER
%import common.WS
%ignore WS
"""

Value = str | float | bool | None


class ConditionError(ValueError):
    """A condition that does not parse; the message says where."""


@dataclass(frozen=True)
class Node:
    """One AST node: `op` names it, `args` are child nodes or literal values."""

    op: str
    args: tuple[Any, ...]


@v_args(inline=True)
class _ToAst(Transformer[Token, Node]):
    def or_(self, *items: Node) -> Node:
        return Node("or", items) if len(items) > 1 else items[0]

    def and_(self, *items: Node) -> Node:
        return Node("and", items) if len(items) > 1 else items[0]

    def not_(self, item: Node) -> Node:
        return Node("not", (item,))

    def compare(self, left: Node, op: Token, right: Node) -> Node:
        return Node("cmp", (str(op), left, right))

    def in_(self, left: Node, choices: Node) -> Node:
        return Node("in", (left, choices))

    def not_in(self, left: Node, choices: Node) -> Node:
        return Node("not", (Node("in", (left, choices)),))

    def empty(self, item: Node) -> Node:
        return Node("empty", (item,))

    def not_empty(self, item: Node) -> Node:
        return Node("not", (Node("empty", (item,)),))

    def tuple(self, *items: Node) -> Node:
        return Node("tuple", items)

    def field(self, name: Token) -> Node:
        return Node("field", (str(name),))

    def string(self, token: Token) -> Node:
        raw = str(token)[1:-1]
        return Node("lit", (_unescape(raw),))

    def number(self, token: Token) -> Node:
        return Node("lit", (float(token),))

    def true(self) -> Node:
        return Node("lit", (True,))

    def false(self) -> Node:
        return Node("lit", (False,))


def _unescape(raw: str) -> str:
    out: list[str] = []
    chars = iter(raw)
    for char in chars:
        out.append(next(chars, "\\") if char == "\\" else char)
    return "".join(out)


_PARSER = Lark(_GRAMMAR, parser="lalr", maybe_placeholders=False)


@lru_cache(maxsize=512)
def parse_condition(text: str) -> Node:
    """Parse `text` into an AST; raises ConditionError with the position of a mistake."""
    try:
        tree = _PARSER.parse(text)
        return _ToAst().transform(tree)
    except VisitError as exc:
        raise ConditionError(f"invalid condition {text!r}: {exc.orig_exc}") from None
    except LarkError as exc:
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConditionError(f"invalid condition {text!r}: {first_line}") from None


def evaluate(node: Node, record: Mapping[str, Any]) -> bool:
    """True if `record` satisfies the condition `node`."""
    return _truthy(_eval(node, record))


def matches(condition: str | None, record: Mapping[str, Any]) -> bool:
    """Parse (cached) and evaluate; an absent or blank condition always matches."""
    if condition is None or not condition.strip():
        return True
    return evaluate(parse_condition(condition), record)


def _eval(node: Node, record: Mapping[str, Any]) -> Value:
    op = node.op
    if op == "lit":
        value: Value = node.args[0]
        return value
    if op == "field":
        raw = record.get(node.args[0])
        return None if raw is None else raw if isinstance(raw, (bool, float)) else str(raw)
    if op == "and":
        return all(_truthy(_eval(child, record)) for child in node.args)
    if op == "or":
        return any(_truthy(_eval(child, record)) for child in node.args)
    if op == "not":
        return not _truthy(_eval(node.args[0], record))
    if op == "empty":
        value = _eval(node.args[0], record)
        return value is None or value == ""
    if op == "in":
        left = _eval(node.args[0], record)
        return any(_compare("=", left, _eval(choice, record)) for choice in node.args[1].args)
    if op == "cmp":
        symbol, left, right = node.args
        return _compare(symbol, _eval(left, record), _eval(right, record))
    raise ConditionError(f"unknown node {op!r}")  # unreachable with the grammar above


def _truthy(value: Value) -> bool:
    if isinstance(value, str):
        return value not in ("", "false", "False")
    return bool(value)


def _as_number(value: Value) -> float | None:
    if isinstance(value, bool) or value is None:
        return None
    try:
        return float(value)
    except ValueError:
        return None


def _normalise(left: Value, right: Value) -> tuple[Any, Any] | None:
    """Both sides as comparable values, or None when they cannot be compared."""
    if isinstance(left, float) or isinstance(right, float):
        a, b = _as_number(left), _as_number(right)
        return None if a is None or b is None else (a, b)
    if isinstance(left, bool) or isinstance(right, bool):
        return (_truthy(left), _truthy(right))
    if left is None or right is None:
        return ("" if left is None else left, "" if right is None else right)
    return (left, right)


def _compare(symbol: str, left: Value, right: Value) -> bool:
    pair = _normalise(left, right)
    if pair is None:
        return symbol == "!="
    a, b = pair
    if symbol == "=":
        return bool(a == b)
    if symbol == "!=":
        return bool(a != b)
    if symbol == "<":
        return bool(a < b)
    if symbol == "<=":
        return bool(a <= b)
    if symbol == ">":
        return bool(a > b)
    return bool(a >= b)
