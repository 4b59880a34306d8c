"""Validation of a forms-API submission body (reference section 8).

Every problem becomes one `{"message": "Error in '<where>'. <why>", "errorType": <TYPE>}` item,
with HubSpot's error types (INVALID_EMAIL, REQUIRED_FIELD, FIELD_NOT_IN_FORM_DEFINITION, ...);
the handler answers 400 with all of them at once, as the real API does. Values are normalised
with the portal's own property rules, so a form stores what the CRM API would store.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from hubforce.emulators.hubspot.form_models import CONTACT_OBJECT_TYPE_ID, FormDefinition
from hubforce.emulators.hubspot.properties import PropertyDef, normalize_value

MAX_FIELDS = 1000
MAX_VALUE_LENGTH = 65_536
# Errors that reject the submission before its values are looked at.
_WHOLE_SUBMISSION = {"FIELD_NOT_IN_FORM_DEFINITION", "MAX_NUMBER_OF_SUBMITTED_VALUES_EXCEEDED"}
HUTK_RE = re.compile(r"^[0-9a-f]{32}$")
# Portal failure codes -> the forms API's error types (others keep the portal's code).
_ERROR_TYPES = {
    "INVALID_EMAIL": "INVALID_EMAIL",
    "INVALID_INTEGER": "INVALID_NUMBER",
    "INVALID_FLOAT": "INVALID_NUMBER",
    "INVALID_OPTION": "VALUE_NOT_IN_FIELD_DEFINITION",
    "INVALID_BOOLEAN": "VALUE_NOT_IN_FIELD_DEFINITION",
}


@dataclass
class CheckedSubmission:
    """A valid submission: normalised contact values and the context to record."""

    values: dict[str, str]
    submitted_values: list[dict[str, str]]
    submitted_at: int | None
    context: dict[str, Any]
    errors: list[dict[str, str]] = field(default_factory=list)


def _error(where: str, why: str, error_type: str) -> dict[str, str]:
    return {"message": f"Error in '{where}'. {why}", "errorType": error_type}


def _as_text(value: object) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _check_fields(
    form: FormDefinition,
    raw_fields: object,
    catalogue: dict[str, PropertyDef],
    skip_validation: bool,
    errors: list[dict[str, str]],
) -> tuple[dict[str, str], list[dict[str, str]]]:
    if not isinstance(raw_fields, list):
        errors.append(_error("fields", "Expected an array of fields", "INVALID_METADATA"))
        return {}, []
    if len(raw_fields) > MAX_FIELDS:
        errors.append(
            _error(
                "fields",
                f"A submission may contain at most {MAX_FIELDS} values",
                "MAX_NUMBER_OF_SUBMITTED_VALUES_EXCEEDED",
            )
        )
        return {}, []
    collected: dict[str, list[str]] = {}
    submitted: list[dict[str, str]] = []
    for index, item in enumerate(raw_fields):
        name = item.get("name") if isinstance(item, dict) else None
        value = _as_text(item.get("value")) if isinstance(item, dict) else None
        if not isinstance(name, str) or not name or value is None:
            errors.append(
                _error(f"fields[{index}]", "Expected name and value strings", "INVALID_METADATA")
            )
            continue
        where = f"fields.{name}"
        type_id = item.get("objectTypeId", CONTACT_OBJECT_TYPE_ID)
        known = form.field_named(name) is not None or skip_validation
        prop = catalogue.get(name)
        if not known or type_id != CONTACT_OBJECT_TYPE_ID or prop is None or prop.read_only_value:
            errors.append(
                _error(
                    where,
                    f"Field '{name}' is not in the form definition",
                    "FIELD_NOT_IN_FORM_DEFINITION",
                )
            )
            continue
        if len(value) > MAX_VALUE_LENGTH:
            errors.append(
                _error(where, f"Value is longer than {MAX_VALUE_LENGTH}", "INPUT_TOO_LARGE")
            )
            continue
        collected.setdefault(name, []).append(value)
        submitted.append({"name": name, "value": value})
    # A field sent several times (multiple checkboxes) becomes one ';'-separated value.
    return {name: ";".join(parts) for name, parts in collected.items()}, submitted


def _normalise(
    raw: dict[str, str],
    catalogue: dict[str, PropertyDef],
    blocked: set[str],
    errors: list[dict[str, str]],
) -> dict[str, str]:
    values: dict[str, str] = {}
    for name, value in raw.items():
        result = normalize_value(catalogue[name], value.strip())
        where = f"fields.{name}"
        if isinstance(result, dict):
            code = str(result["error"])
            if code == "INVALID_EMAIL":
                errors.append(_error(where, "Invalid email address", "INVALID_EMAIL"))
            else:
                errors.append(_error(where, str(result["message"]), _ERROR_TYPES.get(code, code)))
            continue
        if name == "email" and result in blocked:
            errors.append(_error(where, "Email address is blocked", "BLOCKED_EMAIL"))
            continue
        values[name] = result
    return values


def _check_context(context: object, errors: list[dict[str, str]]) -> dict[str, Any]:
    if context is None:
        return {}
    if not isinstance(context, dict):
        errors.append(_error("context", "Expected an object", "INVALID_METADATA"))
        return {}
    hutk = context.get("hutk")
    if hutk is not None and not (isinstance(hutk, str) and HUTK_RE.match(hutk)):
        errors.append(_error("context.hutk", "Invalid hutk", "INVALID_HUTK"))
    page_uri = context.get("pageUri")
    if page_uri is not None:
        parts = urlsplit(page_uri) if isinstance(page_uri, str) else None
        if parts is None or parts.scheme not in ("http", "https") or not parts.netloc:
            errors.append(_error("context.pageUri", "Invalid page URI", "INVALID_PAGE_URI"))
    ip = context.get("ipAddress")
    if ip is not None:
        try:
            ipaddress.ip_address(str(ip))
        except ValueError:
            errors.append(_error("context.ipAddress", "Invalid IP address", "INVALID_IP_ADDRESS"))
    return dict(context)


def _check_consent(options: object, required: bool, errors: list[dict[str, str]]) -> None:
    where = "legalConsentOptions"
    if options is None:
        if required:
            errors.append(
                _error(where, "Consent to process is required", "MISSING_PROCESSING_CONSENT")
            )
        return
    consent = options.get("consent") if isinstance(options, dict) else None
    interest = options.get("legitimateInterest") if isinstance(options, dict) else None
    if not isinstance(options, dict) or (consent is None) == (interest is None):
        errors.append(
            _error(
                where,
                "Expected one of consent or legitimateInterest",
                "INVALID_LEGAL_OPTION_FORMAT",
            )
        )
        return
    if interest is not None:
        if not isinstance(interest, dict) or not interest.get("text"):
            errors.append(
                _error(
                    f"{where}.legitimateInterest",
                    "Missing text",
                    "MISSING_LEGITIMATE_INTEREST_TEXT",
                )
            )
        return
    if not isinstance(consent, dict):
        errors.append(
            _error(f"{where}.consent", "Expected an object", "INVALID_LEGAL_OPTION_FORMAT")
        )
        return
    if consent.get("consentToProcess") is not True:
        if required:
            errors.append(
                _error(
                    f"{where}.consent",
                    "Consent to process is required",
                    "MISSING_PROCESSING_CONSENT",
                )
            )
    elif not consent.get("text"):
        errors.append(
            _error(f"{where}.consent", "Missing consent text", "MISSING_PROCESSING_CONSENT_TEXT")
        )
    seen: set[object] = set()
    for item in consent.get("communications") or []:
        type_id = item.get("subscriptionTypeId") if isinstance(item, dict) else None
        if not isinstance(item, dict) or not item.get("text"):
            errors.append(
                _error(
                    f"{where}.consent.communications",
                    "Missing text",
                    "MISSING_COMMUNICATION_CONSENT_TEXT",
                )
            )
        elif type_id in seen:
            errors.append(
                _error(
                    f"{where}.consent.communications",
                    f"Subscription type {type_id} appears twice",
                    "DUPLICATE_SUBSCRIPTION_TYPE_ID",
                )
            )
        seen.add(type_id)


def _submitted_at(raw: object, errors: list[dict[str, str]]) -> int | None:
    if raw is None:
        return None
    text = _as_text(raw)
    if text is None or not text.isdigit():
        errors.append(_error("submittedAt", "Expected epoch milliseconds", "INVALID_METADATA"))
        return None
    return int(text)


def check_submission(
    form: FormDefinition,
    body: dict[str, Any],
    catalogue: dict[str, PropertyDef],
    blocked: set[str],
) -> CheckedSubmission:
    """Validate a submission body for `form`; `errors` lists every problem found."""
    errors: list[dict[str, str]] = []
    skip = body.get("skipValidation") is True
    raw, submitted = _check_fields(form, body.get("fields"), catalogue, skip, errors)
    if any(e["errorType"] in _WHOLE_SUBMISSION for e in errors):
        return CheckedSubmission({}, [], None, {}, errors)
    values = _normalise(raw, catalogue, blocked, errors)
    if not skip:
        for form_field in form.fields:
            if form_field.required and not raw.get(form_field.name, "").strip():
                name = form_field.name
                errors.append(
                    _error(
                        f"fields.{name}", f"Required field '{name}' is missing", "REQUIRED_FIELD"
                    )
                )
    context = _check_context(body.get("context"), errors)
    _check_consent(body.get("legalConsentOptions"), form.consent_required, errors)
    submitted_at = _submitted_at(body.get("submittedAt"), errors)
    return CheckedSubmission(values, submitted, submitted_at, context, errors)
