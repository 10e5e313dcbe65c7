-- Jibri recordings. A row is written before its file is stored ('storing', never shown)
-- and becomes 'ready' only once the file is stored with its size and checksum; a
-- deletion marks it 'deleting' before the file goes. (session, source_file) is what
-- makes a second ingest of the same Jibri session find the same recording.
CREATE TABLE recordings (
    id           TEXT    PRIMARY KEY, -- 128 random bits, hex
    session      TEXT    NOT NULL,    -- Jibri's session directory name
    source_file  TEXT    NOT NULL,    -- the video's file name in it
    room_id      INTEGER REFERENCES rooms(id) ON DELETE SET NULL,
    meeting_room TEXT,                -- canonical room of metadata.json's meeting_url
    -- Unassigned since it arrived: registering meeting_room claims it. A recording whose
    -- room was released later is not claimable: a new owner does not get old recordings.
    claimable    BOOLEAN NOT NULL,
    meeting_url  TEXT    NOT NULL DEFAULT '',
    started_at   INTEGER NOT NULL,
    duration_ms  INTEGER,
    size_bytes   INTEGER NOT NULL,
    sha256       TEXT    NOT NULL,
    participants TEXT    NOT NULL DEFAULT '', -- display names, one per line
    state        TEXT    NOT NULL CHECK (state IN ('storing', 'ready', 'deleting')),
    created_at   INTEGER NOT NULL,
    ready_at     INTEGER,
    UNIQUE (session, source_file)
);
CREATE INDEX recordings_room ON recordings(room_id, started_at);
CREATE INDEX recordings_claimable ON recordings(meeting_room) WHERE claimable;
CREATE INDEX recordings_started ON recordings(started_at);

-- Per-room override of recordings.retention_days, set by admins.
CREATE TABLE recording_retention (
    room_id INTEGER PRIMARY KEY REFERENCES rooms(id) ON DELETE CASCADE,
    days    INTEGER NOT NULL CHECK (days > 0)
);

CREATE TABLE share_links (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    token_hash   TEXT    NOT NULL UNIQUE, -- SHA-256 of the secret in the link
    recording_id TEXT    NOT NULL REFERENCES recordings(id) ON DELETE CASCADE,
    created_by   TEXT    NOT NULL,
    created_at   INTEGER NOT NULL,
    expires_at   INTEGER NOT NULL,
    revoked_at   INTEGER
);
CREATE INDEX share_links_recording ON share_links(recording_id);

-- Session directories that could not be ingested, for admins; gone once one succeeds.
CREATE TABLE ingest_problems (
    session       TEXT    PRIMARY KEY,
    location      TEXT    NOT NULL,
    problem       TEXT    NOT NULL,
    first_seen_at INTEGER NOT NULL,
    last_seen_at  INTEGER NOT NULL
);

-- Daily jobs: the instance whose UPDATE moves last_day forward runs that day's job.
CREATE TABLE daily_jobs (
    job      TEXT    PRIMARY KEY,
    last_day INTEGER NOT NULL
);
INSERT INTO daily_jobs (job, last_day) VALUES ('recording_retention', 0);
