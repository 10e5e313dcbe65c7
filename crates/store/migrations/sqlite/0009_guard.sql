-- The room guard (a room without a row is unguarded), one-time join codes for "Join as
-- moderator", and the people who are moderator in a running meeting on Roomkeeper's
-- word (an owner who joined with a code, or someone an owner made moderator through
-- Roomkeeper). The guard leaves those alone and nobody else.
CREATE TABLE room_guards (
    room_id              INTEGER PRIMARY KEY REFERENCES rooms(id) ON DELETE CASCADE,
    password_guard       BOOLEAN NOT NULL,
    moderator_guard      TEXT    NOT NULL CHECK (moderator_guard IN ('off', 'until_owner', 'strict')),
    in_use_alert_minutes INTEGER,
    updated_at           INTEGER  NOT NULL
);

CREATE TABLE join_codes (
    code_hash   TEXT   PRIMARY KEY,
    room_id     INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    username    TEXT   NOT NULL,
    created_at  INTEGER NOT NULL,
    expires_at  INTEGER NOT NULL,
    used_at     INTEGER,
    participant TEXT
);
CREATE INDEX join_codes_expiry ON join_codes(expires_at);

CREATE TABLE meeting_moderators (
    room_id          INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    participant      TEXT    NOT NULL,
    -- The owner who joined (joined_with_code) or who made this person moderator.
    username         TEXT    NOT NULL,
    joined_with_code BOOLEAN NOT NULL,
    since            INTEGER  NOT NULL,
    PRIMARY KEY (room_id, participant)
);
