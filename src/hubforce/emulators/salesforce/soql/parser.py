"""Parse SOQL text into the `ast` dataclasses, with Salesforce-shaped syntax errors."""

from __future__ import annotations

import re
from bisect import bisect_right
from functools import lru_cache
from typing import cast

from lark import Lark, Token, Tree
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from hubforce.emulators.salesforce.soql import ast
from hubforce.emulators.salesforce.soql.errors import MalformedQueryError, point_at
from hubforce.emulators.salesforce.soql.grammar import SOQL_GRAMMAR

MAX_OFFSET = 2000
RESERVED = frozenset(
    [
        "AND",
        "ASC",
        "DESC",
        "EXCLUDES",
        "FIRST",
        "FROM",
        "GROUP",
        "HAVING",
        "IN",
        "INCLUDES",
        "LAST",
        "LIKE",
        "LIMIT",
        "NOT",
        "NULL",
        "NULLS",
        "OR",
        "SELECT",
        "WHERE",
        "WITH",
    ]
)


class _ReservedWord(Exception):
    """A reserved keyword lexed where a name belongs."""

    def __init__(self, token: Token) -> None:
        super().__init__(str(token))
        self.token = token


def _reject_reserved(token: Token) -> Token:
    if token.upper() in RESERVED:
        raise _ReservedWord(token)
    return token


Node = Tree[Token] | Token

# The STRING terminal of the grammar, and the start of an `IN (` list outside any string. Lark
# feeds each token through its LALR loop in Python (about 10 us a token), so `Id IN (2,000 ids)`
# cost tens of ms; long lists of plain strings are read here instead (see `_fold_lists`).
_STRING = r"'(?:\\.|[^'\\])*'"
_STRING_OR_IN = re.compile(rf"{_STRING}|(?i:\bIN\s*\()")
_STRING_LIST = re.compile(rf"\s*({_STRING})(?:\s*,\s*{_STRING})+\s*\)")
_LIST_VALUE = re.compile(_STRING)
FOLD_AT = 8  # lists shorter than this go through lark as they are: the gain would be small


def _fold_lists(text: str) -> tuple[str, dict[int, list[tuple[int, str]]]]:
    """`text` with each long `IN ('a', 'b', ...)` list cut to its first string, and the lists.

    Everything cut is replaced by spaces (newlines kept), so every token lark reads keeps its
    line and column, and errors point where they did. Only lists of nothing but strings are
    cut, and only after an `IN (` that is not inside a string: wherever lark accepts that `IN`,
    it accepts any such list, so the grammar decides exactly as on the full text. The result
    maps the offset of each kept first string to (offset, raw text) of all the list's strings.
    """
    lists: dict[int, list[tuple[int, str]]] = {}
    pieces: list[str] = []
    done = 0
    pos = 0
    while (found := _STRING_OR_IN.search(text, pos)) is not None:
        pos = found.end()
        if found.group().startswith("'"):
            continue  # a whole string literal: an `IN (` inside it is not a keyword
        match = _STRING_LIST.match(text, pos)
        if match is None:
            continue
        pos = match.end()  # strings and commas only: nothing in the list starts an `IN (`
        values = [(m.start(), m.group()) for m in _LIST_VALUE.finditer(text, match.start(1), pos)]
        if len(values) < FOLD_AT:
            continue
        cut_from, cut_to = match.end(1), match.end() - 1  # after the first string, up to `)`
        pieces.append(text[done:cut_from])
        pieces.append("\n".join(" " * len(line) for line in text[cut_from:cut_to].split("\n")))
        done = cut_to
        lists[match.start(1)] = values
    if not lists:
        return text, lists
    pieces.append(text[done:])
    return "".join(pieces), lists


@lru_cache(maxsize=1)
def _lark() -> Lark:
    # Built once per process: LALR table construction is the expensive part.
    return Lark(
        SOQL_GRAMMAR,
        parser="lalr",
        lexer="contextual",
        maybe_placeholders=False,
        lexer_callbacks={"IDENT": _reject_reserved},
    )


