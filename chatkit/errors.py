"""Every error chatkit raises on purpose.

All of them derive from one root, so ``except ChatKitError`` catches
everything the SDK raises deliberately. Errors from third-party libraries
(sqlite3, pydantic, drivers) are translated at the boundary and kept as
``__cause__``.

```text
ChatKitError
├── ConfigurationError            bad URL, bad settings
│   ├── PluginError
│   │   ├── PluginNotFoundError   no built-in or entry point of that name
│   │   └── PluginLoadError       found, but importing it failed
│   └── MissingDependencyError    an optional extra is not installed (also an ImportError)
├── InvalidInputError             bad arguments; nothing was written
│   ├── MessageTooLargeError
│   ├── TemplateError             a reply template that cannot parse or render
│   ├── ConversationClosedError   closed conversations take no messages
│   └── AttachmentError           an upload breaks a limit
│       ├── AttachmentTooLargeError
│       ├── AttachmentTypeError
│       │   └── ActiveContentError  HTML, or SVG/XML a browser would run
│       └── TooManyAttachmentsError
│   ├── InvalidBlobKeyError       a blob key that is not safe (also a ValueError)
│   ├── InvalidTransitionError    e.g. closed -> open
│   └── WebhookTargetError        an outbound webhook's target is not a public address
├── NotFoundError                 unknown id
│   └── BlobNotFoundError         no blob has this key (also a FileNotFoundError)
├── ConflictError                 a concurrent writer won; safe to retry
│   ├── DuplicateIdentityError    identity already belongs to another contact
│   └── DuplicateKeyError         a store-level unique key was violated
├── StoreError                    the storage backend failed
│   ├── SchemaVersionError        database made by a newer chatkit
│   └── BlobStoreError            the blob store (a directory, a bucket) failed
│       ├── BlobAccessError       the bucket refused: no such bucket, access denied, bad keys
│       └── BlobIntegrityError    bytes did not match their checksum
├── TransportError                the transport (e.g. Redis) cannot be reached
├── RemoteServiceError            a remote service (e.g. an LLM endpoint) failed
│   └── NotificationError         (chatkit.notifications) a notifier could not deliver
├── IntegrationError              (chatkit.integrations) a CRM or help-desk integration failed
│   ├── IntegrationConfigError    config missing or invalid (also a ConfigurationError)
│   ├── IntegrationAuthError      the vendor refused the credentials; sync parks
│   ├── IntegrationQuotaError     a hard or daily limit is used up; sync parks
│   ├── RetryableIntegrationError a 429, 5xx or timeout: try again later
│   ├── PermanentIntegrationError the vendor refused the request for good
│   └── WebhookVerificationError  bad signature, outside the replay window, or malformed
│       ├── WebhookBodyError      (chatkit.webhooks) body nested too deeply or not JSON
│       │   └── WebhookTooLargeError  body over WebhookSettings.max_body_bytes
│       ├── WebhookSignatureError (chatkit.webhooks) a delivery's signature is wrong or too old
│       └── ChannelWebhookError   (chatkit.channels) a provider's webhook was refused
├── ChannelError                  (chatkit.channels) a messaging channel failed
│   ├── ChannelMediaError         inbound media on a foreign host, too large, or unreadable
│   └── ChannelSendError          the provider refused or failed a send; ``retryable`` says which
├── AgentAtCapacityError          the agent holds max_concurrent_chats already
├── ContactBlockedError           a blocked sender's message was refused (and counted)
├── AlreadyClaimedError           another agent owns the conversation
├── RateLimitedError              (chatkit.ratelimit) a rate limit refused; carries retry_after
└── InvalidTokenError             an agent API token is malformed, unknown, revoked or expired
```
"""

from __future__ import annotations

import math

