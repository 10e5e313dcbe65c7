-- The owner's lobby: jitsi-meet's lobby for a room's meetings, on from the room's
-- creation ('always'), or until an owner is in ('until_owner').
ALTER TABLE room_guards ADD COLUMN lobby TEXT NOT NULL DEFAULT 'off'
    CHECK (lobby IN ('off', 'always', 'until_owner'));

-- When the owners were told, in the meeting running now, that someone knocks while none
-- of them is in (once per meeting, like the in-use alert).
ALTER TABLE room_guards ADD COLUMN knock_alerted_at INTEGER;
