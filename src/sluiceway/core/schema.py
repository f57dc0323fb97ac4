"""The SQLite schema of a data directory.

Resource names appear as they are declared (``queues.name = 'POC-Queue'``), so what the CLI,
the console and the template show is the same name. Times are epoch milliseconds.

`SCHEMA` creates the current version from nothing; `MIGRATIONS[v]` takes a data directory
of version v to v + 1, in one transaction, keeping its data.
"""

SCHEMA_VERSION = 9

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

-- the app graph as last run, so the CLI works without importing the app
CREATE TABLE IF NOT EXISTS queues (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    config     TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    purged_at  INTEGER,
    -- set by SetQueueAttributes (SQS's LastModifiedTimestamp); NULL: never changed
    modified_at INTEGER,
    -- the attributes SQS keeps that the engine does not act on (Policy, KMS ...), as JSON
    attributes TEXT
);
-- SQS queue tags (TagQueue)
CREATE TABLE IF NOT EXISTS queue_tags (
    queue_id INTEGER NOT NULL,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (queue_id, key)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS tables (
    id           INTEGER PRIMARY KEY,
    name         TEXT NOT NULL UNIQUE,
    config       TEXT NOT NULL,
    stream_label TEXT,
    created_at   INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS topics (
    id         INTEGER PRIMARY KEY,
    name       TEXT NOT NULL UNIQUE,
    created_at INTEGER NOT NULL,
    -- what SNS's API set: {"DisplayName": ...} and {"tag": "value"} (JSON)
    attributes TEXT,
    tags       TEXT
);
CREATE TABLE IF NOT EXISTS routes (
    method TEXT NOT NULL,
    path   TEXT NOT NULL,
    config TEXT NOT NULL,
    PRIMARY KEY (method, path)
);

-- SQS: one row per message; the claim query walks messages_ready from the front
CREATE TABLE IF NOT EXISTS messages (
    seq               INTEGER PRIMARY KEY,
    queue_id          INTEGER NOT NULL,
    message_id        TEXT NOT NULL,
    body              TEXT NOT NULL,
    attributes        TEXT,
    sender_id         TEXT NOT NULL,
    sent_at           INTEGER NOT NULL,
    visible_at        INTEGER NOT NULL,
    receive_count     INTEGER NOT NULL DEFAULT 0,
    first_received_at INTEGER,
    receipt           TEXT,
    received_at       INTEGER,
    source_queue_id   INTEGER,
    -- 1 while an invocation holds the message; still 1 at start-up = cut short by a crash
    invoking          INTEGER NOT NULL DEFAULT 0,
    -- FIFO queues only
    group_id          TEXT,
    dedup_id          TEXT,
    sequence_number   TEXT,
    -- the trace (correlation id) of the request or record that sent it
    trace_id          TEXT
);
CREATE INDEX IF NOT EXISTS messages_ready ON messages (queue_id, visible_at);
-- FIFO order: a queue's messages in send order
CREATE INDEX IF NOT EXISTS messages_fifo ON messages (queue_id, seq) WHERE group_id IS NOT NULL;
-- FIFO deduplication ids, remembered for 5 minutes
CREATE TABLE IF NOT EXISTS dedup (
    queue_id        INTEGER NOT NULL,
    dedup_id        TEXT NOT NULL,
    message_id      TEXT NOT NULL,
    sequence_number TEXT NOT NULL,
    expires_at      INTEGER NOT NULL,
    PRIMARY KEY (queue_id, dedup_id)
) WITHOUT ROWID;
-- DLQ redrives (StartMessageMoveTask): one running task per source queue
CREATE TABLE IF NOT EXISTS move_tasks (
    id             INTEGER PRIMARY KEY,
    handle         TEXT NOT NULL UNIQUE,
    source_id      INTEGER NOT NULL,
    destination_id INTEGER,
    rate           INTEGER,
    status         TEXT NOT NULL,
    moved          INTEGER NOT NULL DEFAULT 0,
    to_move        INTEGER NOT NULL,
    failure        TEXT,
    until_seq      INTEGER NOT NULL,
    started_at     INTEGER NOT NULL,
    updated_at     INTEGER NOT NULL,
    owner          TEXT,
    lease_until    INTEGER NOT NULL
);

-- DynamoDB: items keyed by order-preserving key bytes; the stream in the same transaction
CREATE TABLE IF NOT EXISTS items (
    table_id   INTEGER NOT NULL,
    pk         BLOB NOT NULL,
    sk         BLOB NOT NULL,
    item       TEXT NOT NULL,
    -- epoch ms from the table's TTL attribute, if it has one and the item sets it
    expires_at INTEGER,
    PRIMARY KEY (table_id, pk, sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_expiring ON items (table_id, expires_at)
    WHERE expires_at IS NOT NULL;
-- DynamoDB secondary indexes: each index's projection of an item under the index's key
-- bytes, then the item's own key (an index key need not be unique); written in the item's
-- transaction
CREATE TABLE IF NOT EXISTS index_items (
    table_id   INTEGER NOT NULL,
    index_name TEXT NOT NULL,
    pk         BLOB NOT NULL,
    sk         BLOB NOT NULL,
    item_pk    BLOB NOT NULL,
    item_sk    BLOB NOT NULL,
    item       TEXT NOT NULL,
    PRIMARY KEY (table_id, index_name, pk, sk, item_pk, item_sk)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS index_items_by_item ON index_items (table_id, item_pk, item_sk);
-- DynamoDB tables' tags (TagResource)
CREATE TABLE IF NOT EXISTS table_tags (
    table_name TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (table_name, key)
) WITHOUT ROWID;
-- TransactWriteItems' ClientRequestToken, remembered 10 minutes
CREATE TABLE IF NOT EXISTS transaction_tokens (
    token      TEXT PRIMARY KEY,
    digest     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS stream_records (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    table_id      INTEGER NOT NULL,
    event_id      TEXT NOT NULL,
    event_name    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    keys          TEXT NOT NULL,
    new_image     TEXT,
    old_image     TEXT,
    size_bytes    INTEGER NOT NULL,
    user_identity TEXT,
    -- a stable hash of the item's key: parallel lanes of a mapping split on it
    key_hash      INTEGER NOT NULL,
    trace_id      TEXT
);
CREATE INDEX IF NOT EXISTS stream_by_table ON stream_records (table_id, seq);

-- stream mappings: per mapping and lane, the checkpoint and the retry, bisect and window state
CREATE TABLE IF NOT EXISTS mappings (
    name            TEXT NOT NULL,
    lane            INTEGER NOT NULL,
    source          TEXT NOT NULL,
    position        INTEGER NOT NULL DEFAULT 0,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL DEFAULT 0,
    batch_limit     INTEGER,
    window_start    INTEGER,
    window_state    TEXT,
    last_error      TEXT,
    updated_at      INTEGER NOT NULL,
    PRIMARY KEY (name, lane)
);

-- SNS: subscriptions, published notifications and the delivery outbox
CREATE TABLE IF NOT EXISTS subscriptions (
    id           INTEGER PRIMARY KEY,
    topic_id     INTEGER NOT NULL,
    protocol     TEXT NOT NULL,
    endpoint     TEXT NOT NULL,
    arn          TEXT NOT NULL UNIQUE,
    status       TEXT NOT NULL,
    token        TEXT NOT NULL,
    created_at   INTEGER NOT NULL,
    confirmed_at INTEGER,
    filter_policy TEXT,
    filter_scope  TEXT,
    -- attributes SNS's API set (RawMessageDelivery...), JSON; origin 'api' for a
    -- subscription SNS's API made (starting the app again keeps it), NULL when declared
    attributes    TEXT,
    origin        TEXT,
    UNIQUE (topic_id, protocol, endpoint)
);
-- topic_id is NULL for a message published straight to a phone number (SMS)
CREATE TABLE IF NOT EXISTS notifications (
    id           INTEGER PRIMARY KEY,
    message_id   TEXT NOT NULL,
    topic_id     INTEGER,
    subject      TEXT,
    message      TEXT NOT NULL,
    structure    TEXT,
    attributes   TEXT,
    published_at INTEGER NOT NULL,
    trace_id     TEXT
);
CREATE TABLE IF NOT EXISTS deliveries (
    id              INTEGER PRIMARY KEY,
    notification_id INTEGER,
    subscription_id INTEGER,
    kind            TEXT NOT NULL,
    protocol        TEXT NOT NULL,
    endpoint        TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER
);
CREATE INDEX IF NOT EXISTS deliveries_due ON deliveries (protocol, next_attempt_at)
    WHERE status = 'pending';
-- SMS: numbers that replied STOP (or were opted out by hand); nothing is texted to them
CREATE TABLE IF NOT EXISTS sms_opt_outs (
    phone        TEXT PRIMARY KEY,
    opted_out_at INTEGER NOT NULL
);
-- OAuth2 app clients of the user pools; a secret is kept only as its salted hash
CREATE TABLE IF NOT EXISTS oauth_clients (
    client_id   TEXT PRIMARY KEY,
    pool        TEXT NOT NULL,
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
-- (the hops of every trace are in traces.db beside this file: see traces.py)
-- every mapping and pipe of the app as last run, and whether an operator paused it
CREATE TABLE IF NOT EXISTS mapping_states (
    name       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    source     TEXT NOT NULL,
    paused_at  INTEGER,
    updated_at INTEGER NOT NULL
);
-- scheduled functions (`app.on_schedule`): when each schedule was first run (a rate counts
-- its periods from then) and the last time slot it fired, committed with the fire's
-- delivery
CREATE TABLE IF NOT EXISTS schedules (
    function   TEXT PRIMARY KEY,
    expression TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    fired_slot INTEGER
);
"""

MIGRATIONS: dict[int, str] = {
    # 1 -> 2: subscription filter policies; direct SMS (a notification with no topic, a
    # delivery with no subscription); the SMS opt-out list.
    1: """
ALTER TABLE subscriptions ADD COLUMN filter_policy TEXT;
ALTER TABLE subscriptions ADD COLUMN filter_scope TEXT;
CREATE TABLE notifications_v2 (
    id           INTEGER PRIMARY KEY,
    message_id   TEXT NOT NULL,
    topic_id     INTEGER,
    subject      TEXT,
    message      TEXT NOT NULL,
    structure    TEXT,
    attributes   TEXT,
    published_at INTEGER NOT NULL
);
INSERT INTO notifications_v2 SELECT id, message_id, topic_id, subject, message, structure,
    attributes, published_at FROM notifications;
DROP TABLE notifications;
ALTER TABLE notifications_v2 RENAME TO notifications;
CREATE TABLE deliveries_v2 (
    id              INTEGER PRIMARY KEY,
    notification_id INTEGER,
    subscription_id INTEGER,
    kind            TEXT NOT NULL,
    protocol        TEXT NOT NULL,
    endpoint        TEXT NOT NULL,
    status          TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    last_error      TEXT,
    created_at      INTEGER NOT NULL,
    delivered_at    INTEGER
);
INSERT INTO deliveries_v2 SELECT id, notification_id, subscription_id, kind, protocol,
    endpoint, status, attempts, next_attempt_at, last_error, created_at, delivered_at
    FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_v2 RENAME TO deliveries;
CREATE INDEX deliveries_due ON deliveries (protocol, next_attempt_at)
    WHERE status = 'pending';
CREATE TABLE sms_opt_outs (
    phone        TEXT PRIMARY KEY,
    opted_out_at INTEGER NOT NULL
);
""",
    # 2 -> 3: OAuth2 app clients.
    2: """
CREATE TABLE oauth_clients (
    client_id   TEXT PRIMARY KEY,
    pool        TEXT NOT NULL,
    name        TEXT NOT NULL,
    secret_hash TEXT NOT NULL,
    scopes      TEXT NOT NULL,
    created_at  INTEGER NOT NULL
);
""",
    # 3 -> 4: tracing: the trace each message, stream record and notification belongs to,
    # and the hops of every trace.
    3: """
ALTER TABLE messages ADD COLUMN trace_id TEXT;
ALTER TABLE stream_records ADD COLUMN trace_id TEXT;
ALTER TABLE notifications ADD COLUMN trace_id TEXT;
-- tracing: each hop a request's trace took (HTTP, queue, invocation, item, publish,
-- delivery), kept 24 hours
CREATE TABLE trace_hops (
    id          INTEGER PRIMARY KEY,
    trace_id    TEXT NOT NULL,
    at_ms       INTEGER NOT NULL,
    kind        TEXT NOT NULL,
    name        TEXT NOT NULL,
    detail      TEXT,
    duration_ms REAL,
    -- the order hops happened in (see traces.next_seq)
    seq         INTEGER NOT NULL
);
CREATE INDEX trace_hops_by_trace ON trace_hops (trace_id, seq);
""",
    # 4 -> 5: pausing mappings and pipes (`sluiceway mappings pause`).
    4: """
CREATE TABLE mapping_states (
    name       TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    source     TEXT NOT NULL,
    paused_at  INTEGER,
    updated_at INTEGER NOT NULL
);
""",
    # 5 -> 6: trace hops move to traces.db, written in bulk off the writer's path. The hops
    # of the last 24 hours are observations, not data: they are not carried over.
    5: """
DROP TABLE trace_hops;
""",
    # 6 -> 7: the AWS APIs' own state. SQS: queue attributes set over the wire, and queue
    # tags. SNS: topic attributes and tags, subscription attributes, and which
    # subscriptions the API made (they are not declared, and stay).
    6: """
ALTER TABLE queues ADD COLUMN modified_at INTEGER;
ALTER TABLE queues ADD COLUMN attributes TEXT;
CREATE TABLE queue_tags (
    queue_id INTEGER NOT NULL,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (queue_id, key)
) WITHOUT ROWID;
ALTER TABLE topics ADD COLUMN attributes TEXT;
ALTER TABLE topics ADD COLUMN tags TEXT;
ALTER TABLE subscriptions ADD COLUMN attributes TEXT;
ALTER TABLE subscriptions ADD COLUMN origin TEXT;
""",
    # 7 -> 8: DynamoDB secondary indexes, table tags and transaction tokens.
    7: """
-- DynamoDB secondary indexes: each index's projection of an item under the index's key
-- bytes, then the item's own key (an index key need not be unique); written in the item's
-- transaction
CREATE TABLE index_items (
    table_id   INTEGER NOT NULL,
    index_name TEXT NOT NULL,
    pk         BLOB NOT NULL,
    sk         BLOB NOT NULL,
    item_pk    BLOB NOT NULL,
    item_sk    BLOB NOT NULL,
    item       TEXT NOT NULL,
    PRIMARY KEY (table_id, index_name, pk, sk, item_pk, item_sk)
) WITHOUT ROWID;
CREATE INDEX index_items_by_item ON index_items (table_id, item_pk, item_sk);
-- DynamoDB tables' tags (TagResource)
CREATE TABLE table_tags (
    table_name TEXT NOT NULL,
    key        TEXT NOT NULL,
    value      TEXT NOT NULL,
    PRIMARY KEY (table_name, key)
) WITHOUT ROWID;
-- TransactWriteItems' ClientRequestToken, remembered 10 minutes
CREATE TABLE transaction_tokens (
    token      TEXT PRIMARY KEY,
    digest     TEXT NOT NULL,
    expires_at INTEGER NOT NULL
);
""",
    # 8 -> 9: scheduled functions.
    8: """
-- scheduled functions (`app.on_schedule`): when each schedule was first run (a rate counts
-- its periods from then) and the last time slot it fired, committed with the fire's
-- delivery
CREATE TABLE schedules (
    function   TEXT PRIMARY KEY,
    expression TEXT NOT NULL,
    created_at INTEGER NOT NULL,
    fired_slot INTEGER
);
""",
}