__all__ = [
    "ChannelError",
    "ChannelMediaError",
    "ChannelSendError",
    "ChannelWebhookError",
    "ActiveContentError",
    "AgentAtCapacityError",
    "AlreadyClaimedError",
    "AttachmentError",
    "AttachmentTooLargeError",
    "AttachmentTypeError",
    "BlobAccessError",
    "BlobIntegrityError",
    "BlobNotFoundError",
    "BlobStoreError",
    "InvalidBlobKeyError",
    "TooManyAttachmentsError",
    "TransportError",
    "ChatKitError",
    "ConfigurationError",
    "ConflictError",
    "ContactBlockedError",
    "ConversationClosedError",
    "DuplicateIdentityError",
    "DuplicateKeyError",
    "IntegrationAuthError",
    "IntegrationConfigError",
    "IntegrationError",
    "IntegrationQuotaError",
    "InvalidInputError",
    "InvalidTokenError",
    "InvalidTransitionError",
    "MessageTooLargeError",
    "MissingDependencyError",
    "NotFoundError",
    "PermanentIntegrationError",
    "PluginError",
    "PluginLoadError",
    "PluginNotFoundError",
    "RateLimitedError",
    "RemoteServiceError",
    "RetryableIntegrationError",
    "SchemaVersionError",
    "StoreError",
    "TemplateError",
    "WebhookBodyError",
    "WebhookSignatureError",
    "WebhookTargetError",
    "WebhookTooLargeError",
    "WebhookVerificationError",
]


MAX_MESSAGE: int = 500
"""Longest message an error keeps; longer ones (quoting big input) are cut with an ellipsis."""


