"""Per-integration configuration: from code, environment variables or a file.

Secrets are `pydantic.SecretStr` fields: they show as ``'**********'`` in
``repr``, in logs and in errors. A failed validation names the fields and
what is wrong with them, never the values given.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from pathlib import Path
from typing import ClassVar, Self, cast

from pydantic import BaseModel, ConfigDict, JsonValue, ValidationError

from ..automation._loading import read_yaml
from ..errors import ConfigurationError, IntegrationConfigError, InvalidInputError

__all__ = ["IntegrationConfig", "env_prefix"]


def env_prefix(name: str) -> str:
    """The environment prefix of integration ``name``.

    ``"example-notes"`` gives ``"CHATKIT_EXAMPLE_NOTES_"``.
    """
    return "CHATKIT_" + re.sub(r"[^A-Za-z0-9]+", "_", name).upper().strip("_") + "_"


class IntegrationConfig(BaseModel):
    """Base of every integration's settings; subclass it and add fields.

    Frozen, and unknown keys are refused (a typo is an error, not ignored).

    Example:
        ```python
        class ZendeskConfig(IntegrationConfig):
            subdomain: str
            email: str
            api_token: SecretStr

        config = ZendeskConfig.from_env("zendesk")   # CHATKIT_ZENDESK_API_TOKEN, ...
        config = ZendeskConfig.load("zendesk", file="chatkit.yaml")
        ```
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    integration: ClassVar[str] = "integration"
    """Name used in error messages; `Integration` subclasses set it on their config."""

    @classmethod
    def create(cls, data: Mapping[str, object], *, name: str | None = None) -> Self:
        """Validate ``data``; a failure is an `IntegrationConfigError` without values.

        Raises:
            IntegrationConfigError: Missing, unknown or invalid fields.
        """
        try:
            return cls.model_validate(dict(data))
        except ValidationError as exc:
            raise _config_error(name or cls.integration, exc) from None

    @classmethod
    def from_env(
        cls, name: str, *, environ: Mapping[str, str] | None = None, prefix: str | None = None
    ) -> Self:
        """Read each field from ``CHATKIT_<NAME>_<FIELD>``.

        A value that starts with ``[`` or ``{`` is read as JSON (lists, dicts,
        nested models); everything else is a string that pydantic converts
        (``"100"`` → 100, ``"true"`` → True).

        Args:
            name: The integration's name, giving the prefix (see `env_prefix`).
            environ: Variables to read instead of ``os.environ``.
            prefix: A prefix to use instead of the one derived from ``name``.

        Raises:
            IntegrationConfigError: Missing or invalid fields.
        """
        return cls.create(_from_env(cls, name, environ, prefix), name=name)

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], *, section: str | None = None) -> Self:
        """Read a JSON or YAML (``.yaml``/``.yml``, needs ``chatkit[yaml]``) file.

        Args:
            path: The file.
            section: A top-level key holding this integration's settings, for a
                file shared by several integrations.

        Raises:
            IntegrationConfigError: Unreadable file, missing section, or invalid fields.
        """
        name = section or cls.integration
        return cls.create(_read_file(Path(path), section, name), name=name)

    @classmethod
    def load(
        cls,
        name: str,
        *,
        file: str | os.PathLike[str] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> Self:
        """File, then environment on top: how the CLI and the sync worker configure.

        The file is ``file`` (its ``name`` section) or else the one named by
        ``CHATKIT_<NAME>_CONFIG_FILE`` (the whole file); environment variables
        ``CHATKIT_<NAME>_<FIELD>`` override single fields of it.

        Raises:
            IntegrationConfigError: Missing or invalid fields, or a bad file.
        """
        env = os.environ if environ is None else environ
        data: dict[str, object] = {}
        own_file = env.get(env_prefix(name) + "CONFIG_FILE")
        if file is not None:
            data.update(_read_file(Path(file), name, name))
        elif own_file:
            data.update(_read_file(Path(own_file), None, name))
        data.update(_from_env(cls, name, env, None))
        return cls.create(data, name=name)


def _from_env(
    cls: type[IntegrationConfig],
    name: str,
    environ: Mapping[str, str] | None,
    prefix: str | None,
) -> dict[str, object]:
    env = os.environ if environ is None else environ
    prefix = prefix or env_prefix(name)
    data: dict[str, object] = {}
    for field, info in cls.model_fields.items():
        key = prefix + (info.alias or field).upper()
        if key not in env:
            continue
        raw = env[key]
        if raw.lstrip()[:1] in ("[", "{"):
            try:
                data[field] = cast(JsonValue, json.loads(raw))
                continue
            except ValueError:
                raise IntegrationConfigError(
                    f"{name}: {key} starts like JSON but is not valid JSON",
                    integration=name,
                    fields=(field,),
                ) from None
        data[field] = raw
    return data


def _read_file(path: Path, section: str | None, name: str) -> dict[str, object]:
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise IntegrationConfigError(
            f"{name}: cannot read config file {path}: {exc.strerror}", integration=name
        ) from exc
    loaded: object
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            loaded = read_yaml(text)
        except InvalidInputError:
            raise IntegrationConfigError(
                f"{name}: {path} is not valid YAML", integration=name
            ) from None
        except ConfigurationError as exc:  # PyYAML missing: the message says what to install
            raise IntegrationConfigError(f"{name}: {exc}", integration=name) from None
    else:
        try:
            loaded = json.loads(text)
        except ValueError:
            raise IntegrationConfigError(
                f"{name}: {path} is not valid JSON", integration=name
            ) from None
    if section is not None:
        loaded = loaded.get(section) if isinstance(loaded, dict) else None
        if loaded is None:
            raise IntegrationConfigError(
                f"{name}: {path} has no {section!r} section", integration=name
            )
    if not isinstance(loaded, dict):
        raise IntegrationConfigError(
            f"{name}: {path} must hold a mapping of settings", integration=name
        )
    return {str(key): value for key, value in loaded.items()}


def _config_error(name: str, exc: ValidationError) -> IntegrationConfigError:
    # Built from locations and messages only: pydantic's own text quotes the
    # input, which may be a secret. The cause is dropped for the same reason.
    fields: list[str] = []
    reasons: list[str] = []
    for error in exc.errors(include_input=False, include_url=False):
        where = ".".join(str(part) for part in error["loc"]) or "(config)"
        fields.append(where)
        reasons.append(f"{where}: {error['msg']}")
    return IntegrationConfigError(
        f"{name}: invalid configuration: {'; '.join(reasons)}",
        integration=name,
        fields=tuple(dict.fromkeys(fields)),
    )
