-- Course rooms: groups whose members co-own a room. A directory group by its DN, or a
-- sign-in provider's group as 'PROVIDER:GROUP' (both as roomkeeper_domain::GroupName
-- writes them).
CREATE TABLE room_co_owner_groups (
    room_id    INTEGER NOT NULL REFERENCES rooms(id) ON DELETE CASCADE,
    group_name TEXT    NOT NULL,
    PRIMARY KEY (room_id, group_name)
);
CREATE INDEX room_co_owner_groups_group ON room_co_owner_groups(group_name);

-- Who is in a group, as its source said last: the directory (read at sign-in and every
-- few minutes) or the provider's groups claim (at each sign-in). Members need no
-- account yet: the directory names people who never signed in.
CREATE TABLE group_members (
    group_name   TEXT    NOT NULL,
    username     TEXT    NOT NULL,
    display_name TEXT,
    refreshed_at INTEGER NOT NULL,
    PRIMARY KEY (group_name, username)
);
CREATE INDEX group_members_username ON group_members(username);

-- The directory's regular refresh of those groups: one instance per period (its number
-- counts periods of ldap.group_refresh_minutes).
INSERT INTO daily_jobs (job, last_day) VALUES ('directory_groups', 0);

-- Patterns given to a group: its members' requests for matching rooms approve
-- themselves, as a person's own patterns do.
CREATE TABLE group_patterns (
    id         INTEGER PRIMARY KEY AUTOINCREMENT,
    group_name TEXT    NOT NULL,
    pattern    TEXT    NOT NULL,
    created_by TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    UNIQUE (group_name, pattern)
);
