-- OpenID logins refused because their username belongs to an account that is not theirs
-- (made another way, or linked to another subject). Kept for an administrator to see
-- and resolve; one row per (issuer, subject), counted on every further try.
CREATE TABLE oidc_collisions (
    issuer     TEXT    NOT NULL,
    subject    TEXT    NOT NULL,
    provider   TEXT    NOT NULL,
    username   TEXT    NOT NULL,
    first_seen BIGINT  NOT NULL,
    last_seen  BIGINT  NOT NULL,
    attempts   BIGINT  NOT NULL,
    PRIMARY KEY (issuer, subject)
);
