"""The properties of the emulated HubSpot portal: object types, definitions, validation.

`InputError` is one refused input (a 207 answer's error entry); values are
checked against each property's type, uniqueness and a ticket's pipeline,
stage, priority and owner.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping
from typing import Any

from ._records import (
    DEFAULT_PIPELINE,
    NOTE_BODY_MAX,
    READ_ONLY,
    SINGULAR,
    TICKET_PRIORITIES,
    CrmObject,
    HubSpotAPIError,
    PropertyDef,
    Record,
    error_body,
    parse_datetime,
)


class InputError(Exception):
    """One batch input refused: becomes an entry of a 207 answer's ``errors``."""

    def __init__(self, message: str, category: str, **context: list[str]) -> None:
        super().__init__(message)
        self.message = message
        self.category = category
        self.context = context


def _invalid_property(name: str, message: str, error: str) -> InputError:
    detail = {
        "isValid": False,
        "message": message,
        "error": error,
        "name": name,
        "localizedErrorMessage": message,
    }
    return InputError(f"Property values were not valid: {json.dumps([detail])}", "VALIDATION_ERROR")


def _as_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


class _PropertyState:
    """Property definitions of `HubSpotState`, and the checks every write goes through."""

    lock: threading.RLock
    objects: dict[str, dict[int, CrmObject]]
    properties: dict[str, dict[str, PropertyDef]]
    pipelines: dict[str, dict[str, str]]
    owners: dict[str, Record]

    def _check_type(self, object_type: str) -> None:
        if object_type not in self.objects:
            raise HubSpotAPIError(
                400,
                error_body(f"Unable to infer object type from: {object_type}", "VALIDATION_ERROR"),
            )

    def define_property(
        self, object_type: str, name: str, *, type: str = "string", unique: bool = False
    ) -> None:
        """Create a custom property, as ``POST /crm/v3/properties/{type}`` would."""
        with self.lock:
            self._check_type(object_type)
            self.properties[object_type][name] = PropertyDef(name, type, unique)

    def _validate(
        self, object_type: str, properties: Mapping[str, Any], existing: CrmObject | None
    ) -> dict[str, str | None]:
        defs = self.properties[object_type]
        clean: dict[str, str | None] = {}
        for name, value in properties.items():
            if name not in defs:
                raise _invalid_property(
                    name, f'Property "{name}" does not exist', "PROPERTY_DOESNT_EXIST"
                )
            if name in READ_ONLY:
                raise _invalid_property(
                    name,
                    f'"{name}" is a read only property; its value cannot be set.',
                    "READ_ONLY_VALUE",
                )
            clean[name] = None if value is None else _as_text(value)
        merged = {**(existing.properties if existing else {}), **clean}
        if object_type == "tickets":
            self._validate_ticket(merged, clean, creating=existing is None)
        if object_type == "notes":
            if existing is None and not merged.get("hs_timestamp"):
                raise _invalid_property(
                    "hs_timestamp", "hs_timestamp is required", "REQUIRED_PROPERTY"
                )
            if len(merged.get("hs_note_body") or "") > NOTE_BODY_MAX:
                raise _invalid_property(
                    "hs_note_body",
                    f"hs_note_body is longer than {NOTE_BODY_MAX} characters",
                    "INVALID_STRING",
                )
            if clean.get("hs_timestamp") and parse_datetime(clean["hs_timestamp"]) is None:
                raise _invalid_property(
                    "hs_timestamp",
                    f"{clean['hs_timestamp']} is not a valid datetime",
                    "INVALID_DATE",
                )
        for name, value in clean.items():
            if value and defs[name].unique:
                for other in self.objects[object_type].values():
                    if other.archived or (existing is not None and other.id == existing.id):
                        continue
                    current = other.properties.get(name)
                    if current is not None and current.lower() == value.lower():
                        if object_type == "contacts" and name == "email":
                            raise InputError(
                                f"Contact already exists. Existing ID: {other.id}",
                                "CONFLICT",
                                existingId=[str(other.id)],
                            )
                        raise InputError(
                            f'A {SINGULAR[object_type]} with the unique value "{value}" for '
                            f'property "{name}" already exists. Existing ID: {other.id}',
                            "CONFLICT",
                            existingId=[str(other.id)],
                        )
        return clean

    def _validate_ticket(
        self, merged: Mapping[str, str | None], clean: Mapping[str, str | None], *, creating: bool
    ) -> None:
        if creating:
            for required in ("subject", "hs_pipeline_stage"):
                if not merged.get(required):
                    raise _invalid_property(
                        required, f"{required} is required", "REQUIRED_PROPERTY"
                    )
        pipeline = merged.get("hs_pipeline") or DEFAULT_PIPELINE
        if pipeline not in self.pipelines:
            raise _invalid_property(
                "hs_pipeline", f"{pipeline} was not one of the allowed options", "INVALID_OPTION"
            )
        stage = merged.get("hs_pipeline_stage")
        if ("hs_pipeline_stage" in clean or "hs_pipeline" in clean) and (
            stage not in self.pipelines[pipeline]
        ):
            raise _invalid_property(
                "hs_pipeline_stage",
                f"{stage} is not a valid pipeline stage of pipeline {pipeline}",
                "INVALID_OPTION",
            )
        owner = clean.get("hubspot_owner_id")
        if owner and (owner not in self.owners or self.owners[owner]["archived"]):
            raise _invalid_property(
                "hubspot_owner_id",
                f"{owner} was not one of the allowed options",
                "INVALID_OPTION",
            )
        priority = clean.get("hs_ticket_priority")
        if priority and priority not in TICKET_PRIORITIES:
            raise _invalid_property(
                "hs_ticket_priority",
                f"{priority} was not one of the allowed options: {list(TICKET_PRIORITIES)}",
                "INVALID_OPTION",
            )
