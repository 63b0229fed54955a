"""The public contract suite for `chatkit.integrations.Integration` implementations.

It checks what the sync engine relies on, through the integration's own
methods against whatever it talks to (an emulator of the vendor's API, a
test account, a folder): one result per change, ids that come back, upserts
that find what a crashed try created, pages that replay and progress, and
webhooks that refuse what is not signed. Every first-party integration and
the in-memory reference integration pass it:

```python
import pytest
from chatkit.testing import IntegrationContract

class TestMyCRM(IntegrationContract):
    @pytest.fixture
    async def integration(self, my_crm_emulator):
        async with MyCRMIntegration(MyCRMConfig(url=my_crm_emulator.url)) as crm:
            yield crm
```

Only the kinds the integration declares are exercised, in the directions it
declares. Requires pytest and anyio's pytest plugin (installed with anyio).
"""

from __future__ import annotations

import secrets

import pytest

from ..errors import WebhookVerificationError
from ..integrations import (
    Direction,
    HealthState,
    Integration,
    OutboundChange,
    PushResult,
    PushStatus,
    SyncObject,
)
from ..models import Author, Contact, Conversation, Identity, IdentityKind, Message, new_id

__all__ = ["IntegrationContract"]


class _Records:
    """A contact, its conversation and a message, as the engine would push them."""

    def __init__(self) -> None:
        tag = secrets.token_hex(4)
        self.contact = Contact(
            id=new_id("ct"),
            name=f"Contract {tag}",
            identities=[Identity(kind=IdentityKind.EMAIL, value=f"contract-{tag}@example.com")],
        )
        self.conversation = Conversation(
            id=new_id("conv"), contact_id=self.contact.id, subject=f"Contract test {tag}"
        )
        self.message = Message(
            id=new_id("msg"),
            conversation_id=self.conversation.id,
            seq=1,
            author=Author.customer(self.contact.id),
            text=f"Where is my order {tag}?",
        )

    def change(
        self,
        kind: SyncObject,
        *,
        parent_remote_id: str | None = None,
        remote_id: str | None = None,
        attempt: int = 1,
    ) -> OutboundChange:
        record: Contact | Conversation | Message
        if kind is SyncObject.EVENT:
            local_id = f"{self.conversation.id}#chat_started"
            return OutboundChange(
                change_id=f"{local_id}:{attempt}",
                object=kind,
                local_id=local_id,
                parent_local_id=self.conversation.id,
                data={
                    "event": "chat_started",
                    "occurred_at": self.conversation.created_at.isoformat(),
                    "conversation_id": self.conversation.id,
                    "contact_id": self.contact.id,
                    "params": {"channel": "web"},
                    "visitor": {
                        "client_id": f"{secrets.randbelow(10**9)}.1700000000",
                        "user_id": None,
                        "consent": {
                            "analytics": True,
                            "ad_user_data": False,
                            "ad_personalization": False,
                        },
                        "consent_required": True,
                    },
                },
                attempt=attempt,
            )
        if kind is SyncObject.CONTACT:
            record, parent = self.contact, None
            data = {
                **record.model_dump(mode="json"),
                "email": self.contact.identities[0].value,
                "phone": None,
            }
        elif kind is SyncObject.CONVERSATION:
            record, parent = self.conversation, self.contact.id
            data = record.model_dump(mode="json")
        else:
            record, parent = self.message, self.conversation.id
            data = record.model_dump(mode="json")
        return OutboundChange(
            change_id=f"{record.id}:{attempt}",
            object=kind,
            local_id=record.id,
            remote_id=remote_id,
            parent_local_id=parent,
            parent_remote_id=parent_remote_id,
            data=data,
            attempt=attempt,
        )