@lru_cache(maxsize=512)
def parse_soql(text: str) -> ast.Query:
    """Parse one SOQL statement or raise MalformedQueryError pointing at the problem.

    Results are cached by text: a sync polls the same few queries over and over.
    """
    if not text.strip():
        raise MalformedQueryError("unexpected token: '<EOF>'")
    folded, lists = _fold_lists(text)
    try:
        tree = _lark().parse(folded)
    except UnexpectedInput as exc:
        raise _syntax_error(text, exc) from None
    except _ReservedWord as exc:
        message = f"unexpected token: '{exc.token}'"
        line, column = exc.token.line or 1, exc.token.column or 1
        raise MalformedQueryError(point_at(text, line, column, message)) from None
    return _Builder(text, lists).query(tree)


def _syntax_error(text: str, exc: UnexpectedInput) -> MalformedQueryError:
    if isinstance(exc, UnexpectedToken):
        token = exc.token
        shown = "<EOF>" if token.type == "$END" else str(token)
        line, column = exc.line, exc.column
        if token.type == "$END":
            lines = text.rstrip().split("\n")
            line, column = len(lines), len(lines[-1]) + 1
    elif isinstance(exc, UnexpectedCharacters):
        shown = _word_at(text, exc.pos_in_stream or 0)
        line, column = exc.line, exc.column
    elif isinstance(exc, UnexpectedEOF):
        shown, line, column = "<EOF>", 1, len(text) + 1
    else:  # pragma: no cover - lark has no other UnexpectedInput subclasses
        shown, line, column = "?", 1, 1
    message = f"unexpected token: '{shown}'"
    if line == 1 and column == 1:
        # The API answers a query that is wrong from its first word without an excerpt.
        return MalformedQueryError(message)
    return MalformedQueryError(point_at(text, line, column, message))


def _word_at(text: str, index: int) -> str:
    end = index + 1
    while (
        end < len(text) and not text[end].isspace() and text[index].isalnum() == text[end].isalnum()
    ):
        end += 1
    return text[index:end]


def _pos(token: Token) -> ast.Position:
    return ast.Position(line=token.line or 1, column=token.column or 1)


