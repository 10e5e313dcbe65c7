-- Sessions waiting in a Jibri machine's spool (deploy/jibri/finalize.sh): the uploader
-- there reports what it could not deliver yet, so administrators see it in /admin and
-- the metrics. NULL for sessions this service itself could not take in.
ALTER TABLE ingest_problems ADD COLUMN spooled_on TEXT;
