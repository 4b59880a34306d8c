"""The emulator's SOQL engine: lark grammar, parser to dataclasses, compiler and evaluator."""

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