def cut(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, the last an ellipsis when it was longer."""
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


def quoted(value: object, limit: int = 100) -> str:
    """``repr(value)`` cut to about ``limit`` characters, for quoting input in messages.

    Only strings, numbers, ``None`` and booleans are quoted; anything else
    (whose ``repr`` may be huge, deeply nested or failing) is shown as its
    type, e.g. ``<dict>``, and so is an integer too long to print.
    """
    if isinstance(value, str) and len(value) > limit:
        return repr(value[: limit - 1]) + "\u2026"
    if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
        return "<a very large int>"
    if value is None or isinstance(value, str | int | float):
        return cut(repr(value), limit)
    return f"<{type(value).__name__}>"


class ChatKitError(Exception):
    """Root of every error chatkit raises on purpose.

    A message longer than `MAX_MESSAGE` characters is cut (with an
    ellipsis), so an error never repeats a huge input whole.
    """

    def __init__(self, *args: object) -> None:
        if args and isinstance(args[0], str):
            args = (cut(args[0], MAX_MESSAGE), *args[1:])
        super().__init__(*args)


class ConfigurationError(ChatKitError):
    """The kit was configured wrongly (bad URL, bad settings)."""


class PluginError(ConfigurationError):
    """A plugin could not be provided.

    Attributes:
        group: The entry-point group, e.g. ``"chatkit.stores"``.
        name: The plugin name that was asked for, e.g. ``"postgresql"``.
    """

    def __init__(self, message: str, *, group: str, name: str) -> None:
        super().__init__(message)
        self.group = group
        self.name = name


class PluginNotFoundError(PluginError):
    """No built-in plugin and no entry point has this name."""


class PluginLoadError(PluginError):
    """The plugin exists but importing it failed (usually a missing extra)."""


class MissingDependencyError(ConfigurationError, ImportError):
    """A feature needs a package from an optional extra that is not installed.

    Also an `ImportError`, so code that guards an import with
    ``except ImportError`` keeps working. The message is one line ending in
    the command that fixes it, e.g. ``reading rules from YAML needs PyYAML:
    pip install 'chatkit[yaml]'``.

    Attributes:
        feature: What needed it, e.g. ``"reading rules from YAML"``.
        module: The module that could not be imported, e.g. ``"yaml"``.
        package: The distribution that provides it, e.g. ``"PyYAML"``.
        extra: The chatkit extra that installs it, e.g. ``"yaml"``.
        hint: The command to run, e.g. ``"pip install 'chatkit[yaml]'"``.
    """

    def __init__(self, *, feature: str, module: str, package: str, extra: str) -> None:
        hint = f"pip install 'chatkit[{extra}]'"
        super().__init__(f"{feature} needs {package}: {hint}")
        self.name = module  # ImportError's attribute: the module that is missing
        self.feature = feature
        self.module = module
        self.package = package
        self.extra = extra
        self.hint = hint


class InvalidInputError(ChatKitError):
    """The arguments were invalid. Nothing was written.

    Attributes:
        field: The offending field, when one can be named.
    """

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class MessageTooLargeError(InvalidInputError):
    """A message body is longer than the configured limit.

    Attributes:
        length: Length of the rejected text, in characters.
        limit: The configured maximum.
    """

    def __init__(self, *, length: int, limit: int) -> None:
        super().__init__(
            f"message text is {length} characters; the limit is {limit} "
            "(ChatKitSettings.max_message_length)",
            field="text",
        )
        self.length = length
        self.limit = limit


class TemplateError(InvalidInputError):
    """A reply template is malformed, or a variable it needs has no value.

    Raised when a template is parsed (with the position of the fault) and
    when it is rendered (with the variable that has no value and no
    fallback). Nothing is sent in either case.

    Attributes:
        position: 0-based character offset of the fault in the template
            text, when parsing failed.
        line: 1-based line of the fault, when parsing failed.
        column: 1-based column of the fault, when parsing failed.
        variable: The dotted name that had no value, when rendering failed.
    """

    def __init__(
        self,
        message: str,
        *,
        field: str | None = "template",
        position: int | None = None,
        line: int | None = None,
        column: int | None = None,
        variable: str | None = None,
    ) -> None:
        super().__init__(message, field=field)
        self.position = position
        self.line = line
        self.column = column
        self.variable = variable


class InvalidTransitionError(InvalidInputError):
    """A status change that the lifecycle does not allow.

    Attributes:
        resource_id: The conversation or ticket id.
        from_status: The current status.
        to_status: The status that was asked for.
    """

    def __init__(self, *, resource_id: str, from_status: str, to_status: str) -> None:
        super().__init__(
            f"{resource_id}: cannot go from {from_status!r} to {to_status!r}", field="status"
        )
        self.resource_id = resource_id
        self.from_status = from_status
        self.to_status = to_status


class ConversationClosedError(InvalidInputError):
    """The conversation is closed and takes no more messages.

    A customer who writes in again through `Messages.receive` gets a new
    conversation automatically; this error is for direct sends.

    Attributes:
        conversation_id: The closed conversation.
    """

    def __init__(self, conversation_id: str) -> None:
        super().__init__(f"conversation {conversation_id} is closed", field="conversation_id")
        self.conversation_id = conversation_id


class AttachmentError(InvalidInputError):
    """An attachment breaks a configured limit. Nothing was stored."""


class AttachmentTooLargeError(AttachmentError):
    """The upload is bigger than `AttachmentLimits.max_bytes`.

    Attributes:
        limit: The limit in bytes.
    """

    def __init__(self, *, limit: int) -> None:
        super().__init__(f"attachment is larger than the limit of {limit} bytes", field="source")
        self.limit = limit


class AttachmentTypeError(AttachmentError):
    """The content's type is not in `AttachmentLimits.allowed_types`.

    Attributes:
        mime_type: The type sniffed from the content.
    """

    def __init__(self, *, mime_type: str, message: str | None = None) -> None:
        super().__init__(
            message or f"attachments of type {mime_type} are not allowed", field="source"
        )
        self.mime_type = mime_type


class ActiveContentError(AttachmentTypeError):
    """The content is something a browser would run: refused, whatever the name or type claimed.

    HTML documents, and SVG or XML with a script, an event handler, a
    ``javascript:`` URL, embedded HTML or an ``xml-stylesheet`` instruction.
    Nothing was stored. ``AttachmentLimits(active_content="download")``
    stores such files as ``application/octet-stream`` downloads instead.

    Attributes:
        mime_type: The type sniffed from the content, e.g. ``"image/svg+xml"``.
        reason: What was found, e.g. ``"an SVG image with an event handler
            attribute (onload)"``.
    """

    def __init__(self, *, mime_type: str, reason: str) -> None:
        super().__init__(
            mime_type=mime_type,
            message=f"attachment refused: {reason} ({mime_type}), which a browser would run",
        )
        self.reason = reason


class TooManyAttachmentsError(AttachmentError):
    """A message carries more attachments than `AttachmentLimits.max_per_message`.

    Attributes:
        count: How many were given.
        limit: The limit.
    """

    def __init__(self, *, count: int, limit: int) -> None:
        super().__init__(
            f"{count} attachments on one message; the limit is {limit}", field="attachments"
        )
        self.count = count
        self.limit = limit


class NotFoundError(ChatKitError):
    """No object with this id exists.

    Attributes:
        resource: The kind of object, e.g. ``"conversation"``.
        resource_id: The id that was looked up.
    """

    def __init__(self, resource: str, resource_id: str) -> None:
        super().__init__(f"{resource} {quoted(resource_id)} does not exist")
        self.resource = resource
        self.resource_id = resource_id


class ConflictError(ChatKitError):
    """A concurrent writer changed the same object first.

    chatkit retries internally; this surfaces only after the retries ran out.

    Attributes:
        resource_id: The object that was contended, when known.
    """

    def __init__(self, message: str, *, resource_id: str | None = None) -> None:
        super().__init__(message)
        self.resource_id = resource_id


class DuplicateIdentityError(ConflictError):
    """The identity already belongs to another contact.

    Attributes:
        kind: Identity kind, e.g. ``"email"``.
        value: The normalised identity value.
        contact_id: The contact that owns it.
    """

    def __init__(self, *, kind: str, value: str, contact_id: str) -> None:
        super().__init__(
            f"{kind} identity {value!r} already belongs to contact {contact_id}; "
            "merge the contacts instead",
            resource_id=contact_id,
        )
        self.kind = kind
        self.value = value
        self.contact_id = contact_id


class DuplicateKeyError(ConflictError):
    """A write would break a unique key of the store.

    Raised by stores from `Store.commit`; the services turn most of these into
    friendlier errors or into the idempotent result.

    Attributes:
        table: The table (collection) written to.
        columns: The columns of the violated key.
    """

    def __init__(self, *, table: str, columns: tuple[str, ...]) -> None:
        super().__init__(f"duplicate key on {table}({', '.join(columns)})")
        self.table = table
        self.columns = columns


class StoreError(ChatKitError):
    """The storage backend failed (disk, driver, connection)."""


class SchemaVersionError(StoreError):
    """The database was written by a newer chatkit than this one.

    Attributes:
        found: Schema version in the database.
        supported: Highest schema version this chatkit knows.
    """

    def __init__(self, *, found: int, supported: int) -> None:
        super().__init__(
            f"database schema version {found} is newer than this chatkit supports "
            f"({supported}); upgrade chatkit"
        )
        self.found = found
        self.supported = supported


class BlobStoreError(StoreError):
    """The blob store that keeps attachment bytes failed (a directory, an S3 bucket).

    Attributes:
        reason: The service's own error code when it gave one, e.g.
            ``"SlowDown"`` or ``"InternalError"`` from S3.
    """

    def __init__(self, message: str, *, reason: str | None = None) -> None:
        super().__init__(message)
        self.reason = reason


class BlobAccessError(BlobStoreError):
    """The blob store refused: no such bucket, access denied, unknown or wrong keys.

    A configuration problem: retrying does not help. Nothing was recorded
    for the upload that met it.
    """


class BlobIntegrityError(BlobStoreError):
    """Bytes did not match their checksum (on the way in or out, or at rest)."""


class BlobNotFoundError(NotFoundError, FileNotFoundError):
    """No blob has this key (purged, or never written).

    Also a `FileNotFoundError`, as the blob store contract promised before.

    Attributes:
        key: The blob key.
    """

    def __init__(self, key: str) -> None:
        super().__init__("blob", key)
        self.key = key


class InvalidBlobKeyError(InvalidInputError, ValueError):
    """A blob key that is not of the safe form (`chatkit.blobs.check_key`).

    Also a `ValueError`, as `check_key` raised before.
    """

    def __init__(self, key: object) -> None:
        super().__init__(f"invalid blob key {quoted(key)}", field="key")


class TransportError(ChatKitError):
    """The transport of commit signals (e.g. Redis) cannot be reached."""


class RemoteServiceError(ChatKitError):
    """A remote service chatkit called (e.g. an LLM endpoint) failed or answered nonsense.

    Attributes:
        service: What was called, e.g. ``"openai-compatible"``.
        status_code: The HTTP status, when there was a response.
        retry_after: Seconds the service asked to wait, when it said.
    """

    def __init__(
        self,
        message: str,
        *,
        service: str,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.service = service
        self.status_code = status_code
        self.retry_after = retry_after


class IntegrationError(ChatKitError):
    """A CRM or help-desk integration failed (see `chatkit.integrations`).

    Messages never contain configuration values or credentials.

    Attributes:
        integration: The integration's name, e.g. ``"zendesk"``.
    """

    def __init__(self, message: str, *, integration: str) -> None:
        super().__init__(message)
        self.integration = integration


class IntegrationConfigError(IntegrationError, ConfigurationError):
    """An integration's configuration is missing or invalid.

    Also a `ConfigurationError`. The message names the fields and what is
    wrong with them, never the values given (they may be secrets).

    Attributes:
        fields: The offending fields, dotted for nested ones.
    """

    def __init__(self, message: str, *, integration: str, fields: tuple[str, ...] = ()) -> None:
        super().__init__(message, integration=integration)
        self.fields = fields


class IntegrationAuthError(IntegrationError):
    """The vendor refused the credentials. Retrying will not help; sync parks."""


class IntegrationQuotaError(IntegrationError):
    """A hard or daily API limit is used up; sync parks until it resets.

    Attributes:
        retry_after: Seconds until the limit resets, when the vendor said.
    """

    def __init__(self, message: str, *, integration: str, retry_after: float | None = None) -> None:
        super().__init__(message, integration=integration)
        self.retry_after = retry_after


class RetryableIntegrationError(IntegrationError):
    """A passing failure (429, 5xx, timeout, connection lost): try again later.

    Attributes:
        status_code: The HTTP status, when there was a response.
        retry_after: Seconds the vendor asked to wait, when it said.
    """

    def __init__(
        self,
        message: str,
        *,
        integration: str,
        status_code: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message, integration=integration)
        self.status_code = status_code
        self.retry_after = retry_after


class PermanentIntegrationError(IntegrationError):
    """The vendor refused the request for good (e.g. a 4xx validation error).

    Attributes:
        status_code: The HTTP status, when there was a response.
    """

    def __init__(self, message: str, *, integration: str, status_code: int | None = None) -> None:
        super().__init__(message, integration=integration)
        self.status_code = status_code


class WebhookVerificationError(IntegrationError):
    """A webhook delivery was refused: bad signature, too old, replayed or malformed.

    Answer it with HTTP 401 (or 400); apply nothing from it.
    """


class WebhookBodyError(WebhookVerificationError):
    """A webhook body was refused before it was read: nested too deeply, or not JSON.

    Answer it with HTTP 400; nothing was applied.
    """


class WebhookTooLargeError(WebhookBodyError):
    """A webhook body is larger than `WebhookSettings.max_body_bytes`.

    Answer it with HTTP 413; nothing was applied (not even the signature was checked).

    Attributes:
        size: The body's length, in bytes.
        limit: The largest length accepted.
    """

    def __init__(self, message: str, *, integration: str, size: int, limit: int) -> None:
        super().__init__(message, integration=integration)
        self.size = size
        self.limit = limit


class WebhookSignatureError(WebhookVerificationError):
    """A chatkit webhook delivery's ``Chatkit-Signature`` was refused by `verify_signature`.

    Answer it with HTTP 400 (or 401) and apply nothing from the body.

    Attributes:
        reason: ``missing`` (no header), ``malformed`` (not ``t=<unix>,v1=<hex>``),
            ``expired`` (the timestamp is outside the replay window) or
            ``mismatch`` (no signature matches the secret and the body).
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message, integration="chatkit")
        self.reason = reason


