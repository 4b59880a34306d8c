"""The SOQL engine bound to an Org: schema lookups, parent fetches and the API's exceptions.

Both the REST query endpoints and Bulk API 2.0 query jobs compile through `compile_for_org`,
so a query is rejected with the same errorCode and message wherever it is sent.
"""

from __future__ import annotations

from hubforce.emulators.salesforce.exceptions import (
    InvalidField,
    InvalidType,
    MalformedQuery,
    SalesforceApiError,
)
from hubforce.emulators.salesforce.models import Org
from hubforce.emulators.salesforce.soql import (
    CompiledQuery,
    ObjectLike,
    Row,
    SoqlError,
    compile_query,
)


class InvalidQueryFilterOperator(SalesforceApiError):
    """A filter value the field cannot hold (e.g. a malformed id)."""

    error_code = "INVALID_QUERY_FILTER_OPERATOR"


_ERRORS: dict[str, type[SalesforceApiError]] = {
    "MALFORMED_QUERY": MalformedQuery,
    "INVALID_FIELD": InvalidField,
    "INVALID_TYPE": InvalidType,
    "INVALID_QUERY_FILTER_OPERATOR": InvalidQueryFilterOperator,
}


def compile_for_org(org: Org, text: str) -> CompiledQuery:
    """Compile `text` against the org's schema; SOQL errors become the vendor exceptions."""

    def lookup(name: str) -> ObjectLike | None:
        try:
            return org.sobject_for_query(name)
        except InvalidType:
            return None

    def fetch(sobject: str, record_id: str) -> Row | None:
        table = org.records.get(sobject)
        return table.get(record_id) if table is not None else None

    try:
        return compile_query(text, lookup, fetch, org.moment())
    except SoqlError as exc:
        raise _ERRORS.get(exc.error_code, MalformedQuery)(exc.message) from None


def run_for_org(org: Org, compiled: CompiledQuery, *, include_deleted: bool) -> list[Row]:
    """The query's rows in result order (stored rows, not copies: render before mutating)."""
    table = org.records.get(compiled.sobject, {})
    lookups = org.key_lookups(compiled.sobject)
    return compiled.run(
        table.values(),
        include_deleted=include_deleted,
        indexes=org.range_indexes(compiled.sobject),
        # Only over the table the lookups were built on (a test may swap a table wholesale).
        lookups=lookups if lookups is not None and lookups.table is table else None,
    )