class _Builder:
    """Turns lark's parse tree into ast dataclasses."""

    def __init__(self, text: str, lists: dict[int, list[tuple[int, str]]]) -> None:
        self.text = text
        self.lists = lists  # folded IN lists by the offset of their first string
        self._line_starts: list[int] | None = None

    def query(self, tree: Tree[Token]) -> ast.Query:
        clauses = {cast(Tree[Token], c).data: cast(Tree[Token], c) for c in tree.children}
        select = clauses["select_clause"].children[1]
        assert isinstance(select, Tree)
        count = select.data == "count_select"
        fields = () if count else tuple(self.field_path(c) for c in _trees(select))
        from_token = cast(Token, clauses["from_clause"].children[1])
        where = None
        if "where_clause" in clauses:
            where = self.condition(clauses["where_clause"].children[1])
        order_by: tuple[ast.OrderKey, ...] = ()
        if "order_clause" in clauses:
            order_by = tuple(self.order_item(c) for c in _trees(clauses["order_clause"]))
        limit = self.integer(clauses.get("limit_clause"))
        offset = self.integer(clauses.get("offset_clause"))
        query = ast.Query(
            text=self.text,
            fields=fields,
            count=count,
            sobject=str(from_token),
            sobject_pos=_pos(from_token),
            where=where,
            order_by=order_by,
            limit=limit,
            offset=offset,
        )
        self.check_clauses(query, clauses)
        return query

    def check_clauses(self, query: ast.Query, clauses: dict[str, Tree[Token]]) -> None:
        if query.count and query.order_by:
            token = cast(Token, clauses["order_clause"].children[0])
            raise MalformedQueryError(
                point_at(
                    self.text,
                    token.line or 1,
                    token.column or 1,
                    "ORDER BY not allowed with COUNT()",
                )
            )
        if query.offset is not None and query.offset > MAX_OFFSET:
            token = cast(Token, clauses["offset_clause"].children[1])
            raise MalformedQueryError(
                point_at(
                    self.text,
                    token.line or 1,
                    token.column or 1,
                    f"Maximum SOQL offset allowed is {MAX_OFFSET}",
                )
            )

    def integer(self, clause: Tree[Token] | None) -> int | None:
        if clause is None:
            return None
        return int(cast(Token, clause.children[1]))

    def field_path(self, node: Node) -> ast.FieldPath:
        assert isinstance(node, Tree)
        tokens = [cast(Token, t) for t in node.children]
        return ast.FieldPath(parts=tuple(str(t) for t in tokens), pos=_pos(tokens[0]))

    def order_item(self, node: Tree[Token]) -> ast.OrderKey:
        field = self.field_path(node.children[0])
        descending = False
        nulls_first: bool | None = None
        for child in _trees(node)[1:]:
            word = str(child.children[-1]).upper()
            if child.data == "direction":
                descending = word == "DESC"
            else:
                nulls_first = word == "FIRST"
        return ast.OrderKey(field=field, descending=descending, nulls_first=nulls_first)

    def condition(self, node: Node) -> ast.Condition:
        assert isinstance(node, Tree)
        kind = node.data
        if kind in ("and_cond", "or_cond"):
            operands = tuple(self.condition(c) for c in _trees(node))
            return ast.And(operands) if kind == "and_cond" else ast.Or(operands)
        if kind == "not_cond":
            return ast.Not(self.condition(node.children[1]))
        field = self.field_path(node.children[0])
        if kind == "compare":
            op = str(node.children[1])
            op = "!=" if op == "<>" else op
            return ast.Comparison(field, cast(ast.CompareOp, op), self.value(node.children[2]))
        if kind == "like":
            return ast.Comparison(field, "LIKE", self.value(node.children[2]))
        items = _trees(node.children[-1])
        folded = self.lists.get(cast(Token, items[0].children[0]).start_pos or 0)
        values: tuple[ast.Value, ...]
        if len(items) == 1 and folded is not None:
            values = tuple(ast.StringLit(raw[1:-1], self.position(at)) for at, raw in folded)
        else:
            values = tuple(self.value(c) for c in items)
        return ast.InList(field, values, negated=kind == "not_in_list")

    def position(self, offset: int) -> ast.Position:
        """Line and column of a character of the text, counted as lark counts them."""
        if self._line_starts is None:
            self._line_starts = [0] + [m.end() for m in re.finditer("\n", self.text)]
        if len(self._line_starts) == 1:
            return ast.Position(line=1, column=offset + 1)  # one line: no search needed
        line = bisect_right(self._line_starts, offset)
        return ast.Position(line=line, column=offset - self._line_starts[line - 1] + 1)

    def value(self, node: Node) -> ast.Value:
        assert isinstance(node, Tree)
        token = cast(Token, node.children[0])
        pos, text = _pos(token), str(token)
        match node.data:
            case "string":
                return ast.StringLit(text[1:-1], pos)
            case "number":
                is_float = "." in text
                return ast.NumberLit(float(text) if is_float else int(text), pos)
            case "true" | "false":
                return ast.BoolLit(node.data == "true", pos)
            case "null":
                return ast.NullLit(pos)
            case "datetime":
                return ast.DateTimeLit(text, pos)
            case "date":
                return ast.DateLit(text, pos)
            case _:
                name, _, n = text.upper().partition(":")
                return ast.RelativeDate(name, int(n) if n else None, pos)


def _trees(node: Node) -> list[Tree[Token]]:
    assert isinstance(node, Tree)
    return [c for c in node.children if isinstance(c, Tree)]