class ChannelWebhookError(WebhookVerificationError):
    """A messaging provider's webhook was refused (`chatkit.channels`); nothing was written.

    The message never repeats the body, the signature or a secret.

    Attributes:
        channel: The channel account's name (``"twilio"``).
        reason: ``missing_signature``, ``bad_signature``, ``stale``,
            ``too_large``, ``malformed`` or ``wrong_account``.
        status_code: The HTTP status to answer with (403, 400 or 413).
    """

    def __init__(self, message: str, *, channel: str, reason: str, status_code: int = 400) -> None:
        super().__init__(message, integration=channel)
        self.channel = channel
        self.reason = reason
        self.status_code = status_code


class ChannelError(ChatKitError):
    """A messaging channel (`chatkit.channels`) failed.

    Attributes:
        channel: The channel account's name (``"twilio"``).
    """

    def __init__(self, message: str, *, channel: str) -> None:
        super().__init__(message)
        self.channel = channel


class ChannelMediaError(ChannelError):
    """Inbound media was refused: on a host that is not the provider's, too large, or unreadable.

    Attributes:
        reason: ``foreign_host``, ``too_large`` or ``unavailable``.
    """

    def __init__(self, message: str, *, channel: str, reason: str) -> None:
        super().__init__(message, channel=channel)
        self.reason = reason


