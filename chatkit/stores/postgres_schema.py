"""Versioned schema of the PostgreSQL store (same tables and versions as SQLite).

Unique constraints are named ``uq__<table>__<column>[__<column>]`` so that a
violation can be reported with its columns.
"""

from __future__ import annotations

__all__ = ["LISTINGS_VERSION", "MIGRATIONS", "SCHEMA_VERSION"]

MIGRATIONS: list[list[str]] = [
    # 1: contacts, agents, conversations, messages, tickets, the outbox.
    [
        """CREATE TABLE contacts (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            merged_into TEXT,
            data TEXT NOT NULL)""",
        """CREATE TABLE identities (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            contact_id TEXT NOT NULL REFERENCES contacts(id),
            data TEXT NOT NULL)""",
        "CREATE INDEX identities_contact ON identities(contact_id)",
        """CREATE TABLE agents (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            email TEXT CONSTRAINT uq__agents__email UNIQUE,
            data TEXT NOT NULL)""",
        """CREATE TABLE conversations (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            contact_id TEXT NOT NULL REFERENCES contacts(id),
            status TEXT NOT NULL,
            assignee_id TEXT REFERENCES agents(id),
            activity_key TEXT NOT NULL,
            data TEXT NOT NULL)""",
        "CREATE INDEX conversations_contact ON conversations(contact_id, activity_key)",
        "CREATE INDEX conversations_status ON conversations(status, activity_key)",
        "CREATE INDEX conversations_assignee ON conversations(assignee_id, activity_key)",
        """CREATE TABLE messages (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            conversation_id TEXT NOT NULL REFERENCES conversations(id),
            seq BIGINT NOT NULL,
            idempotency_key TEXT,
            data TEXT NOT NULL,
            CONSTRAINT uq__messages__conversation_id__seq UNIQUE (conversation_id, seq),
            CONSTRAINT uq__messages__conversation_id__idempotency_key
                UNIQUE (conversation_id, idempotency_key))""",
        """CREATE TABLE tickets (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            contact_id TEXT NOT NULL REFERENCES contacts(id),
            conversation_id TEXT REFERENCES conversations(id),
            status TEXT NOT NULL,
            owner_id TEXT REFERENCES agents(id),
            queue_key TEXT NOT NULL,
            data TEXT NOT NULL)""",
        "CREATE INDEX tickets_queue ON tickets(status, queue_key)",
        "CREATE INDEX tickets_contact ON tickets(contact_id, queue_key)",
        "CREATE INDEX tickets_conversation ON tickets(conversation_id)",
        """CREATE TABLE events (
            position BIGINT PRIMARY KEY,
            id TEXT NOT NULL CONSTRAINT uq__events__id UNIQUE,
            type TEXT NOT NULL,
            conversation_id TEXT,
            data TEXT NOT NULL)""",
        # One row: the last outbox position. Updating it inside each writing
        # transaction serialises those commits, so positions follow commit
        # order and a reader never skips an event that commits late.
        "CREATE TABLE outbox_sequence (last_position BIGINT NOT NULL)",
        "INSERT INTO outbox_sequence (last_position) VALUES (0)",
    ],
    # 2: durable positions for named event consumers; per-conversation event reads.
    [
        """CREATE TABLE consumer_cursors (
            name TEXT PRIMARY KEY,
            position BIGINT NOT NULL,
            updated_at TEXT NOT NULL)""",
        "CREATE INDEX events_conversation ON events(conversation_id, position)",
    ],
    # 3: attachments.
    [
        """CREATE TABLE attachments (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            conversation_id TEXT NOT NULL REFERENCES conversations(id),
            message_id TEXT REFERENCES messages(id),
            data TEXT NOT NULL)""",
        "CREATE INDEX attachments_conversation ON attachments(conversation_id)",
        "CREATE INDEX attachments_message ON attachments(message_id)",
    ],
    # 4: legal holds.
    [
        """CREATE TABLE legal_holds (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            target_id TEXT NOT NULL,
            data TEXT NOT NULL)""",
        "CREATE INDEX legal_holds_target ON legal_holds(target_id)",
    ],
    # 5: outbox dispatch groups and their leased ranges.
    [
        """CREATE TABLE dispatch_groups (
            name TEXT PRIMARY KEY,
            claimed_upto BIGINT NOT NULL)""",
        """CREATE TABLE dispatch_leases (
            group_name TEXT NOT NULL REFERENCES dispatch_groups(name),
            first_position BIGINT NOT NULL,
            last_position BIGINT NOT NULL,
            owner TEXT,
            lease_until DOUBLE PRECISION NOT NULL,
            attempts INT NOT NULL,
            PRIMARY KEY (group_name, first_position))""",
        "CREATE INDEX dispatch_leases_expiry ON dispatch_leases(group_name, lease_until)",
    ],
    # 6: foreign keys checked at commit, so that a transaction may write its
    # updates first, in one global row order (no deadlocks between writers),
    # and its inserts after them.
    [
        """DO $$
        DECLARE fk record;
        BEGIN
            FOR fk IN
                SELECT conrelid::regclass AS tbl, conname FROM pg_constraint
                WHERE contype = 'f' AND connamespace = current_schema()::regnamespace
            LOOP
                EXECUTE format(
                    'ALTER TABLE %s ALTER CONSTRAINT %I DEFERRABLE INITIALLY DEFERRED',
                    fk.tbl, fk.conname);
            END LOOP;
        END $$""",
    ],
    # 7: agent status as a column, for "who is available" queries.
    [
        "ALTER TABLE agents ADD COLUMN status TEXT NOT NULL DEFAULT 'offline'",
        "CREATE INDEX agents_status ON agents(status)",
    ],
    # 8: teams; conversations' team and work-queue order, for routing.
    [
        """CREATE TABLE teams (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            name TEXT NOT NULL CONSTRAINT uq__teams__name UNIQUE,
            data TEXT NOT NULL)""",
        "ALTER TABLE conversations ADD COLUMN team TEXT",
        "ALTER TABLE conversations ADD COLUMN queue_key TEXT",
        "UPDATE conversations SET team = data::jsonb ->> 'team'",
        "CREATE INDEX conversations_queue ON conversations(team, queue_key)",
    ],
    # 9: ordered lists of records (`Record.list_entries`): which agents can
    # take a chat, per team, least busy or longest waiting first. The store
    # fills it from the existing records right after this step.
    [
        """CREATE TABLE listings (
            tbl TEXT NOT NULL,
            name TEXT NOT NULL,
            sort_key TEXT NOT NULL,
            record_id TEXT NOT NULL,
            PRIMARY KEY (tbl, name, sort_key, record_id))""",
        "CREATE INDEX listings_record ON listings(tbl, record_id)",
    ],
    # 10: canned replies (agent scripts), unique per shortcut and language;
    # listed by shortcut, suggested by language family, reviewed oldest first.
    [
        """CREATE TABLE canned_replies (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            shortcut TEXT NOT NULL,
            language TEXT NOT NULL,
            base_language TEXT NOT NULL,
            shortcut_key TEXT NOT NULL,
            review_key TEXT NOT NULL,
            data TEXT NOT NULL,
            CONSTRAINT uq__canned_replies__shortcut__language UNIQUE (shortcut, language))""",
        "CREATE INDEX canned_replies_listing ON canned_replies(language, shortcut_key)",
        "CREATE INDEX canned_replies_key ON canned_replies(shortcut_key)",
        "CREATE INDEX canned_replies_family ON canned_replies(base_language)",
        "CREATE INDEX canned_replies_review ON canned_replies(review_key)",
    ],
    # 11: self-service and follow-up. Knowledge-base articles with a generated
    # full-text column ('simple' configuration: every language, no stemming)
    # and its GIN index; surveys (CSAT), review notes, abuse incidents, blocks
    # (unique per kind and value), and the log that deduplicates notifications.
    [
        """CREATE TABLE kb_articles (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            language TEXT NOT NULL,
            published BIGINT NOT NULL,
            data TEXT NOT NULL,
            search tsvector GENERATED ALWAYS AS (
                setweight(to_tsvector('simple', coalesce(data::jsonb ->> 'title', '')), 'A')
                || setweight(to_tsvector('simple', coalesce(
                    (data::jsonb -> 'tags')::text, '')), 'B')
                || setweight(to_tsvector('simple', coalesce(data::jsonb ->> 'body', '')), 'C')
            ) STORED)""",
        "CREATE INDEX kb_articles_language ON kb_articles(language, published)",
        "CREATE INDEX kb_articles_search ON kb_articles USING GIN (search)",
        """CREATE TABLE surveys (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            conversation_id TEXT NOT NULL,
            status TEXT NOT NULL,
            score_key TEXT,
            data TEXT NOT NULL)""",
        "CREATE INDEX surveys_conversation ON surveys(conversation_id)",
        "CREATE INDEX surveys_score ON surveys(status, score_key)",
        """CREATE TABLE reviews (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            conversation_id TEXT NOT NULL,
            data TEXT NOT NULL)""",
        "CREATE INDEX reviews_conversation ON reviews(conversation_id)",
        """CREATE TABLE incidents (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            contact_id TEXT NOT NULL,
            occurred_key TEXT NOT NULL,
            data TEXT NOT NULL)""",
        "CREATE INDEX incidents_contact ON incidents(contact_id, occurred_key)",
        "CREATE INDEX incidents_time ON incidents(occurred_key)",
        """CREATE TABLE blocks (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            data TEXT NOT NULL,
            CONSTRAINT uq__blocks__kind__value UNIQUE (kind, value))""",
        """CREATE TABLE notification_log (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            dedupe_key TEXT NOT NULL CONSTRAINT uq__notification_log__dedupe_key UNIQUE,
            data TEXT NOT NULL)""",
    ],
    # 12: the sync engine. Links between local records and their twins at an
    # integration (the id map and the outbound queue: due_key is set while a
    # change waits for the vendor), each integration's state (pull cursor,
    # parking, call counts) and the audit of field-level decisions.
    [
        """CREATE TABLE sync_links (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            integration TEXT NOT NULL,
            kind TEXT NOT NULL,
            local_id TEXT NOT NULL,
            parent_local_id TEXT,
            remote_key TEXT,
            due_key TEXT,
            dead BIGINT NOT NULL,
            data TEXT NOT NULL,
            CONSTRAINT uq__sync_links__integration__local_id UNIQUE (integration, local_id),
            CONSTRAINT uq__sync_links__integration__remote_key UNIQUE (integration, remote_key))""",
        "CREATE INDEX sync_links_due ON sync_links(integration, kind, due_key)",
        "CREATE INDEX sync_links_dead ON sync_links(integration, dead)",
        "CREATE INDEX sync_links_parent ON sync_links(integration, parent_local_id)",
        """CREATE TABLE sync_states (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            integration TEXT NOT NULL CONSTRAINT uq__sync_states__integration UNIQUE,
            data TEXT NOT NULL)""",
        """CREATE TABLE sync_decisions (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            integration TEXT NOT NULL,
            local_id TEXT NOT NULL,
            at_key TEXT NOT NULL,
            data TEXT NOT NULL)""",
        "CREATE INDEX sync_decisions_record ON sync_decisions(integration, local_id, at_key)",
        "CREATE INDEX sync_decisions_time ON sync_decisions(integration, at_key)",
    ],
    # 13: the background worker (`chatkit worker`): one row per job (the lease
    # of a periodic job and its last outcome) and one per worker process (its
    # heartbeat and the outcomes of its dispatchers), read by `kit.health()`.
    [
        """CREATE TABLE worker_jobs (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            data TEXT NOT NULL)""",
        """CREATE TABLE workers (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            data TEXT NOT NULL)""",
    ],
    # Rate limits and agent API tokens. ``rate_limits`` holds one row per
    # limited key (a hash of the limit's name and the key, never the raw IP
    # or session): its GCRA "theoretical arrival time", in seconds since the
    # epoch; a row whose time has passed is the same as no row and is deleted
    # (see `chatkit.ratelimit`). ``agent_tokens`` holds per-agent API tokens,
    # found by the SHA-256 of the secret (the secret itself is never stored).
    [
        """CREATE TABLE rate_limits (
            key TEXT PRIMARY KEY,
            tat DOUBLE PRECISION NOT NULL)""",
        "CREATE INDEX rate_limits_tat ON rate_limits(tat)",
        """CREATE TABLE agent_tokens (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            agent_id TEXT NOT NULL,
            token_hash TEXT NOT NULL CONSTRAINT uq__agent_tokens__token_hash UNIQUE,
            data TEXT NOT NULL)""",
        "CREATE INDEX agent_tokens_agent ON agent_tokens(agent_id)",
    ],
    # The web app (chatkit.web): websites (public key, allowed origins,
    # identity secret) and customer sessions (only the token's hash is kept).
    [
        """CREATE TABLE websites (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            public_key TEXT NOT NULL CONSTRAINT uq__websites__public_key UNIQUE,
            data TEXT NOT NULL)""",
        """CREATE TABLE web_sessions (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            token_hash TEXT NOT NULL CONSTRAINT uq__web_sessions__token_hash UNIQUE,
            contact_id TEXT NOT NULL,
            expires_at TEXT NOT NULL,
            data TEXT NOT NULL)""",
        "CREATE INDEX web_sessions_contact ON web_sessions(contact_id)",
        "CREATE INDEX web_sessions_expiry ON web_sessions(expires_at)",
    ],
    # Outbound webhooks (`kit.webhooks`): subscriptions (URL, event types,
    # signing secrets) and the delivery log, which is also the retry queue
    # (due_key is set while a delivery waits for its next attempt).
    [
        """CREATE TABLE webhook_subscriptions (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            active BIGINT NOT NULL,
            data TEXT NOT NULL)""",
        """CREATE TABLE webhook_deliveries (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            subscription_id TEXT NOT NULL,
            event_id TEXT NOT NULL,
            status TEXT NOT NULL,
            due_key TEXT,
            log_key TEXT NOT NULL CONSTRAINT uq__webhook_deliveries__log_key UNIQUE,
            data TEXT NOT NULL,
            CONSTRAINT uq__webhook_deliveries__subscription_id__event_id
                UNIQUE (subscription_id, event_id))""",
        "CREATE INDEX webhook_deliveries_due ON webhook_deliveries(subscription_id, due_key)",
        "CREATE INDEX webhook_deliveries_log ON webhook_deliveries(subscription_id, log_key)",
        "CREATE INDEX webhook_deliveries_status ON webhook_deliveries(status, log_key)",
    ],
    # Reports (`kit.reports`): the reporting projection. Per conversation its
    # timeline (the moments reports need, keyed by outbox position) and the
    # facts derived from it (and a slim stamp of them for the heatmap); one
    # row per public agent reply.
    [
        """CREATE TABLE report_timelines (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            data TEXT NOT NULL)""",
        """CREATE TABLE report_conversations (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            day TEXT NOT NULL,
            team TEXT,
            data TEXT NOT NULL)""",
        "CREATE INDEX report_conversations_day ON report_conversations(day)",
        "CREATE INDEX report_conversations_team ON report_conversations(team, day)",
        """CREATE TABLE report_stamps (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            day TEXT NOT NULL,
            team TEXT,
            data TEXT NOT NULL)""",
        "CREATE INDEX report_stamps_day ON report_stamps(day)",
        "CREATE INDEX report_stamps_team ON report_stamps(team, day)",
        """CREATE TABLE report_replies (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            conversation_id TEXT NOT NULL,
            day TEXT NOT NULL,
            data TEXT NOT NULL)""",
        "CREATE INDEX report_replies_conversation ON report_replies(conversation_id)",
        "CREATE INDEX report_replies_day ON report_replies(day)",
    ],
    # Messaging channels (`chatkit.channels`): one receipt per provider message
    # id or status report (its id derived from them, so a redelivery is written
    # once), and the outbound sent-log, which is also the retry queue (due_key
    # is set while a send waits for its next attempt).
    [
        """CREATE TABLE channel_receipts (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            account TEXT NOT NULL,
            data TEXT NOT NULL)""",
        """CREATE TABLE channel_sends (
            id TEXT PRIMARY KEY, version BIGINT NOT NULL,
            message_id TEXT NOT NULL CONSTRAINT uq__channel_sends__message_id UNIQUE,
            account TEXT NOT NULL,
            status TEXT NOT NULL,
            due_key TEXT,
            provider_message_id TEXT,
            data TEXT NOT NULL)""",
        "CREATE INDEX channel_sends_due ON channel_sends(account, due_key)",
        "CREATE INDEX channel_sends_provider ON channel_sends(account, provider_message_id)",
    ],
]

LISTINGS_VERSION = 9
"""The version that added the ``listings`` table (filled from the records when it is reached)."""

SCHEMA_VERSION = len(MIGRATIONS)
"""The schema version this chatkit writes."""
