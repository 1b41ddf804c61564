"""Loading settings for a process entry point: a bad setting refuses to start in one line.

pydantic's own error carries each `input_value`, which for a secret is the secret; the refusal is
built from setting names and rules alone, and raised without that error as its cause.
"""

from __future__ import annotations

import sys
from typing import NoReturn, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings
from pydantic_settings.exceptions import SettingsError

SettingsT = TypeVar("SettingsT", bound=BaseSettings)


class ConfigurationError(Exception):
    """Settings a process refuses, described by setting name and rule only."""


def _environment_name(settings_class: type[BaseSettings], field: object) -> str:
    name = str(field)
    info = settings_class.model_fields.get(name)
    if info is not None and isinstance(info.validation_alias, str):
        return info.validation_alias
    if info is not None:
        return f"{settings_class.model_config.get('env_prefix', '')}{name}".upper()
    return name.upper()  # already the environment name (an alias)


def _describe(settings_class: type[BaseSettings], error: ValidationError) -> str:
    reasons = []
    for detail in error.errors(include_url=False, include_input=False, include_context=False):
        rule = detail["msg"].removeprefix("Value error, ")
        location = detail["loc"]
        # Model-wide rules name their settings themselves; field rules get the name in front.
        if location:
            rule = f"{_environment_name(settings_class, location[0])}: {rule}"
        reasons.append(rule)
    return "; ".join(reasons)


def load_settings(settings_class: type[SettingsT]) -> SettingsT:
    """The settings from the environment, or a ConfigurationError that shows no value."""
    try:
        return settings_class()
    except ValidationError as exc:
        raise ConfigurationError(_describe(settings_class, exc)) from None
    except SettingsError as exc:
        # Raised for a value that is not even parseable (e.g. a list that is not JSON); its
        # message names the field and the source, not the value.
        raise ConfigurationError(str(exc)) from None


def refuse_to_start(error: ConfigurationError) -> NoReturn:
    """How every process entry point ends on bad settings: one line, no traceback, status 2."""
    print(f"refusing to start: {error}", file=sys.stderr)
    raise SystemExit(2)
