-- Background jobs that must run on one instance at a time (the recordings directory
-- watcher): the holder renews its lease while it works; another instance takes over
-- once the lease has run out.
CREATE TABLE job_leases (
    job TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    lease_until BIGINT NOT NULL
);
