"""Loading the configuration file: YAML, `${ENV_VAR}` secrets, and errors a user can act on.

Every problem becomes a `ConfigError` with the file, the key path (e.g.
`objects.contacts.fields[2].rule`) and a hint: "did you mean ..." for a misspelt key or value,
how to move an inline secret to the environment, which variable to export.
"""

from __future__ import annotations

import difflib
import os
import re
import types
import typing
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from hubforce.config.model import HubforceConfig, InlineSecretError, MissingEnvError
from hubforce.errors import ConfigError

DEFAULT_PATH = "hubforce.yaml"


def load_config(
    path: str | os.PathLike[str], env: Mapping[str, str] | None = None
) -> HubforceConfig:
    """Read and validate the configuration file at `path` (secrets from `env` or os.environ)."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            file, "", "no such configuration file", "create one with `hubforce init`"
        ) from None
    except OSError as exc:
        raise ConfigError(file, "", f"cannot read the file: {exc.strerror}") from None
    return parse_config(text, file=file, env=env)


def parse_config(
    text: str, *, file: str = DEFAULT_PATH, env: Mapping[str, str] | None = None
) -> HubforceConfig:
    """Validate configuration YAML `text`; `file` names it in errors."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(file, where, f"not valid YAML: {problem}") from None
    if not isinstance(data, dict):
        raise ConfigError(
            file, "", "the file must hold a mapping of keys (connections, objects...)"
        )
    try:
        return HubforceConfig.model_validate(data, context={"env": env or os.environ})
    except ValidationError as exc:
        raise config_error(file, exc) from None


def config_error(file: str, exc: ValidationError) -> ConfigError:
    """Turn pydantic's errors into one ConfigError: the first problem in full, then a count."""
    errors = exc.errors(include_url=False)
    first = errors[0]
    path = key_path(first["loc"])
    message, hint = describe(first)
    if len(errors) > 1:
        others = ", ".join(key_path(e["loc"]) or "(top)" for e in errors[1:4])
        more = "..." if len(errors) > 4 else ""
        message += f" (and {len(errors) - 1} more problem(s) at {others}{more})"
    return ConfigError(file, path, message, hint)


def key_path(loc: Sequence[int | str]) -> str:
    """`("objects", "contacts", "fields", 2, "rule")` -> `objects.contacts.fields[2].rule`."""
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        elif str(part).startswith(("function-", "tagged-union")) or "[" in str(part):
            continue  # pydantic's names for validator steps and union branches
        else:
            path += f".{part}" if path else str(part)
    return path


def describe(error: ErrorDetails) -> tuple[str, str]:
    """A message and a hint for one pydantic error."""
    kind = error["type"]
    loc = [part for part in error["loc"] if not _internal(part)]
    cause = (error.get("ctx") or {}).get("error")
    if isinstance(cause, MissingEnvError):
        return (
            f"environment variable {cause.variable} is not set",
            f"export {cause.variable}=... before running hubforce",
        )
    if isinstance(cause, InlineSecretError):
        return (
            str(cause),
            "move the value to an environment variable and write ${THAT_VARIABLE} here",
        )
    if kind == "extra_forbidden":
        key = str(loc[-1]) if loc else "?"
        allowed = allowed_keys(loc[:-1])
        close = difflib.get_close_matches(key, allowed, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"allowed keys: {', '.join(allowed)}"
        return f"unknown key {key!r}", hint
    if kind == "enum" or kind == "literal_error":
        expected = str((error.get("ctx") or {}).get("expected", ""))
        choices = re.findall(r"'([^']*)'", expected)
        given = str(error.get("input"))
        close = difflib.get_close_matches(given, choices, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"expected {expected}"
        return f"{given!r} is not a valid value", hint
    if kind == "missing":
        return "required key is missing", ""
    message = str(error["msg"]).removeprefix("Value error, ")
    return message, ""


def _internal(part: int | str) -> bool:
    text = str(part)
    return text.startswith(("function-", "tagged-union")) or "[" in text


def allowed_keys(loc: Sequence[int | str]) -> list[str]:
    """The keys a mapping at `loc` may hold, found by walking the model classes."""
    annotation: Any = HubforceConfig
    for part in loc:
        models = _models_in(annotation)
        if isinstance(part, str):
            for model in models:
                if part in model.model_fields:
                    annotation = model.model_fields[part].annotation
                    break
            # else: a dict key or list index: stay on the container's element type
    models = _models_in(annotation)
    return sorted(models[0].model_fields) if models else []


def _models_in(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    origin = typing.get_origin(annotation)
    if origin is None and not isinstance(annotation, types.UnionType):
        return found
    for arg in typing.get_args(annotation):
        found.extend(_models_in(arg))
    return found
