-- Which instance acts for a guarded room (several instances share one database): the
-- holder renews its lease with every event it handles; another takes over once it ends.
CREATE TABLE guard_leases (
    room_id BIGINT PRIMARY KEY REFERENCES rooms(id) ON DELETE CASCADE,
    holder  TEXT   NOT NULL,
    lease_until BIGINT NOT NULL
);

-- The password the room's running meeting has was set by an owner (through Roomkeeper or
-- inside the meeting): the password guard keeps it. Stored, not remembered by one
-- process, so another instance or a restart keeps it too.
ALTER TABLE room_guards ADD COLUMN owner_password BOOLEAN NOT NULL DEFAULT FALSE;

-- When the owners were told that the running meeting went on without them (once per
-- meeting; cleared when it ends).
ALTER TABLE room_guards ADD COLUMN in_use_alerted_at BIGINT;
