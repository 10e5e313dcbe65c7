-- Login attempts are counted before the password is checked, in one atomic statement per
-- key (an upsert), so parallel attempts cannot all pass a check made before any of them
-- was counted. One row per key ('user:NAME', 'addr:IP'): the window it counts in and how
-- many attempts it saw. Replaces login_failures (a row per failure, counted separately
-- from the insert); its rows only throttled the next 15 minutes, so nothing is carried.
DROP TABLE login_failures;
CREATE TABLE login_attempts (
    key          TEXT PRIMARY KEY,
    window_start BIGINT NOT NULL,
    attempts     BIGINT NOT NULL
);