class ChannelSendError(ChannelError):
    """The provider did not take a message (`ChannelAdapter.send`).

    Attributes:
        retryable: Whether trying again later may work (429, 5xx, a timeout,
            no connection); ``False`` for a refusal for good (a bad number,
            an unsubscribed recipient, a closed window).
        status_code: The provider's HTTP status, when it answered.
        provider_code: The provider's error code (Twilio's ``21211``, ``20429``...).
        retry_after: Seconds the provider asked to wait, when it said.
        uncertain: The request may have reached the provider (a timeout after
            sending): check with `ChannelAdapter.find_sent` before sending again.
    """

    def __init__(
        self,
        message: str,
        *,
        channel: str,
        retryable: bool,
        status_code: int | None = None,
        provider_code: str | None = None,
        retry_after: float | None = None,
        uncertain: bool = False,
    ) -> None:
        super().__init__(message, channel=channel)
        self.retryable = retryable
        self.status_code = status_code
        self.provider_code = provider_code
        self.retry_after = retry_after
        self.uncertain = uncertain


class WebhookTargetError(InvalidInputError):
    """An outbound webhook's target is not a public address; no connection was made.

    Loopback, private, link-local, multicast, reserved and unspecified
    addresses (also after DNS resolution and on redirects) are refused unless
    `WebhookSettings.allowed_networks` or ``allow_private_targets`` allows them.

    Attributes:
        host: The refused host name or address.
    """

    def __init__(self, message: str, *, host: str) -> None:
        super().__init__(message, field="url")
        self.host = host


