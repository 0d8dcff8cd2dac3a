"""A broken setting as one line that names its environment variable and the fix.

`runq …` (gateway/entry_errors.py) and `celery -A config …` (config/__init__.py) both report
a settings error with this text, and exit with `ConfigError.exit_code`.
"""

from __future__ import annotations

import json
import re
import sys
from typing import Any

from pydantic import ValidationError
from pydantic_settings import BaseSettings, SettingsError

from config.errors import ConfigError

_SETTINGS_FIELD = re.compile(r'field "([^"]+)"')


def configuration_error(message: str) -> str:
    """`message` as a configuration error, pointing at where every setting is described."""
    return f"configuration error: {message} (every setting: config/settings.py)"


def explain_setting_error(exc: BaseException) -> str | None:
    """The one line for a settings error (raised by pydantic, or the ConfigError that
    config.settings wraps it in), naming the variable; None for any other error."""
    # config.settings wraps what pydantic raised in a ConfigError; the cause has the details.
    cause = exc.__cause__ if isinstance(exc, ConfigError) else exc
    if isinstance(cause, SettingsError):
        match = _SETTINGS_FIELD.search(str(cause))
        variable = _env_name(match.group(1)) if match else "a RUNQ_* variable"
        reason = cause.__cause__
        problem = (
            f"is not valid JSON ({reason})"
            if isinstance(reason, json.JSONDecodeError)
            else f"cannot be read ({reason or cause})"
        )
        return configuration_error(f"{variable} {problem}; fix it or unset it")
    if isinstance(cause, ValidationError) and cause.title in _settings_classes():
        error = cause.errors()[0]
        message = str(error["msg"]).removeprefix("Value error, ")
        if not error["loc"]:
            return configuration_error(message)
        first, *rest = (str(part) for part in error["loc"])
        where = f" (at {'.'.join(rest)})" if rest else ""
        return configuration_error(
            f"{_env_name(first, cause.title)}{where}: {message}; fix it or unset it"
        )
    return None


def _settings_classes() -> dict[str, Any]:
    """The settings classes by name: `Settings` and its groups."""
    # Read from sys.modules: importing `config.settings` again would re-raise its error.
    module = sys.modules.get("config.settings")
    members = vars(module).values() if module else ()
    return {
        cls.__name__: cls
        for cls in members
        if isinstance(cls, type) and issubclass(cls, BaseSettings) and cls is not BaseSettings
    }


def _env_name(field: str, group: str | None = None) -> str:
    """The environment variable that sets `field` (of settings class `group`, if known)."""
    if field.isupper():
        return field  # a field read by its variable name is reported under that name
    for name, cls in _settings_classes().items():
        info = cls.model_fields.get(field)
        if info is None or group not in (None, name):
            continue
        choices = getattr(info.validation_alias, "choices", [])
        standard = [choice for choice in choices if isinstance(choice, str) and choice.isupper()]
        if standard:
            return str(standard[0])
        return str(cls.model_config.get("env_prefix", "RUNQ_")).upper() + field.upper()
    return "RUNQ_" + field.upper()
