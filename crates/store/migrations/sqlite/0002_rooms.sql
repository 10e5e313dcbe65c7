-- Rooms, requests, patterns, audit, notices. People are referred to by username (always
-- the normalised form) rather than user id: a co-owner or pattern may name someone who
-- has never logged in, and it takes effect the moment they do.
CREATE TABLE rooms (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    name             TEXT    NOT NULL UNIQUE, -- canonical: room or tenant/room
    owner            TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    last_activity_at INTEGER NOT NULL
);
CREATE INDEX rooms_owner ON rooms(owner);
CREATE INDEX rooms_created ON rooms(created_at, id);

CREATE TABLE room_co_owners (
    room_id  INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    username TEXT    NOT NULL,
    PRIMARY KEY (room_id, username)
);
CREATE INDEX room_co_owners_username ON room_co_owners(username);

CREATE TABLE room_requests (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    room_name        TEXT    NOT NULL,
    requester        TEXT    NOT NULL,
    reason           TEXT    NOT NULL,
    co_owners        TEXT    NOT NULL DEFAULT '', -- usernames, one per line
    status           TEXT    NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'withdrawn')),
    decided_by       TEXT,
    decision_message TEXT,
    auto_pattern     TEXT,
    created_at       INTEGER NOT NULL,
    decided_at       INTEGER,
    room_id          INTEGER REFERENCES rooms(id) ON DELETE SET NULL
);
-- At most one open request per room: the database, not a check in code, settles races.
CREATE UNIQUE INDEX room_requests_one_pending ON room_requests(room_name) WHERE status = 'pending';
CREATE INDEX room_requests_queue ON room_requests(status, created_at, id);
CREATE INDEX room_requests_requester ON room_requests(requester, created_at);

CREATE TABLE patterns (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    username   TEXT    NOT NULL,
    pattern    TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (username, pattern)
);

CREATE TABLE audit_log (
    id        INTEGER PRIMARY KEY AUTOINCREMENT,
    at        INTEGER NOT NULL,
    actor     TEXT,
    address   TEXT,
    action    TEXT    NOT NULL,
    room_name TEXT,
    subject   TEXT,  -- the user the change is about, when not the actor
    detail    TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX audit_log_room ON audit_log(room_name, id);
-- Append-only, enforced below the application.
CREATE TRIGGER audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
CREATE TRIGGER audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;

CREATE TABLE notices (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    username   TEXT    NOT NULL,
    kind       TEXT    NOT NULL,
    room_name  TEXT    NOT NULL,
    message    TEXT    NOT NULL DEFAULT '',
    created_at INTEGER NOT NULL,
    read_at    INTEGER
);
CREATE INDEX notices_user ON notices(username, read_at);
