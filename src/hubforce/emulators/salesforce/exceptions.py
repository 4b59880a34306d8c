"""Errors of the Salesforce emulator, each pinning the real API's `errorCode` and HTTP status.

Handlers and the backend raise these; `wire.py` renders every one of them, once, as the REST
error array `[{"message", "errorCode", "fields"}]` through a handler registered on the base class.

    SalesforceApiError                      (400 by default)
      MultipleRecordsMatch                  300 (body: the matching records' URLs)
      MalformedQuery                        400 MALFORMED_QUERY
      InvalidField                          400 INVALID_FIELD
      InvalidFieldForInsertUpdate           400 INVALID_FIELD_FOR_INSERT_UPDATE
      InvalidType                           400 INVALID_TYPE
      InvalidQueryLocator                   400 INVALID_QUERY_LOCATOR
      MalformedId                           400 MALFORMED_ID
      RequiredFieldMissing                  400 REQUIRED_FIELD_MISSING
      StringTooLong                         400 STRING_TOO_LONG
      InvalidOrNullForRestrictedPicklist    400 INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST
      InvalidEmailAddress                   400 INVALID_EMAIL_ADDRESS
      InvalidCrossReferenceKey              400 INVALID_CROSS_REFERENCE_KEY
      InvalidFieldValue                     400 INVALID_TYPE_ON_FIELD_IN_RECORD
      DuplicateValue                        400 DUPLICATE_VALUE
      DuplicatesDetected                    400 DUPLICATES_DETECTED (body carries `duplicateResut`)
      FieldCustomValidation                 400 FIELD_CUSTOM_VALIDATION_EXCEPTION
      CannotUpdateConvertedLead             400 CANNOT_UPDATE_CONVERTED_LEAD
      InvalidStatus                         400 INVALID_STATUS
      EntityIsDeleted                       404 ENTITY_IS_DELETED
      InvalidReplicationDate                400 INVALID_REPLICATION_DATE
      ExceededIdLimit                       400 EXCEEDED_ID_LIMIT
      InvalidOperation                      400 INVALID_OPERATION
      JsonParserError                       400 JSON_PARSER_ERROR
      UnableToLockRow                       400 UNABLE_TO_LOCK_ROW
      InvalidSessionId                      401 INVALID_SESSION_ID
      RequestLimitExceeded                  403 REQUEST_LIMIT_EXCEEDED
      ApiDisabledForOrg                     403 API_DISABLED_FOR_ORG
      NotFound                              404 NOT_FOUND
      MethodNotAllowed                      405 METHOD_NOT_ALLOWED
      RequestEntityTooLarge                 413 REQUEST_ENTITY_TOO_LARGE
      UnsupportedMediaType                  415 UNSUPPORTED_MEDIA_TYPE
      UnknownException                      500 UNKNOWN_EXCEPTION
      ServerUnavailable                     503 SERVER_UNAVAILABLE
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


class SalesforceApiError(Exception):
    """An API error with the vendor's status, errorCode, message and offending fields."""

    status: int = 400
    error_code: str = "UNKNOWN_EXCEPTION"

    def __init__(self, message: str, fields: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.message = message
        self.fields = list(fields)

    def extra(self) -> dict[str, Any]:
        """Additional keys of the error body (only duplicate rules use this)."""
        return {}


class MalformedQuery(SalesforceApiError):
    error_code = "MALFORMED_QUERY"


class InvalidField(SalesforceApiError):
    error_code = "INVALID_FIELD"


class InvalidFieldForInsertUpdate(SalesforceApiError):
    error_code = "INVALID_FIELD_FOR_INSERT_UPDATE"


class InvalidType(SalesforceApiError):
    error_code = "INVALID_TYPE"


class InvalidQueryLocator(SalesforceApiError):
    error_code = "INVALID_QUERY_LOCATOR"


class MalformedId(SalesforceApiError):
    error_code = "MALFORMED_ID"


class RequiredFieldMissing(SalesforceApiError):
    error_code = "REQUIRED_FIELD_MISSING"


class StringTooLong(SalesforceApiError):
    error_code = "STRING_TOO_LONG"


class InvalidOrNullForRestrictedPicklist(SalesforceApiError):
    error_code = "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"


class InvalidEmailAddress(SalesforceApiError):
    error_code = "INVALID_EMAIL_ADDRESS"


class InvalidCrossReferenceKey(SalesforceApiError):
    error_code = "INVALID_CROSS_REFERENCE_KEY"


class InvalidFieldValue(SalesforceApiError):
    error_code = "INVALID_TYPE_ON_FIELD_IN_RECORD"


class DuplicateValue(SalesforceApiError):
    error_code = "DUPLICATE_VALUE"


class DuplicatesDetected(SalesforceApiError):
    """A duplicate rule blocked the save; the body names the rule and the matching records."""

    error_code = "DUPLICATES_DETECTED"

    def __init__(
        self,
        message: str,
        *,
        rule: str,
        sobject: str,
        allow_save: bool,
        matches: Sequence[tuple[str, str]] = (),
        version: str = "59.0",
    ) -> None:
        super().__init__(message)
        self.rule = rule
        self.sobject = sobject
        self.allow_save = allow_save
        self.matches = list(matches)  # (sobject, id)
        self.version = version

    def extra(self) -> dict[str, Any]:
        """The `duplicateResut` (sic, as the real API spells it) block."""
        by_type: dict[str, list[str]] = {}
        for sobject, record_id in self.matches:
            by_type.setdefault(sobject, []).append(record_id)
        match_results = [
            {
                "entityType": sobject,
                "errors": [],
                "matchEngine": "ExactMatchEngine",
                "rule": f"{self.rule}_Match",
                "size": len(ids),
                "success": True,
                "matchRecords": [
                    {
                        "additionalInformation": [],
                        "fieldDiffs": [],
                        "matchConfidence": 100.0,
                        "record": {
                            "attributes": {
                                "type": sobject,
                                "url": f"/services/data/v{self.version}/sobjects/{sobject}/{rid}",
                            },
                            "Id": rid,
                        },
                    }
                    for rid in ids
                ],
            }
            for sobject, ids in by_type.items()
        ]
        return {
            "duplicateResut": {
                "allowSave": self.allow_save,
                "duplicateRule": self.rule,
                "duplicateRuleEntityType": self.sobject,
                "errorMessage": self.message,
                "matchResults": match_results,
            }
        }


class FieldCustomValidation(SalesforceApiError):
    error_code = "FIELD_CUSTOM_VALIDATION_EXCEPTION"


class CannotUpdateConvertedLead(SalesforceApiError):
    error_code = "CANNOT_UPDATE_CONVERTED_LEAD"


class EntityIsDeleted(SalesforceApiError):
    status = 404
    error_code = "ENTITY_IS_DELETED"


class InvalidReplicationDate(SalesforceApiError):
    error_code = "INVALID_REPLICATION_DATE"


class InvalidOperation(SalesforceApiError):
    error_code = "INVALID_OPERATION"


class JsonParserError(SalesforceApiError):
    error_code = "JSON_PARSER_ERROR"


class UnableToLockRow(SalesforceApiError):
    error_code = "UNABLE_TO_LOCK_ROW"


class InvalidSessionId(SalesforceApiError):
    status = 401
    error_code = "INVALID_SESSION_ID"


class RequestLimitExceeded(SalesforceApiError):
    status = 403
    error_code = "REQUEST_LIMIT_EXCEEDED"


class ApiDisabledForOrg(SalesforceApiError):
    status = 403
    error_code = "API_DISABLED_FOR_ORG"


class NotFound(SalesforceApiError):
    status = 404
    error_code = "NOT_FOUND"


class MethodNotAllowed(SalesforceApiError):
    status = 405
    error_code = "METHOD_NOT_ALLOWED"


class RequestEntityTooLarge(SalesforceApiError):
    status = 413
    error_code = "REQUEST_ENTITY_TOO_LARGE"


class UnsupportedMediaType(SalesforceApiError):
    status = 415
    error_code = "UNSUPPORTED_MEDIA_TYPE"


class UnknownException(SalesforceApiError):
    status = 500
    error_code = "UNKNOWN_EXCEPTION"


class ServerUnavailable(SalesforceApiError):
    status = 503
    error_code = "SERVER_UNAVAILABLE"


class MultipleRecordsMatch(SalesforceApiError):
    """Upsert found several records for one external id: 300 with a JSON array of their URLs."""

    status = 300
    error_code = "MULTIPLE_CHOICES"

    def __init__(self, sobject: str, ids: Sequence[str], version: str = "59.0") -> None:
        super().__init__(f"multiple records of {sobject} match the external id")
        self.urls = [f"/services/data/v{version}/sobjects/{sobject}/{rid}" for rid in ids]


class InvalidStatus(SalesforceApiError):
    error_code = "INVALID_STATUS"


class ExceededIdLimit(SalesforceApiError):
    error_code = "EXCEEDED_ID_LIMIT"
