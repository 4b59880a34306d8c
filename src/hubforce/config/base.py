"""What every configuration model shares: no unknown keys, and secrets only by `${ENV_VAR}`.

A secret field holds a `${ENV_VAR}` reference in the file and the variable's value (a
`SecretStr`, redacted in reprs) after validation. The environment comes from the `env` mapping
of the validation context, or `os.environ`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, SecretStr, ValidationInfo

ENV_REF = re.compile(r"^\$\{([A-Za-z_][A-Za-z0-9_]*)\}$")


class InlineSecretError(ValueError):
    """A secret value was written in the file instead of referenced from the environment."""


class MissingEnvError(ValueError):
    """A `${VAR}` reference names a variable that is not set."""

    def __init__(self, variable: str) -> None:
        self.variable = variable
        super().__init__(f"environment variable {variable} is not set")


def _environment(info: ValidationInfo) -> Mapping[str, str]:
    context = info.context
    if isinstance(context, Mapping) and isinstance(context.get("env"), Mapping):
        env: Mapping[str, str] = context["env"]
        return env
    return os.environ


def resolve_env_ref(value: Any, info: ValidationInfo) -> Any:
    """Turn a `${VAR}` reference into the variable's value; refuse anything else."""
    if isinstance(value, SecretStr):
        return value
    if not isinstance(value, str):
        raise InlineSecretError("a secret must be a ${ENV_VAR} reference string")
    match = ENV_REF.match(value.strip())
    if match is None:
        raise InlineSecretError(
            "a secret is written inline; secrets may only be ${ENV_VAR} references"
        )
    variable = match.group(1)
    env = _environment(info)
    if variable not in env or env[variable] == "":
        raise MissingEnvError(variable)
    return SecretStr(env[variable])


SecretRef = Annotated[
    SecretStr,
    BeforeValidator(resolve_env_ref),
    Field(description="A ${ENV_VAR} reference; the secret itself lives in the environment."),
]
"""A secret field: `${VAR}` in the file, the variable's value (redacted in reprs) after load."""


class ConfigModel(BaseModel):
    """Base of every configuration model: frozen, unknown keys refused."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_enum_values=False)
