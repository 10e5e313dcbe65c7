ALTER TABLE users ADD COLUMN email TEXT;

-- Emails waiting to be sent. Written in the same transaction as the event they tell
-- about; a background job sends them, retrying with growing pauses. `locked_until`
-- lets exactly one instance hold a message while it sends it.
CREATE TABLE outbox (
    id              INTEGER PRIMARY KEY AUTOINCREMENT,
    recipient       TEXT    NOT NULL,
    subject         TEXT    NOT NULL,
    body            TEXT    NOT NULL,
    created_at      INTEGER NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    locked_until    INTEGER,
    sent_at         INTEGER,
    failed          BOOLEAN NOT NULL DEFAULT FALSE,
    last_error      TEXT
);
CREATE INDEX outbox_due ON outbox(sent_at, failed, next_attempt_at);