class IntegrationContract:
    """Subclass it in a test module and provide the ``integration`` fixture (opened)."""

    pytestmark = pytest.mark.anyio

    @pytest.fixture
    def integration(self) -> Integration:  # pragma: no cover - overridden
        """Override it: yield an opened integration talking to a fresh vendor."""
        raise NotImplementedError("provide an 'integration' fixture that yields an opened one")

    @staticmethod
    def _outbound(integration: Integration, kind: SyncObject) -> bool:
        return integration.capabilities.supports(kind, Direction.OUTBOUND)

    async def _push_one(self, integration: Integration, change: OutboundChange) -> PushResult:
        results = await integration.push([change])
        assert len(results) == 1, f"{change.object.value}: push must answer once per change"
        [result] = results
        assert result.change_id == change.change_id
        assert result.status is PushStatus.OK, f"{change.object.value}: {result.error}"
        return result

    async def _push_chain(
        self, integration: Integration, records: _Records, attempt: int = 1
    ) -> dict[SyncObject, PushResult]:
        """Push the contact, conversation and message the integration syncs, parents first."""
        out: dict[SyncObject, PushResult] = {}
        parent: str | None = None
        kinds = (SyncObject.CONTACT, SyncObject.CONVERSATION, SyncObject.MESSAGE, SyncObject.EVENT)
        for kind in kinds:
            if not self._outbound(integration, kind):
                continue
            if kind is SyncObject.CONVERSATION:
                contact = out.get(SyncObject.CONTACT)
                parent = contact.remote_id if contact else None
            elif kind is SyncObject.MESSAGE:
                conversation = out.get(SyncObject.CONVERSATION)
                parent = conversation.remote_id if conversation else None
            change = records.change(kind, parent_remote_id=parent, attempt=attempt)
            out[kind] = await self._push_one(integration, change)
        return out

    async def test_check_answers_a_status(self, integration: Integration) -> None:
        status = await integration.check()
        assert status.state in HealthState
        assert status.ok, status.detail

    async def test_push_answers_each_change_with_the_vendor_id(
        self, integration: Integration
    ) -> None:
        results = await self._push_chain(integration, _Records())
        assert results, "the integration pushes nothing this suite knows"
        for kind in (SyncObject.CONTACT, SyncObject.CONVERSATION):
            if kind in results:
                assert results[kind].remote_id, f"{kind.value}: an OK upsert carries the vendor id"

    async def test_a_retried_push_finds_what_the_first_try_created(
        self, integration: Integration
    ) -> None:
        records = _Records()
        first = await self._push_chain(integration, records)
        again = await self._push_chain(integration, records, attempt=2)
        for kind, result in first.items():
            if result.remote_id is not None and again[kind].remote_id is not None:
                assert again[kind].remote_id == result.remote_id, (
                    f"{kind.value}: a retry created a second record"
                )

    async def test_a_batch_answers_every_change_once(self, integration: Integration) -> None:
        kind = next(
            (
                k
                for k in (SyncObject.CONTACT, SyncObject.CONVERSATION, SyncObject.EVENT)
                if self._outbound(integration, k)
            ),
            None,
        )
        if kind is None:
            pytest.skip("neither contacts, conversations nor events are pushed")
        size = min(5, integration.capabilities.batch_size(kind))
        batch = [_Records() for _ in range(size)]
        parents: list[str | None] = [None] * size
        if kind is SyncObject.CONVERSATION and self._outbound(integration, SyncObject.CONTACT):
            contacts = await integration.push([r.change(SyncObject.CONTACT) for r in batch])
            by_id = {result.change_id: result.remote_id for result in contacts}
            parents = [by_id.get(r.change(SyncObject.CONTACT).change_id) for r in batch]
        changes = [r.change(kind, parent_remote_id=p) for r, p in zip(batch, parents, strict=True)]
        results = await integration.push(changes)
        assert sorted(r.change_id for r in results) == sorted(c.change_id for c in changes)
        ids = [r.remote_id for r in results if r.status is PushStatus.OK and r.remote_id]
        assert len(ids) == len(set(ids)), "two records answered with one vendor id"

    async def test_pull_replays_from_a_cursor_and_progresses(
        self, integration: Integration
    ) -> None:
        if not integration.capabilities.inbound:
            pytest.skip("nothing is read from the vendor")
        await self._push_chain(integration, _Records())
        first = await integration.pull(None, limit=50)
        again = await integration.pull(None, limit=50)
        assert [(c.remote_type, c.remote_id) for c in first.changes] == [
            (c.remote_type, c.remote_id) for c in again.changes
        ], "pulling twice from one cursor must give the same changes"
        cursor, pages = first.cursor, 1
        page = first
        while page.has_more and pages < 50:
            page = await integration.pull(cursor, limit=50)
            assert page.cursor is not None
            cursor, pages = page.cursor, pages + 1
        assert not page.has_more, "pull kept saying has_more"
        for change in first.changes:
            assert integration.capabilities.supports(change.object, Direction.INBOUND)

    async def test_webhooks_refuse_unsigned_deliveries(self, integration: Integration) -> None:
        if not integration.capabilities.webhooks:
            pytest.skip("the integration takes no webhooks")
        with pytest.raises(WebhookVerificationError):
            await integration.verify_webhook(
                {"Content-Type": "application/json"}, b'{"events": []}'
            )

    async def test_secrets_stay_out_of_repr(self, integration: Integration) -> None:
        config = integration.config
        for name, value in config:
            secret = getattr(value, "get_secret_value", None)
            if secret is not None and secret():
                assert secret() not in repr(config), name
                assert secret() not in repr(integration), name