class AgentAtCapacityError(ChatKitError):
    """The agent already holds as many active conversations as allowed.

    Attributes:
        agent_id: The agent.
        limit: Their ``max_concurrent_chats``.
    """

    def __init__(self, *, agent_id: str, limit: int) -> None:
        super().__init__(f"agent {agent_id} already has {limit} active conversations")
        self.agent_id = agent_id
        self.limit = limit


class ContactBlockedError(ChatKitError):
    """The sender is blocked: the message was refused, stored nowhere, and counted.

    Not an `InvalidInputError`: the input is fine, the sender is not
    welcome, and the refusal is recorded (the block's ``refused`` count and a
    ``message.refused`` event).

    Attributes:
        block_id: The block that matched.
        kind: What it matched: ``contact``, ``identity``, ``ip`` or ``email_domain``.
        contact_id: The sender's contact, when one is known.
    """

    def __init__(self, *, block_id: str, kind: str, contact_id: str | None = None) -> None:
        who = f"contact {contact_id}" if contact_id else "the sender"
        super().__init__(f"{who} is blocked ({kind} block {block_id}); the message was refused")
        self.block_id = block_id
        self.kind = kind
        self.contact_id = contact_id


class AlreadyClaimedError(ChatKitError):
    """Another agent owns the conversation (see `Conversations.claim`).

    Attributes:
        conversation_id: The conversation.
        assignee_id: Its owner.
    """

    def __init__(self, *, conversation_id: str, assignee_id: str) -> None:
        super().__init__(f"conversation {conversation_id} is already owned by {assignee_id}")
        self.conversation_id = conversation_id
        self.assignee_id = assignee_id


class RateLimitedError(ChatKitError):
    """A rate limit refused the request; nothing was counted (see `chatkit.ratelimit`).

    A web app answers it with ``429 Too Many Requests`` and a
    ``Retry-After: <retry_after_header>`` header.

    Attributes:
        limit_name: The named limit that refused, e.g. ``"new_session"``.
        retry_after: Seconds until the same request would be allowed.
        limit: Requests allowed per `period`.
        period: The limit's period, in seconds.
        headers: The HTTP headers of the ``429`` answer (``Retry-After`` and
            ``RateLimit-Limit``, ``-Remaining``, ``-Reset``; see
            `chatkit.ratelimit.Decision.headers`); empty when not known.
    """

    def __init__(
        self,
        *,
        limit_name: str,
        retry_after: float,
        limit: int,
        period: float,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(
            f"rate limit {limit_name!r} ({limit} per {period:g} s) reached; "
            f"retry in {retry_after:.3g} s"
        )
        self.limit_name = limit_name
        self.retry_after = retry_after
        self.limit = limit
        self.period = period
        self.headers: dict[str, str] = dict(headers or {})

    @property
    def retry_after_header(self) -> str:
        """`retry_after` rounded up to whole seconds, as an HTTP ``Retry-After`` value."""
        return str(max(1, math.ceil(self.retry_after)))


class InvalidTokenError(ChatKitError):
    """An API token was refused: malformed, unknown, revoked or expired.

    The message says which, for logs; tell a caller only that the token was
    refused (``401``). The token itself is never quoted.

    Attributes:
        reason: ``"malformed"``, ``"unknown"``, ``"revoked"``, ``"expired"``
            or ``"agent_missing"`` (the token's agent was deleted).
    """

    def __init__(self, reason: str) -> None:
        super().__init__(f"API token refused: {reason.replace('_', ' ')}")
        self.reason = reason
