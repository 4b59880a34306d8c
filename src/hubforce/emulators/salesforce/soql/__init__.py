"""The emulator's SOQL engine: lark grammar, parser to dataclasses, compiler and evaluator.

Supported: SELECT of fields and parent paths (`Owner.Email`, `Owner.Manager.Name`, polymorphic
lookups resolved by the record found) or `COUNT()`; FROM one sObject; WHERE with
`= != <> < <= > >= LIKE IN NOT IN`, AND / OR (not mixed without parentheses), NOT, parentheses,
null, quoted strings with escapes, numbers, booleans, unquoted date and dateTime literals and
the relative date literals (TODAY, LAST_N_DAYS:n, THIS_MONTH, ...); ORDER BY several keys with
ASC/DESC and NULLS FIRST/LAST; LIMIT; OFFSET (at most 2,000). Keywords, object and field names
are case-insensitive; results use the schema's names. Text compares case-insensitively; a
15-character id equals its 18-character form.

Not supported (rejected as MALFORMED_QUERY): child sub-queries, GROUP BY / HAVING and aggregate
functions other than COUNT(), TYPEOF, INCLUDES / EXCLUDES, WITH, FOR VIEW / UPDATE, aliases.

    parse_soql(text) -> ast.Query                       (grammar.py, parser.py)
    compile_query(text, lookup, fetch, now) -> CompiledQuery   (compiler.py, evaluator.py)
    CompiledQuery.run(rows) / .render(row, version) / .flat(row)
"""

from hubforce.emulators.salesforce.soql.errors import (
    InvalidFieldError,
    InvalidFilterError,
    InvalidTypeError,
    MalformedQueryError,
    SoqlError,
)
from hubforce.emulators.salesforce.soql.evaluator import CompiledQuery, compile_query
from hubforce.emulators.salesforce.soql.parser import parse_soql
from hubforce.emulators.salesforce.soql.schema import ObjectLike, ParentFetch, Row, SchemaLookup

__all__ = [
    "CompiledQuery",
    "InvalidFieldError",
    "InvalidFilterError",
    "InvalidTypeError",
    "MalformedQueryError",
    "ObjectLike",
    "ParentFetch",
    "Row",
    "SchemaLookup",
    "SoqlError",
    "compile_query",
    "parse_soql",
]
