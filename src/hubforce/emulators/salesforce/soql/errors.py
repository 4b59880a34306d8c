"""SOQL errors, carrying Salesforce's error codes and message shapes.

SoqlError
  MalformedQueryError   MALFORMED_QUERY                syntax, bad literals, clause mixes
  InvalidFieldError     INVALID_FIELD                  unknown column or relationship,
                                                       literal of the wrong type
  InvalidTypeError      INVALID_TYPE                   unknown sObject in FROM
  InvalidFilterError    INVALID_QUERY_FILTER_OPERATOR  malformed id in a filter

The query endpoints translate these into the emulator's vendor exceptions; the SOQL package
itself stays free of FastAPI and of the org model.
"""

from __future__ import annotations

_EXCERPT_WIDTH = 80


class SoqlError(Exception):
    """A query the real API would reject with HTTP 400."""

    error_code = "MALFORMED_QUERY"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class MalformedQueryError(SoqlError):
    """Syntax error or an invalid combination of clauses."""

    error_code = "MALFORMED_QUERY"


class InvalidFieldError(SoqlError):
    """Unknown field or relationship, or a literal that does not fit the field."""

    error_code = "INVALID_FIELD"


class InvalidTypeError(SoqlError):
    """Unknown sObject type."""

    error_code = "INVALID_TYPE"


def point_at(query: str, line: int, column: int, text: str) -> str:
    """Render Salesforce's "excerpt, caret, ERROR at Row:..:Column:.." message form."""
    lines = query.split("\n")
    source = lines[line - 1] if 0 < line <= len(lines) else query
    start = 0
    if len(source) > _EXCERPT_WIDTH:
        # Long queries are shown as a window around the problem, as the real API does.
        start = max(0, min(column - 1 - _EXCERPT_WIDTH // 2, len(source) - _EXCERPT_WIDTH))
    excerpt = source[start : start + _EXCERPT_WIDTH]
    caret = " " * max(0, column - 1 - start) + "^"
    return f"\n{excerpt}\n{caret}\nERROR at Row:{line}:Column:{column}\n{text}"


class InvalidFilterError(SoqlError):
    """A filter value the field can never hold, such as a malformed id."""

    error_code = "INVALID_QUERY_FILTER_OPERATOR"
