-- The accounts the directory (LDAP) may log in to: those it made, and those an
-- administrator linked to it. Before, an LDAP login entered any account of its name that
-- had no local password, one made through an OpenID provider included (a guest provider
-- whose users choose their own names). Accounts only the directory can have made (no
-- local password, no OpenID identity) are the directory's already.
CREATE TABLE directory_accounts (
    user_id   BIGINT NOT NULL PRIMARY KEY REFERENCES users(id) ON DELETE CASCADE,
    linked_at BIGINT NOT NULL
);
INSERT INTO directory_accounts (user_id, linked_at)
SELECT id, created_at FROM users
WHERE password_hash IS NULL AND id NOT IN (SELECT user_id FROM oidc_identities);
