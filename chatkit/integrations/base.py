"""The `Integration` contract: what a CRM or help-desk plugin implements."""

from __future__ import annotations

import inspect
import re
from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from types import TracebackType
from typing import ClassVar, Self

from ..errors import IntegrationError
from .capabilities import Capabilities
from .config import IntegrationConfig
from .records import HealthStatus, InboundChange, OutboundChange, PullPage, PushResult

__all__ = ["Integration"]

_NAME = re.compile(r"^[a-z][a-z0-9_-]{0,62}$")


class Integration(ABC):
    """A connection to one vendor, driven by the sync engine.

    Subclasses set three class attributes and implement `check` and `push`;
    integrations that read from the vendor also implement `pull`, and those
    that declare ``webhooks=True`` implement `verify_webhook`. The
    declarations are checked when the class is defined, so a plugin that
    promises more than it implements fails to load with a clear error.

    The engine calls `open` once, then the batch methods (never two
    concurrently on one instance), then `close`. Methods never log
    configuration values or record contents at INFO or above.

    Example:
        ```python
        class FolderIntegration(Integration):
            name = "folder"
            config_class = FolderConfig
            capabilities = Capabilities(objects=(
                ObjectSync(object="conversation", remote_type="file",
                           directions={"outbound"}, batch_size=50),
            ))

            async def check(self) -> HealthStatus: ...
            async def push(self, changes): ...

        async with FolderIntegration(FolderConfig.load("folder")) as folder:
            results = await folder.push(changes)
        ```

    Attributes:
        name: The entry-point name, lowercase (``"zendesk"``); also gives the
            environment prefix ``CHATKIT_ZENDESK_``.
        capabilities: What it syncs, which ways, in which batch sizes.
        config_class: Its `IntegrationConfig` subclass.
        config: The validated configuration of this instance.
    """

    name: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    config_class: ClassVar[type[IntegrationConfig]] = IntegrationConfig

    def __init_subclass__(cls, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        if inspect.isabstract(cls):
            return
        name = getattr(cls, "name", None)
        if not isinstance(name, str) or not _NAME.match(name):
            raise TypeError(
                f"{cls.__qualname__}.name must be a lowercase name like 'zendesk', got {name!r}"
            )
        if not isinstance(getattr(cls, "capabilities", None), Capabilities):
            raise TypeError(f"{cls.__qualname__}.capabilities must be a Capabilities")
        if not issubclass(cls.config_class, IntegrationConfig):
            raise TypeError(f"{cls.__qualname__}.config_class must subclass IntegrationConfig")
        if cls.config_class is not IntegrationConfig and "integration" not in vars(
            cls.config_class
        ):
            cls.config_class.integration = name  # names the integration in config errors
        missing = []
        if cls.capabilities.inbound and cls.pull is Integration.pull:
            missing.append("pull (it declares inbound objects)")
        if cls.capabilities.webhooks and cls.verify_webhook is Integration.verify_webhook:
            missing.append("verify_webhook (it declares webhooks=True)")
        if missing:
            raise TypeError(f"integration {name!r} must implement {' and '.join(missing)}")

    def __init__(self, config: IntegrationConfig) -> None:
        """Create the integration; nothing is connected until `open`.

        Raises:
            TypeError: ``config`` is not an instance of `config_class`.
        """
        if not isinstance(config, self.config_class):
            raise TypeError(
                f"{type(self).__name__} needs a {self.config_class.__name__}, "
                f"not {type(config).__name__}"
            )
        self.config = config

    @classmethod
    def from_env(cls, *, file: str | None = None) -> Self:
        """An instance configured by `IntegrationConfig.load` (file, then environment).

        Raises:
            IntegrationConfigError: The configuration is missing or invalid.
        """
        return cls(cls.config_class.load(cls.name, file=file))

    def record_url(self, kind: str, remote_id: str) -> str | None:
        """The address of a synced record in the vendor's own UI, or ``None``.

        ``kind`` is chatkit's side of the link (``"contact"`` or
        ``"conversation"``), ``remote_id`` the vendor's id. The agent console
        shows the record as a link when this gives an ``http(s)`` address.
        The default knows no address.
        """
        return None

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"

    @property
    def transcript_attachment_bytes(self) -> int:
        """The largest attachment whose bytes transcript changes carry (0: none, the default).

        Transcript changes always list the conversation's attachments in
        ``data["attachments"]`` (id, message id, name, MIME type, size,
        SHA-256). An integration that stores the files themselves (an
        archive) returns a size here: attachments up to it also carry their
        bytes, base64, in ``"content"`` (``None`` for larger ones).
        """
        return 0

    async def open(self) -> None:  # noqa: B027 - an optional hook
        """Acquire resources (HTTP clients, sessions). Idempotent. Default: nothing."""

    async def close(self) -> None:  # noqa: B027 - an optional hook
        """Release what `open` acquired. Idempotent; never raises. Default: nothing."""

    async def __aenter__(self) -> Self:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @abstractmethod
    async def check(self) -> HealthStatus:
        """Check reachability and credentials with one cheap call.

        Returns a status rather than raising for expected failures (refused
        credentials, exhausted quota, vendor down): the engine parks the
        integration on ``AUTH_FAILED`` and ``QUOTA_EXHAUSTED``.
        """

    @abstractmethod
    async def push(self, changes: Sequence[OutboundChange]) -> list[PushResult]:
        """Write a batch of local changes to the vendor.

        The engine never passes more records of one kind than
        ``capabilities.batch_size(kind)``, nor kinds not declared outbound.
        Upserts must be idempotent: use ``change.local_id`` as the vendor's
        external id (or look up before create), so a retried change updates
        the record it created before.

        Args:
            changes: The batch, in outbox order. Parents (conversations) come
                before their messages when both are in one batch.

        Returns:
            Exactly one `PushResult` per change, with its ``change_id``, in
            any order. One record failing never fails the others: classify it
            `PushStatus.RETRYABLE` (back to the queue) or `PushStatus.PERMANENT`
            (dead-letter list, with the vendor's message).

        Raises:
            IntegrationAuthError: Credentials refused; nothing was written.
            IntegrationQuotaError: A hard limit is used up; nothing was written.
            RetryableIntegrationError: The whole call failed for now (429 for
                the batch, 5xx, timeout): every change goes back to the queue.
        """

    def split_calls(self, changes: Sequence[OutboundChange]) -> list[list[OutboundChange]]:
        """How a push of ``changes`` divides into vendor calls (default: one part).

        Used for kinds sent at most once (`ObjectSync.at_most_once`): the
        engine claims, pushes and settles one part at a time, so a worker
        that dies mid-push cuts off one vendor call, not the whole batch.
        Override it when ``push`` makes several calls (one per visitor, one
        per 25 events...): return the parts, each change in exactly one.
        """
        return [list(changes)]

    async def pull(self, cursor: str | None, *, limit: int = 100) -> PullPage:
        """Read vendor changes after ``cursor`` (``None``: from the start).

        Required when any object is synced inbound: polling is both the
        fallback for missed webhooks and the truth the engine reconciles with.

        Args:
            cursor: The ``cursor`` of the previous `PullPage`, as saved.
            limit: The most changes wanted in this page.

        Returns:
            Changes oldest first, the next cursor, and whether more are ready.
            Pulling again from the same cursor returns the same changes (the
            engine's apply step is idempotent).

        Raises:
            IntegrationAuthError: Credentials refused.
            IntegrationQuotaError: A hard limit is used up.
            RetryableIntegrationError: Try the same cursor again later.
        """
        raise IntegrationError(f"{self.name} does not read from the vendor", integration=self.name)

    async def verify_webhook(self, headers: Mapping[str, str], body: bytes) -> list[InboundChange]:
        """Verify a webhook delivery and turn it into changes.

        Required when ``capabilities.webhooks`` is true. Check the signature
        against the raw ``body`` with a constant-time comparison, and refuse
        deliveries older than the replay window. Duplicates are fine: the
        engine's apply step ignores what it has seen.

        Args:
            headers: The request headers (names compared case-insensitively).
            body: The raw request body, exactly as received.

        Raises:
            WebhookVerificationError: Bad signature, too old, or malformed.
        """
        raise IntegrationError(f"{self.name} does not take webhooks", integration=self.name)
