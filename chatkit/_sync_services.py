"""Blocking twins of the kit's services (`ChatKit.contacts`, `.messages`, ...).

Each method is generated from its async original by `chatkit._portal.sync`,
so its signature and docstring are the same.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Literal

from ._portal import Runner, SyncResource, blocking, sync
from ._sync_events import SyncDispatcher
from .automation.rules import RuleSet
from .channels.base import ChannelAdapter
from .notifications import Notifier
from .services import (
    Abuse,
    Agents,
    Attachments,
    Automation,
    Bots,
    CannedReplies,
    Channels,
    Contacts,
    Conversations,
    Exports,
    KnowledgeBase,
    Messages,
    Notifications,
    Previews,
    Retention,
    Reviews,
    Routing,
    Surveys,
    Teams,
    Tickets,
    Transcripts,
    TypingPreview,
    Understanding,
    WebhookDispatcher,
    Webhooks,
    Websites,
)
from .understanding import Analyzer, Classifier, SentimentAnalyzer

__all__ = [
    "SyncChannels",
    "SyncAbuse",
    "SyncAgents",
    "SyncAttachments",
    "SyncAutomation",
    "SyncBots",
    "SyncCannedReplies",
    "SyncContacts",
    "SyncConversations",
    "SyncExports",
    "SyncKnowledgeBase",
    "SyncMessages",
    "SyncNotifications",
    "SyncPreviews",
    "SyncRetention",
    "SyncReviews",
    "SyncRouting",
    "SyncSurveys",
    "SyncTeams",
    "SyncWebsites",
    "SyncTickets",
    "SyncTranscripts",
    "SyncUnderstanding",
    "SyncWebhookDispatcher",
    "SyncWebhooks",
]


class SyncContacts(SyncResource[Contacts]):
    """Blocking twin of `Contacts`."""

    create = sync(Contacts.create)
    get = sync(Contacts.get)
    find = sync(Contacts.find)
    identify = sync(Contacts.identify)
    update = sync(Contacts.update)
    add_identity = sync(Contacts.add_identity)
    verify = sync(Contacts.verify)
    list = sync(Contacts.list)
    merge = sync(Contacts.merge)


class SyncAttachments(SyncResource[Attachments]):
    """Blocking twin of `Attachments`."""

    upload = sync(Attachments.upload)
    get = sync(Attachments.get)
    read = sync(Attachments.read)
    signed_url = sync(Attachments.signed_url)

    def open(self, attachment_id: str) -> Iterator[bytes]:
        """Blocking twin of `Attachments.open`: iterate the bytes in chunks."""
        stream = self._target.open(attachment_id)
        return blocking(self._runner, stream, stream.aclose)


class SyncAgents(SyncResource[Agents]):
    """Blocking twin of `Agents`."""

    create = sync(Agents.create)
    get = sync(Agents.get)
    update = sync(Agents.update)
    list = sync(Agents.list)
    set_presence = sync(Agents.set_presence)
    touch = sync(Agents.touch)
    heartbeat = sync(Agents.heartbeat)
    refresh = sync(Agents.refresh)
    on_duty = sync(Agents.on_duty)
    create_token = sync(Agents.create_token)
    tokens = sync(Agents.tokens)
    revoke_token = sync(Agents.revoke_token)
    authenticate_token = sync(Agents.authenticate_token)


class SyncConversations(SyncResource[Conversations]):
    """Blocking twin of `Conversations`."""

    create = sync(Conversations.create)
    get = sync(Conversations.get)
    list = sync(Conversations.list)
    set_status = sync(Conversations.set_status)
    resolve = sync(Conversations.resolve)
    close = sync(Conversations.close)
    reopen = sync(Conversations.reopen)
    snooze = sync(Conversations.snooze)
    wake_snoozed = sync(Conversations.wake_snoozed)
    assign = sync(Conversations.assign)
    claim = sync(Conversations.claim)
    set_priority = sync(Conversations.set_priority)
    add_tags = sync(Conversations.add_tags)
    remove_tags = sync(Conversations.remove_tags)
    add_watcher = sync(Conversations.add_watcher)
    remove_watcher = sync(Conversations.remove_watcher)
    context = sync(Conversations.context)


class SyncMessages(SyncResource[Messages]):
    """Blocking twin of `Messages`."""

    send = sync(Messages.send)
    note = sync(Messages.note)
    get = sync(Messages.get)
    list = sync(Messages.list)
    receive = sync(Messages.receive)


class SyncTickets(SyncResource[Tickets]):
    """Blocking twin of `Tickets`."""

    create = sync(Tickets.create)
    get = sync(Tickets.get)
    update = sync(Tickets.update)
    set_status = sync(Tickets.set_status)
    solve = sync(Tickets.solve)
    close = sync(Tickets.close)
    reopen = sync(Tickets.reopen)
    add_note = sync(Tickets.add_note)
    respond = sync(Tickets.respond)
    check_sla = sync(Tickets.check_sla)
    at_a_glance = sync(Tickets.at_a_glance)
    list_open = sync(Tickets.list_open)
    list = sync(Tickets.list)


class SyncTeams(SyncResource[Teams]):
    """Blocking twin of `Teams`."""

    create = sync(Teams.create)
    get = sync(Teams.get)
    update = sync(Teams.update)
    list = sync(Teams.list)
    for_topic = sync(Teams.for_topic)


class SyncWebsites(SyncResource[Websites]):
    """Blocking twin of `Websites`."""

    create = sync(Websites.create)
    get = sync(Websites.get)
    by_key = sync(Websites.by_key)
    list = sync(Websites.list)
    update = sync(Websites.update)
    rotate_identity_secret = sync(Websites.rotate_identity_secret)
    rotate_public_key = sync(Websites.rotate_public_key)
    purge_sessions = sync(Websites.purge_sessions)
    delete = sync(Websites.delete)


class SyncRouting(SyncResource[Routing]):
    """Blocking twin of `Routing`."""

    route = sync(Routing.route)
    candidates = sync(Routing.candidates)
    queue = sync(Routing.queue)
    queue_position = sync(Routing.queue_position)
    next_for = sync(Routing.next_for)
    transfer = sync(Routing.transfer)
    set_mood = sync(Routing.set_mood)
    request_callback = sync(Routing.request_callback)
    escalate = sync(Routing.escalate)


class SyncUnderstanding(SyncResource[Understanding]):
    """Blocking twin of `Understanding`."""

    analyze = sync(Understanding.analyze)
    patterns = sync(Understanding.patterns)
    negative_terms = sync(Understanding.negative_terms)

    def use(
        self,
        *,
        classifier: Classifier | None = None,
        sentiment: SentimentAnalyzer | None = None,
        analyzer: Analyzer | None = None,
    ) -> None:
        self._target.use(classifier=classifier, sentiment=sentiment, analyzer=analyzer)

    use.__doc__ = Understanding.use.__doc__


class SyncAutomation(SyncResource[Automation]):
    """Blocking twin of `Automation`."""

    drain = sync(Automation.drain)
    handle = sync(Automation.handle)
    check_idle = sync(Automation.check_idle)

    @property
    def rules(self) -> RuleSet:
        """The rules in effect."""
        return self._target.rules

    def dispatcher(self, *, batch_size: int = 50, lease_seconds: float = 30.0) -> SyncDispatcher:
        """Blocking twin of `Automation.dispatcher`."""
        return SyncDispatcher(
            self._target.dispatcher(batch_size=batch_size, lease_seconds=lease_seconds),
            self._runner,
        )


class SyncCannedReplies(SyncResource[CannedReplies]):
    """Blocking twin of `CannedReplies`."""

    create = sync(CannedReplies.create)
    get = sync(CannedReplies.get)
    find = sync(CannedReplies.find)
    update = sync(CannedReplies.update)
    delete = sync(CannedReplies.delete)
    list = sync(CannedReplies.list)
    suggest = sync(CannedReplies.suggest)
    render = sync(CannedReplies.render)
    use = sync(CannedReplies.use)
    mark_reviewed = sync(CannedReplies.mark_reviewed)
    due_for_review = sync(CannedReplies.due_for_review)
    send = sync(CannedReplies.send)
    prepare = sync(CannedReplies.prepare)


class SyncKnowledgeBase(SyncResource[KnowledgeBase]):
    """Blocking twin of `KnowledgeBase`."""

    create = sync(KnowledgeBase.create)
    get = sync(KnowledgeBase.get)
    update = sync(KnowledgeBase.update)
    publish = sync(KnowledgeBase.publish)
    unpublish = sync(KnowledgeBase.unpublish)
    delete = sync(KnowledgeBase.delete)
    list = sync(KnowledgeBase.list)
    search = sync(KnowledgeBase.search)
    suggest_for = sync(KnowledgeBase.suggest_for)


class SyncBots(SyncResource[Bots]):
    """Blocking twin of `Bots`."""

    start = sync(Bots.start)
    handle = sync(Bots.handle)
    receive = sync(Bots.receive)
    handoff = sync(Bots.handoff)
    stop = sync(Bots.stop)
    state = sync(Bots.state)
    current_step = sync(Bots.current_step)


class SyncSurveys(SyncResource[Surveys]):
    """Blocking twin of `Surveys`."""

    send = sync(Surveys.send)
    answer = sync(Surveys.answer)
    get = sync(Surveys.get)
    for_conversation = sync(Surveys.for_conversation)
    list = sync(Surveys.list)
    follow_up = sync(Surveys.follow_up)
    resume_follow_ups = sync(Surveys.resume_follow_ups)
    expire_due = sync(Surveys.expire_due)


class SyncReviews(SyncResource[Reviews]):
    """Blocking twin of `Reviews`."""

    queue = sync(Reviews.queue)
    add_note = sync(Reviews.add_note)
    notes = sync(Reviews.notes)


class SyncAbuse(SyncResource[Abuse]):
    """Blocking twin of `Abuse`."""

    record = sync(Abuse.record)
    incidents = sync(Abuse.incidents)
    block = sync(Abuse.block)
    unblock = sync(Abuse.unblock)
    is_blocked = sync(Abuse.is_blocked)
    blocks = sync(Abuse.blocks)
    get_block = sync(Abuse.get_block)
    screen = sync(Abuse.screen)


class SyncNotifications(SyncResource[Notifications]):
    """Blocking twin of `Notifications`."""

    drain = sync(Notifications.drain)
    handle = sync(Notifications.handle)
    build = sync(Notifications.build)
    list_log = sync(Notifications.list_log)
    get_log = sync(Notifications.get_log)

    def register(self, notifier: Notifier) -> None:
        self._target.register(notifier)

    register.__doc__ = Notifications.register.__doc__

    def dispatcher(
        self,
        *,
        batch_size: int = 50,
        lease_seconds: float = 60.0,
        start: Literal["beginning", "end"] = "beginning",
        retry_delay: float = 5.0,
        max_retry_delay: float = 300.0,
    ) -> SyncDispatcher:
        """Blocking twin of `Notifications.dispatcher`."""
        return SyncDispatcher(
            self._target.dispatcher(
                batch_size=batch_size,
                lease_seconds=lease_seconds,
                start=start,
                retry_delay=retry_delay,
                max_retry_delay=max_retry_delay,
            ),
            self._runner,
        )


class SyncTranscripts(SyncResource[Transcripts]):
    """Blocking twin of `Transcripts`."""

    get = sync(Transcripts.get)
    render = sync(Transcripts.render)
    select = sync(Transcripts.select)
    export = sync(Transcripts.export)
    email = sync(Transcripts.email)


class SyncRetention(SyncResource[Retention]):
    """Blocking twin of `Retention`."""

    hold = sync(Retention.hold)
    release = sync(Retention.release)
    holds = sync(Retention.holds)
    purge = sync(Retention.purge)


class SyncExports(SyncResource[Exports]):
    """Blocking twin of `Exports`."""

    write_jsonl = sync(Exports.write_jsonl)
    read_jsonl = sync(Exports.read_jsonl)


class SyncPreviews(SyncResource[Previews]):
    """Blocking twin of `Previews`."""

    send = sync(Previews.send)

    def watch(self, conversation_id: str | None = None) -> Iterator[TypingPreview]:
        """Blocking twin of `Previews.watch`: iterate previews as they come."""
        stream = self._target.watch(conversation_id)

        async def close() -> None:
            stream.close()

        return blocking(self._runner, stream, close)


class SyncWebhooks(SyncResource[Webhooks]):
    """Blocking twin of `Webhooks`."""

    subscribe = sync(Webhooks.subscribe)
    list = sync(Webhooks.list)
    get = sync(Webhooks.get)
    update = sync(Webhooks.update)
    unsubscribe = sync(Webhooks.unsubscribe)
    rotate_secret = sync(Webhooks.rotate_secret)
    deliveries = sync(Webhooks.deliveries)
    get_delivery = sync(Webhooks.get_delivery)
    redeliver = sync(Webhooks.redeliver)
    ping = sync(Webhooks.ping)
    drain = sync(Webhooks.drain)
    deliver_pending = sync(Webhooks.deliver_pending)
    prune = sync(Webhooks.prune)
    handle = sync(Webhooks.handle)

    def dispatcher(
        self,
        *,
        batch_size: int = 100,
        lease_seconds: float = 30.0,
        start: Literal["beginning", "end"] = "beginning",
    ) -> SyncWebhookDispatcher:
        """Blocking twin of `Webhooks.dispatcher`."""
        return SyncWebhookDispatcher(
            self._target.dispatcher(
                batch_size=batch_size, lease_seconds=lease_seconds, start=start
            ),
            self._runner,
        )


class SyncWebhookDispatcher:
    """Blocking twin of `WebhookDispatcher`."""

    def __init__(self, dispatcher: WebhookDispatcher, runner: Runner) -> None:
        self._dispatcher = dispatcher
        self._runner = runner

    @property
    def group(self) -> str:
        """The dispatch group's name."""
        return self._dispatcher.group

    def run_once(self) -> int:
        """Handle one outbox batch and start due deliveries (see `WebhookDispatcher.run_once`)."""
        return self._runner.portal().call(self._dispatcher.run_once)

    def drain(self) -> int:
        """Handle every outbox event left and send what is due; the attempts made."""
        return self._runner.portal().call(self._dispatcher.drain)

    def run(self) -> None:
        """Run until `stop` (call it from another thread)."""
        self._runner.portal().call(self._dispatcher.run)

    def stop(self) -> None:
        """Make `run` return after the step in hand."""

        async def stop() -> None:
            self._dispatcher.stop()

        self._runner.portal().call(stop)

    def close(self) -> None:
        """Wait for the attempts in flight and release everything."""
        self._runner.portal().call(self._dispatcher.close)


class SyncChannels(SyncResource[Channels]):
    """Blocking twin of `Channels` (``kit.channels``): accounts, webhooks, the sent-log."""

    handle_webhook = sync(Channels.handle_webhook)
    receive = sync(Channels.receive)
    apply_status = sync(Channels.apply_status)
    drain = sync(Channels.drain)
    sends = sync(Channels.sends)

    def add(self, adapter: ChannelAdapter) -> ChannelAdapter:
        """Serve ``adapter``'s account (see `Channels.add`)."""
        return self._target.add(adapter)

    def add_from_env(self, environ: Mapping[str, str] | None = None) -> list[ChannelAdapter]:
        """Add the accounts ``CHATKIT_CHANNELS`` names (see `Channels.add_from_env`)."""
        return self._target.add_from_env(environ)

    def get(self, name: str) -> ChannelAdapter:
        """The account called ``name`` (see `Channels.get`)."""
        return self._target.get(name)

    def accounts(self) -> list[ChannelAdapter]:
        """The accounts added, in order."""
        return self._target.accounts()
