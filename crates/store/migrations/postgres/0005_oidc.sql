-- OpenID Connect logins. A person from a provider is the pair (issuer, subject); their
-- username may change at the provider and is refreshed at each login.
CREATE TABLE oidc_identities (
    issuer     TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    user_id    BIGINT  NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at BIGINT  NOT NULL,
    PRIMARY KEY (issuer, subject)
);
CREATE INDEX oidc_identities_user ON oidc_identities(user_id);

-- Logins on their way through a provider: the secrets the browser must come back with.
-- Kept in the database, not in one instance's memory, and deleted when used, so a
-- replayed callback finds nothing.
CREATE TABLE oidc_logins (
    state_hash    TEXT    PRIMARY KEY,
    provider      TEXT    NOT NULL,
    nonce         TEXT    NOT NULL,
    pkce_verifier TEXT    NOT NULL,
    return_to     TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL
);

-- For logging out at the provider too (id_token_hint).
ALTER TABLE sessions ADD COLUMN oidc_provider TEXT;
ALTER TABLE sessions ADD COLUMN id_token TEXT;
