"""Field validation of the emulated Salesforce org, as the REST API does it.

Unknown and read-only fields, required fields, lengths, restricted
picklists, emails, lookups and unique external ids.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from ._records import (
    CANON,
    EXTERNAL_ID_FIELDS,
    SCHEMA,
    FieldSpec,
    Record,
    RecordError,
    SalesforceAPIError,
    sobject_of_id,
)
from ._state_reads import _ReadState

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class _ValidationState(_ReadState):
    """The checks every write to `SalesforceState` goes through."""

    def check_fields(self, sobject: str, fields: Mapping[str, Any]) -> dict[str, Any]:
        """Canonical field names; an unknown field fails the whole request (400 INVALID_FIELD)."""
        out: dict[str, Any] = {}
        for name, value in fields.items():
            if name == "attributes":
                continue
            canonical = CANON[sobject].get(name)
            if canonical is None:
                raise SalesforceAPIError.one(
                    400, "INVALID_FIELD", f"No such column '{name}' on sobject of type {sobject}"
                )
            out[canonical] = value
        return out

    def _validate(
        self, sobject: str, fields: Mapping[str, Any], *, creating: bool, current: Record | None
    ) -> None:
        schema = SCHEMA[sobject]
        locked = [
            name
            for name in fields
            if not (schema[name].createable if creating else schema[name].updateable)
        ]
        if locked:
            raise RecordError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to create/update fields: {', '.join(locked)}. Please check the security "
                "settings of this field and verify that it is read/write for your profile or "
                "permission set.",
                locked,
            )
        merged = {**(current or {}), **fields}
        missing = [
            name
            for name, spec in schema.items()
            if spec.required and (creating or name in fields) and merged.get(name) in (None, "")
        ]
        if missing:
            raise RecordError(
                "REQUIRED_FIELD_MISSING",
                f"Required fields are missing: [{', '.join(missing)}]",
                missing,
            )
        for name, value in fields.items():
            if value is not None:
                self._check_value(sobject, name, schema[name], value)
        for name in EXTERNAL_ID_FIELDS.get(sobject, ()):
            value = fields.get(name)
            if value in (None, ""):
                continue
            for other in self.records[sobject].values():
                if (
                    not other["IsDeleted"]
                    and other.get(name) == value
                    and (current is None or other["Id"] != current["Id"])
                ):
                    raise RecordError(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: {name} duplicates value on record with id: "
                        f"{other['Id']}",
                    )

    def _check_value(self, sobject: str, name: str, spec: FieldSpec, value: Any) -> None:
        label = spec.label or name
        if spec.type == "boolean":
            if not isinstance(value, bool):
                raise RecordError(
                    "INVALID_TYPE_ON_FIELD_IN_RECORD",
                    f"{label}: value not of required type: {value}",
                    [name],
                )
            return
        if spec.type in ("string", "textarea", "email", "phone", "picklist", "reference") and (
            not isinstance(value, str)
        ):
            raise RecordError(
                "INVALID_TYPE_ON_FIELD_IN_RECORD",
                f"{label}: value not of required type: {value}",
                [name],
            )
        if spec.length is not None and isinstance(value, str) and len(value) > spec.length:
            raise RecordError(
                "STRING_TOO_LONG",
                f"{label}: data value too large: {value[:50]}... (max length={spec.length})",
                [name],
            )
        if spec.type == "email" and value and not _EMAIL.match(value):
            raise RecordError(
                "INVALID_EMAIL_ADDRESS", f"{label}: invalid email address: {value}", [name]
            )
        if spec.type == "picklist" and spec.picklist and value not in spec.picklist:
            raise RecordError(
                "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                f"{label}: bad value for restricted picklist field: {value}",
                [name],
            )
        if spec.type == "reference" and value:
            wanted = spec.reference_to
            found_type = sobject_of_id(value) if len(value) in (15, 18) else None
            if found_type is None or (wanted is not None and found_type != wanted):
                raise RecordError(
                    "MALFORMED_ID", f"{label}: id value of incorrect type: {value}", [name]
                )
            target = self._lookup(value)
            if target is None:
                raise RecordError(
                    "INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id", [name]
                )
            if target["IsDeleted"]:
                raise RecordError("ENTITY_IS_DELETED", "entity is deleted", [name])
            if name == "OwnerId" and target.get("IsActive") is False:
                raise RecordError(
                    "INACTIVE_OWNER_OR_USER",
                    f"operation performed with inactive user [{value}] as owner of "
                    f"{sobject.lower()}",
                )
