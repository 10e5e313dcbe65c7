-- Which instance acts for a guarded room (several instances share one database): the
-- holder renews its lease with every event it handles; another takes over once it ends.
CREATE TABLE guard_leases (
    room_id INTEGER PRIMARY KEY REFERENCES rooms(id) ON DELETE CASCADE,
    holder  TEXT   NOT NULL,
    lease_until INTEGER NOT NULL
);
