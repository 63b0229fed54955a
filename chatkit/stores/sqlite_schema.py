"""Versioned schema of the SQLite store.

Each entry of `MIGRATIONS` upgrades the database by one version; the version
lives in ``PRAGMA user_version``. Never edit a released migration: append a
new one.
"""

from __future__ import annotations

__all__ = ["LISTINGS_VERSION", "MIGRATIONS", "SCHEMA_VERSION"]

MIGRATIONS: list[list[str]] = [
    # 1: contacts, agents, conversations, messages, tickets, the outbox.
    [
        """CREATE TABLE contacts (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            merged_into TEXT,
            data TEXT NOT NULL)""",
        """CREATE TABLE identities (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            contact_id TEXT NOT NULL REFERENCES contacts(id),
            data TEXT NOT NULL)""",
        "CREATE INDEX identities_contact ON identities(contact_id)",
        """CREATE TABLE agents (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            email TEXT UNIQUE,
            data TEXT NOT NULL)""",
        """CREATE TABLE conversations (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            contact_id TEXT NOT NULL REFERENCES contacts(id),
            status TEXT NOT NULL,
            assignee_id TEXT REFERENCES agents(id),
            activity_key TEXT NOT NULL,
            data TEXT NOT NULL)""",
        "CREATE INDEX conversations_contact ON conversations(contact_id, activity_key)",
        "CREATE INDEX conversations_status ON conversations(status, activity_key)",
        "CREATE INDEX conversations_assignee ON conversations(assignee_id, activity_key)",
        """CREATE TABLE messages (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            conversation_id TEXT NOT NULL REFERENCES conversations(id),
            seq INTEGER NOT NULL,
            idempotency_key TEXT,
            data TEXT NOT NULL,
            UNIQUE (conversation_id, seq),
            UNIQUE (conversation_id, idempotency_key))""",
        """CREATE TABLE tickets (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
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
            position INTEGER PRIMARY KEY AUTOINCREMENT,
            id TEXT NOT NULL UNIQUE,
            type TEXT NOT NULL,
            conversation_id TEXT,
            data TEXT NOT NULL)""",
    ],
    # 2: durable positions for named event consumers; per-conversation event reads.
    [
        """CREATE TABLE consumer_cursors (
            name TEXT PRIMARY KEY,
            position INTEGER NOT NULL,
            updated_at TEXT NOT NULL)""",
        "CREATE INDEX events_conversation ON events(conversation_id, position)",
    ],
    # 3: attachments (bytes live in the blob store; this is their metadata).
    [
        """CREATE TABLE attachments (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            conversation_id TEXT NOT NULL REFERENCES conversations(id),
            message_id TEXT REFERENCES messages(id),
            data TEXT NOT NULL)""",
        "CREATE INDEX attachments_conversation ON attachments(conversation_id)",
        "CREATE INDEX attachments_message ON attachments(message_id)",
    ],
    # 4: legal holds that suspend purging.
    [
        """CREATE TABLE legal_holds (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            target_id TEXT NOT NULL,
            data TEXT NOT NULL)""",
        "CREATE INDEX legal_holds_target ON legal_holds(target_id)",
    ],
    # 5: outbox dispatch groups: the next position to hand out and the leased
    # ranges in flight (see `chatkit.services.dispatch`).
    [
        """CREATE TABLE dispatch_groups (
            name TEXT PRIMARY KEY,
            claimed_upto INTEGER NOT NULL)""",
        """CREATE TABLE dispatch_leases (
            group_name TEXT NOT NULL REFERENCES dispatch_groups(name),
            first_position INTEGER NOT NULL,
            last_position INTEGER NOT NULL,
            owner TEXT,
            lease_until REAL NOT NULL,
            attempts INTEGER NOT NULL,
            PRIMARY KEY (group_name, first_position))""",
        "CREATE INDEX dispatch_leases_expiry ON dispatch_leases(group_name, lease_until)",
    ],
    # 6: nothing on SQLite (PostgreSQL defers its foreign-key checks to commit;
    # SQLite's single writer needs no global row order). Kept so both stores
    # share version numbers.
    [],
    # 7: agent status as a column, for "who is available" queries.
    [
        "ALTER TABLE agents ADD COLUMN status TEXT NOT NULL DEFAULT 'offline'",
        "CREATE INDEX agents_status ON agents(status)",
    ],
    # 8: teams; conversations' team and work-queue order, for routing.
    [
        """CREATE TABLE teams (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            name TEXT NOT NULL UNIQUE,
            data TEXT NOT NULL)""",
        "ALTER TABLE conversations ADD COLUMN team TEXT",
        "ALTER TABLE conversations ADD COLUMN queue_key TEXT",
        "UPDATE conversations SET team = json_extract(data, '$.team')",
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
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            shortcut TEXT NOT NULL,
            language TEXT NOT NULL,
            base_language TEXT NOT NULL,
            shortcut_key TEXT NOT NULL,
            review_key TEXT NOT NULL,
            data TEXT NOT NULL,
            UNIQUE (shortcut, language))""",
        "CREATE INDEX canned_replies_listing ON canned_replies(language, shortcut_key)",
        "CREATE INDEX canned_replies_key ON canned_replies(shortcut_key)",
        "CREATE INDEX canned_replies_family ON canned_replies(base_language)",
        "CREATE INDEX canned_replies_review ON canned_replies(review_key)",
    ],
    # 11: self-service and follow-up. Knowledge-base articles with a full-text
    # index kept by triggers (FTS5, diacritics folded); surveys (CSAT), review
    # notes, abuse incidents, blocks (unique per kind and value), and the log
    # that deduplicates notifications.
    [
        """CREATE TABLE kb_articles (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            language TEXT NOT NULL,
            published INTEGER NOT NULL,
            data TEXT NOT NULL)""",
        "CREATE INDEX kb_articles_language ON kb_articles(language, published)",
        """CREATE VIRTUAL TABLE kb_search USING fts5(
            title, body, tags, article_id UNINDEXED,
            tokenize = 'unicode61 remove_diacritics 2')""",
        """CREATE TRIGGER kb_articles_ai AFTER INSERT ON kb_articles BEGIN
            INSERT INTO kb_search (rowid, title, body, tags, article_id) VALUES (
                new.rowid, json_extract(new.data, '$.title'), json_extract(new.data, '$.body'),
                coalesce((SELECT group_concat(value, ' ') FROM json_each(new.data, '$.tags')), ''),
                new.id);
        END""",
        """CREATE TRIGGER kb_articles_ad AFTER DELETE ON kb_articles BEGIN
            DELETE FROM kb_search WHERE rowid = old.rowid;
        END""",
        """CREATE TRIGGER kb_articles_au AFTER UPDATE ON kb_articles BEGIN
            DELETE FROM kb_search WHERE rowid = old.rowid;
            INSERT INTO kb_search (rowid, title, body, tags, article_id) VALUES (
                new.rowid, json_extract(new.data, '$.title'), json_extract(new.data, '$.body'),
                coalesce((SELECT group_concat(value, ' ') FROM json_each(new.data, '$.tags')), ''),
                new.id);
        END""",
        """CREATE TABLE surveys (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            conversation_id TEXT NOT NULL,
            status TEXT NOT NULL,
            score_key TEXT,
            data TEXT NOT NULL)""",
        "CREATE INDEX surveys_conversation ON surveys(conversation_id)",
        "CREATE INDEX surveys_score ON surveys(status, score_key)",
        """CREATE TABLE reviews (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            conversation_id TEXT NOT NULL,
            data TEXT NOT NULL)""",
        "CREATE INDEX reviews_conversation ON reviews(conversation_id)",
        """CREATE TABLE incidents (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            contact_id TEXT NOT NULL,
            occurred_key TEXT NOT NULL,
            data TEXT NOT NULL)""",
        "CREATE INDEX incidents_contact ON incidents(contact_id, occurred_key)",
        "CREATE INDEX incidents_time ON incidents(occurred_key)",
        """CREATE TABLE blocks (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            data TEXT NOT NULL,
            UNIQUE (kind, value))""",
        """CREATE TABLE notification_log (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            dedupe_key TEXT NOT NULL UNIQUE,
            data TEXT NOT NULL)""",
    ],
    # 12: the sync engine. Links between local records and their twins at an
    # integration (the id map and the outbound queue: due_key is set while a
    # change waits for the vendor), each integration's state (pull cursor,
    # parking, call counts) and the audit of field-level decisions.
    [
        """CREATE TABLE sync_links (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            integration TEXT NOT NULL,
            kind TEXT NOT NULL,
            local_id TEXT NOT NULL,
            parent_local_id TEXT,
            remote_key TEXT,
            due_key TEXT,
            dead INTEGER NOT NULL,
            data TEXT NOT NULL,
            UNIQUE (integration, local_id),
            UNIQUE (integration, remote_key))""",
        "CREATE INDEX sync_links_due ON sync_links(integration, kind, due_key)",
        "CREATE INDEX sync_links_dead ON sync_links(integration, dead)",
        "CREATE INDEX sync_links_parent ON sync_links(integration, parent_local_id)",
        """CREATE TABLE sync_states (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            integration TEXT NOT NULL UNIQUE,
            data TEXT NOT NULL)""",
        """CREATE TABLE sync_decisions (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
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
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            data TEXT NOT NULL)""",
        """CREATE TABLE workers (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
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
            tat REAL NOT NULL)""",
        "CREATE INDEX rate_limits_tat ON rate_limits(tat)",
        """CREATE TABLE agent_tokens (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            agent_id TEXT NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
            data TEXT NOT NULL)""",
        "CREATE INDEX agent_tokens_agent ON agent_tokens(agent_id)",
    ],
    # The web app (chatkit.web): websites (public key, allowed origins,
    # identity secret) and customer sessions (only the token's hash is kept).
    [
        """CREATE TABLE websites (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            public_key TEXT NOT NULL UNIQUE,
            data TEXT NOT NULL)""",
        """CREATE TABLE web_sessions (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            token_hash TEXT NOT NULL UNIQUE,
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
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            active INTEGER NOT NULL,
            data TEXT NOT NULL)""",
        """CREATE TABLE webhook_deliveries (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            subscription_id TEXT NOT NULL,
            event_id TEXT NOT NULL,
            status TEXT NOT NULL,
            due_key TEXT,
            log_key TEXT NOT NULL UNIQUE,
            data TEXT NOT NULL,
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
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            data TEXT NOT NULL)""",
        """CREATE TABLE report_conversations (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            day TEXT NOT NULL,
            team TEXT,
            data TEXT NOT NULL)""",
        "CREATE INDEX report_conversations_day ON report_conversations(day)",
        "CREATE INDEX report_conversations_team ON report_conversations(team, day)",
        """CREATE TABLE report_stamps (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            day TEXT NOT NULL,
            team TEXT,
            data TEXT NOT NULL)""",
        "CREATE INDEX report_stamps_day ON report_stamps(day)",
        "CREATE INDEX report_stamps_team ON report_stamps(team, day)",
        """CREATE TABLE report_replies (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
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
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            account TEXT NOT NULL,
            data TEXT NOT NULL)""",
        """CREATE TABLE channel_sends (
            id TEXT PRIMARY KEY, version INTEGER NOT NULL,
            message_id TEXT NOT NULL UNIQUE,
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
