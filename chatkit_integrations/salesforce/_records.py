"""Records of an emulated Salesforce org: ids, timestamps, the sObject schema, API errors.

The shapes follow the Salesforce REST API reference and ``vendor-fixtures/
salesforce_*.json``: 18-character case-safe ids with the standard key
prefixes, ``2024-03-01T09:15:00.000+0000`` timestamps, error bodies as a list
of ``{"message", "errorCode"}`` (whole request) or ``{"statusCode",
"message", "fields"}`` (one record of a collection).
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from .._time import parse_iso_datetime

Record = dict[str, Any]

COLLECTION_LIMIT = 200
"""Records per sObject Collections call, as in Salesforce."""
QUERY_BATCH_DEFAULT = 2000
"""Records per SOQL result page unless ``Sforce-Query-Options: batchSize=N`` asks for fewer."""
QUERY_BATCH_MIN = 200
DEFAULT_API_VERSION = "59.0"
ORG_ID = "00D5g000004ChatKAAS"

EXCEEDED_ID_LIMIT: list[Record] = [
    {
        "message": "record limit reached. cannot submit more than 200 records into this call",
        "errorCode": "EXCEEDED_ID_LIMIT",
    }
]
"""The 400 body of an sObject Collections call with more than 200 records."""

KEY_PREFIXES = {
    "Account": "001",
    "Contact": "003",
    "User": "005",
    "CaseComment": "00a",
    "ContentVersion": "068",
    "ContentDocument": "069",
    "ContentDocumentLink": "06A",
    "Case": "500",
    "QueryLocator": "01g",
}

_BASE62 = string.digits + string.ascii_uppercase + string.ascii_lowercase  # ASCII order
_SUFFIX = string.ascii_uppercase + "012345"


def case_safe(id15: str) -> str:
    """The 18-character form of a 15-character Salesforce id (the checksum suffix)."""
    suffix = ""
    for chunk in range(3):
        bits = 0
        for position, char in enumerate(id15[chunk * 5 : chunk * 5 + 5]):
            if char.isupper():
                bits |= 1 << position
        suffix += _SUFFIX[bits]
    return id15 + suffix


def make_id(sobject: str, number: int) -> str:
    """The ``number``-th id of ``sobject``: prefix, pod ``5g``, a base-62 counter, checksum.

    Ids of one object sort in creation order as plain strings.
    """
    digits = ""
    while True:
        number, rest = divmod(number, 62)
        digits = _BASE62[rest] + digits
        if number == 0:
            break
    return case_safe(KEY_PREFIXES[sobject] + "5g" + digits.rjust(10, "0"))


def sf_datetime(moment: datetime) -> str:
    """``2024-03-01T09:15:00.000+0000``: Salesforce's datetime format (UTC, milliseconds)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def parse_sf_datetime(text: str) -> datetime:
    """Read ``2024-03-01T09:15:00.000+0000`` (or with ``Z`` / ``+00:00``) as an aware datetime."""
    moment = parse_iso_datetime(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


class SalesforceAPIError(Exception):
    """A whole-request error answer: HTTP status and the list of ``{message, errorCode}``."""

    def __init__(
        self, status: int, errors: list[Record], headers: Mapping[str, str] | None = None
    ) -> None:
        super().__init__(f"{status}: {errors}")
        self.status = status
        self.errors = errors
        self.headers = dict(headers or {})

    @classmethod
    def one(cls, status: int, code: str, message: str, **extra: Any) -> SalesforceAPIError:
        """An error answer with one entry."""
        return cls(status, [{"message": message, "errorCode": code, **extra}])


class RecordError(Exception):
    """A record was refused; ``errors`` is the list of ``{statusCode, message, fields}``."""

    def __init__(self, code: str, message: str, fields: list[str] | None = None) -> None:
        super().__init__(f"{code}: {message}")
        self.errors: list[Record] = [
            {"statusCode": code, "message": message, "fields": list(fields or [])}
        ]

    def as_api_error(self, status: int = 400) -> SalesforceAPIError:
        """The same error as a single-record REST answer (``errorCode``, not ``statusCode``)."""
        return SalesforceAPIError(
            status,
            [
                {"message": e["message"], "errorCode": e["statusCode"], "fields": e["fields"]}
                for e in self.errors
            ],
        )


def not_found() -> SalesforceAPIError:
    return SalesforceAPIError.one(404, "NOT_FOUND", "The requested resource does not exist")


# -- schema --------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    """One field of an sObject: its type, limits and whether the API may write it."""

    type: str  # id, string, textarea, email, phone, boolean, datetime, reference, picklist, ...
    length: int | None = None
    required: bool = False
    createable: bool = True
    updateable: bool = True
    reference_to: str | None = None
    picklist: tuple[str, ...] = ()
    default: Any = None
    label: str = ""


_SYSTEM = {
    "Id": FieldSpec("id", createable=False, updateable=False),
    "IsDeleted": FieldSpec("boolean", createable=False, updateable=False, default=False),
    "CreatedDate": FieldSpec("datetime", createable=False, updateable=False),
    "CreatedById": FieldSpec("reference", createable=False, updateable=False, reference_to="User"),
    "LastModifiedDate": FieldSpec("datetime", createable=False, updateable=False),
    "LastModifiedById": FieldSpec(
        "reference", createable=False, updateable=False, reference_to="User"
    ),
    "SystemModstamp": FieldSpec("datetime", createable=False, updateable=False),
}
_OWNER = {"OwnerId": FieldSpec("reference", reference_to="User")}

CASE_STATUSES = ("New", "Working", "Escalated", "Closed")
CLOSED_STATUSES = frozenset({"Closed"})
CASE_PRIORITIES = ("High", "Medium", "Low")
CASE_ORIGINS = ("Phone", "Email", "Web", "Chat")


def _schema() -> dict[str, dict[str, FieldSpec]]:
    external = FieldSpec("string", length=255, label="Chatkit Id")
    return {
        "User": {
            **_SYSTEM,
            "Username": FieldSpec("string", length=80),
            "Name": FieldSpec("string", length=121, createable=False, updateable=False),
            "FirstName": FieldSpec("string", length=40),
            "LastName": FieldSpec("string", length=80),
            "Email": FieldSpec("email", length=80),
            "IsActive": FieldSpec("boolean", default=True),
        },
        "Account": {
            **_SYSTEM,
            **_OWNER,
            "Name": FieldSpec("string", length=255, required=True, label="Account Name"),
        },
        "Contact": {
            **_SYSTEM,
            **_OWNER,
            "MasterRecordId": FieldSpec(
                "reference", createable=False, updateable=False, reference_to="Contact"
            ),
            "AccountId": FieldSpec("reference", reference_to="Account", label="Account ID"),
            "LastName": FieldSpec("string", length=80, required=True, label="Last Name"),
            "FirstName": FieldSpec("string", length=40, label="First Name"),
            "Salutation": FieldSpec("picklist", picklist=("Mr.", "Ms.", "Mrs.", "Dr.", "Prof.")),
            "Name": FieldSpec("string", length=121, createable=False, updateable=False),
            "Phone": FieldSpec("phone", length=40, label="Business Phone"),
            "MobilePhone": FieldSpec("phone", length=40, label="Mobile Phone"),
            "Email": FieldSpec("email", length=80, label="Email"),
            "Description": FieldSpec("textarea", length=32000),
            "Chatkit_Id__c": external,
        },
        "Case": {
            **_SYSTEM,
            **_OWNER,
            "CaseNumber": FieldSpec("string", length=30, createable=False, updateable=False),
            "ContactId": FieldSpec("reference", reference_to="Contact", label="Contact ID"),
            "AccountId": FieldSpec("reference", reference_to="Account", label="Account ID"),
            "Subject": FieldSpec("string", length=255, label="Subject"),
            "Description": FieldSpec("textarea", length=32000, label="Description"),
            "Status": FieldSpec("picklist", picklist=CASE_STATUSES, default="New", label="Status"),
            "Priority": FieldSpec(
                "picklist", picklist=CASE_PRIORITIES, default="Medium", label="Priority"
            ),
            "Origin": FieldSpec("picklist", picklist=CASE_ORIGINS, label="Case Origin"),
            "Type": FieldSpec("picklist", picklist=("Question", "Problem", "Feature Request")),
            "Reason": FieldSpec("picklist", picklist=("Other",)),
            "IsClosed": FieldSpec("boolean", createable=False, updateable=False, default=False),
            "ClosedDate": FieldSpec("datetime", createable=False, updateable=False),
            "IsEscalated": FieldSpec("boolean", default=False),
            "Chatkit_Id__c": external,
        },
        "CaseComment": {
            **_SYSTEM,
            "ParentId": FieldSpec(
                "reference", required=True, updateable=False, reference_to="Case", label="Parent ID"
            ),
            "IsPublished": FieldSpec("boolean", default=False),
            "CommentBody": FieldSpec("textarea", length=4000, label="Body"),
        },
        "ContentVersion": {
            **_SYSTEM,
            **_OWNER,
            "ContentDocumentId": FieldSpec(
                "reference", updateable=False, reference_to="ContentDocument"
            ),
            "IsLatest": FieldSpec("boolean", createable=False, updateable=False, default=True),
            "VersionNumber": FieldSpec("string", length=20, createable=False, updateable=False),
            "Title": FieldSpec("string", length=255, required=True, label="Title"),
            "Description": FieldSpec("textarea", length=1000),
            "PathOnClient": FieldSpec(
                "string", length=500, required=True, updateable=False, label="Path On Client"
            ),
            "VersionData": FieldSpec(
                "base64", required=True, updateable=False, label="Version Data"
            ),
            "ContentSize": FieldSpec("int", createable=False, updateable=False),
            "FileType": FieldSpec("string", length=20, createable=False, updateable=False),
            "FileExtension": FieldSpec("string", length=40, createable=False, updateable=False),
            "ReasonForChange": FieldSpec("string", length=1000),
            "FirstPublishLocationId": FieldSpec("reference", updateable=False),
        },
        "ContentDocument": {
            **_SYSTEM,
            **_OWNER,
            "Title": FieldSpec("string", length=255, createable=False),
            "LatestPublishedVersionId": FieldSpec(
                "reference", createable=False, updateable=False, reference_to="ContentVersion"
            ),
            "FileType": FieldSpec("string", length=20, createable=False, updateable=False),
            "ContentSize": FieldSpec("int", createable=False, updateable=False),
        },
        "ContentDocumentLink": {
            **_SYSTEM,
            "ContentDocumentId": FieldSpec(
                "reference", required=True, updateable=False, reference_to="ContentDocument"
            ),
            "LinkedEntityId": FieldSpec("reference", required=True, updateable=False),
            "ShareType": FieldSpec("picklist", picklist=("V", "C", "I"), default="V"),
            "Visibility": FieldSpec("picklist", picklist=("AllUsers", "InternalUsers")),
        },
    }


SCHEMA: dict[str, dict[str, FieldSpec]] = _schema()
EXTERNAL_ID_FIELDS: dict[str, frozenset[str]] = {
    "Contact": frozenset({"Chatkit_Id__c"}),
    "Case": frozenset({"Chatkit_Id__c"}),
}
"""Fields defined as External ID (unique) in the emulated org."""


@dataclass
class Canon:
    """Case-insensitive field names of one sObject, as SOQL and the REST API accept them."""

    sobject: str
    names: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of(cls, sobject: str) -> Canon:
        return cls(sobject, {name.lower(): name for name in SCHEMA[sobject]})

    def get(self, name: str) -> str | None:
        return self.names.get(name.lower())


CANON: dict[str, Canon] = {name: Canon.of(name) for name in SCHEMA}
SOBJECTS: dict[str, str] = {name.lower(): name for name in SCHEMA}


def relationship(sobject: str, name: str) -> tuple[str, str | None] | None:
    """``("ContactId", "Contact")`` for relationship ``Contact`` of a Case; ``None`` if none.

    The target is ``None`` for polymorphic lookups (resolved from the id's prefix).
    """
    for field_name, spec in SCHEMA[sobject].items():
        if spec.type == "reference" and field_name.lower() == name.lower() + "id":
            return field_name, spec.reference_to
    return None


def sobject_of_id(record_id: str) -> str | None:
    """The sObject an id belongs to, from its three-character key prefix."""
    for name, prefix in KEY_PREFIXES.items():
        if record_id.startswith(prefix) and name in SCHEMA:
            return name
    return None
