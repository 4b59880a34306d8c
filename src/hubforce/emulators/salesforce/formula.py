"""Validation-rule conditions: a small, safe subset of Salesforce formula syntax (no eval).

A rule's `condition` is true when the record is INVALID, as in Salesforce. Supported:
literals ('text', 12.5, TRUE, FALSE, NULL), field names, comparisons (= == != <> < <= > >=),
`&&` / `||`, parentheses and the functions AND, OR, NOT, ISBLANK, ISPICKVAL, LEN, BEGINS,
CONTAINS, TEXT, ISNEW and ISCHANGED. For example:
`AND(ISPICKVAL(Status, 'Working - Contacted'), ISBLANK(Phone))`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from lark import Lark, Token, Tree
from lark.exceptions import LarkError

_GRAMMAR = r"""
?start: or_expr
?or_expr: and_expr | or_expr "||" and_expr -> or_
?and_expr: cmp | and_expr "&&" cmp         -> and_
?cmp: atom (CMP atom)?
?atom: call | STRING -> string | NUMBER -> number | TRUE -> true | FALSE -> false
     | NULL -> null | NAME -> field | "(" or_expr ")"
call: NAME "(" [or_expr ("," or_expr)*] ")"
CMP: "==" | "=" | "!=" | "<>" | "<=" | ">=" | "<" | ">"
TRUE.2: /TRUE\b/i
FALSE.2: /FALSE\b/i
NULL.2: /NULL\b/i
NAME: /[A-Za-z_][A-Za-z0-9_]*/
STRING: /'(?:[^'\\]|\\.)*'/ | /"(?:[^"\\]|\\.)*"/
NUMBER: /-?\d+(\.\d+)?/
%ignore /\s+/
"""
_PARSER = Lark(_GRAMMAR, parser="lalr", start="start")

Record = Mapping[str, Any]


class FormulaError(ValueError):
    """A condition that does not parse or names an unknown field or function."""


def _blank(value: Any) -> bool:
    return value is None or value == ""


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class Condition:
    """A parsed condition, bound to a field resolver, evaluated against records."""

    def __init__(self, source: str, resolve_field: Callable[[str], str]) -> None:
        try:
            self.tree = _PARSER.parse(source)
        except LarkError as exc:
            raise FormulaError(f"cannot parse condition {source!r}: {exc}") from exc
        self.source = source
        self.fields: set[str] = set()
        self._bind(self.tree, resolve_field)

    def _bind(self, node: Tree[Token] | Token, resolve: Callable[[str], str]) -> None:
        if isinstance(node, Tree):
            if node.data == "field":
                token = node.children[0]
                api_name = resolve(str(token))
                node.children[0] = Token("NAME", api_name)
                self.fields.add(api_name)
                return
            if node.data == "call":
                fname = str(node.children[0]).upper()
                if fname not in _FUNCTIONS:
                    raise FormulaError(f"unknown function {fname} in {self.source!r}")
                for child in node.children[1:]:
                    if child is not None:
                        self._bind(child, resolve)
                return
            for child in node.children:
                self._bind(child, resolve)

    def evaluate(self, record: Record, old: Record | None = None) -> bool:
        """True when the condition holds (that is, the record violates the rule)."""
        return bool(_eval(self.tree, record, old))


def _compare(op: str, left: Any, right: Any) -> bool:
    if op in ("=", "=="):
        return (_blank(left) and _blank(right)) or left == right
    if op in ("!=", "<>"):
        return not ((_blank(left) and _blank(right)) or left == right)
    if left is None or right is None:
        return False
    try:
        if op == "<":
            return bool(left < right)
        if op == "<=":
            return bool(left <= right)
        if op == ">":
            return bool(left > right)
        return bool(left >= right)
    except TypeError:
        return False


def _eval(node: Tree[Token] | Token | None, record: Record, old: Record | None) -> Any:
    if node is None:
        return None
    if isinstance(node, Token):
        return str(node)
    kind = node.data
    if kind == "string":
        raw = str(node.children[0])[1:-1]
        return raw.replace("\\'", "'").replace('\\"', '"').replace("\\\\", "\\")
    if kind == "number":
        text = str(node.children[0])
        return float(text) if "." in text else int(text)
    if kind in ("true", "false"):
        return kind == "true"
    if kind == "null":
        return None
    if kind == "field":
        return record.get(str(node.children[0]))
    if kind == "or_":
        return any(bool(_eval(c, record, old)) for c in node.children)
    if kind == "and_":
        return all(bool(_eval(c, record, old)) for c in node.children)
    if kind == "cmp":
        left, op, right = node.children
        return _compare(str(op), _eval(left, record, old), _eval(right, record, old))
    # call
    name = str(node.children[0]).upper()
    args = [c for c in node.children[1:] if c is not None]
    return _FUNCTIONS[name](args, record, old)


def _field_name(arg: Tree[Token] | Token) -> str:
    if isinstance(arg, Tree) and arg.data == "field":
        return str(arg.children[0])
    raise FormulaError("ISCHANGED takes a field name")


def _values(args: list[Any], record: Record, old: Record | None) -> list[Any]:
    return [_eval(a, record, old) for a in args]


_FUNCTIONS: dict[str, Callable[[list[Any], Record, Record | None], Any]] = {
    "AND": lambda a, r, o: all(bool(v) for v in _values(a, r, o)),
    "OR": lambda a, r, o: any(bool(v) for v in _values(a, r, o)),
    "NOT": lambda a, r, o: not bool(_eval(a[0], r, o)),
    "ISBLANK": lambda a, r, o: _blank(_eval(a[0], r, o)),
    "ISPICKVAL": lambda a, r, o: _text(_eval(a[0], r, o)) == _text(_eval(a[1], r, o)),
    "LEN": lambda a, r, o: len(_text(_eval(a[0], r, o))),
    "BEGINS": lambda a, r, o: _text(_eval(a[0], r, o)).startswith(_text(_eval(a[1], r, o))),
    "CONTAINS": lambda a, r, o: _text(_eval(a[1], r, o)) in _text(_eval(a[0], r, o)),
    "TEXT": lambda a, r, o: _text(_eval(a[0], r, o)),
    "ISNEW": lambda a, r, o: o is None,
    "ISCHANGED": lambda a, r, o: (
        o is not None and r.get(_field_name(a[0])) != o.get(_field_name(a[0]))
    ),
}
