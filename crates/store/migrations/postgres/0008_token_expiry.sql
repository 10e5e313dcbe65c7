-- A personal API token may expire (chosen at creation; NULL: never). Existing tokens
-- keep working as before.
ALTER TABLE api_tokens ADD COLUMN expires_at BIGINT;
