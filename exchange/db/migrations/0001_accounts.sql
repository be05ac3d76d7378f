-- Accounts and refresh tokens (API-core). Account ids are the engine's account ids; 0 is the engine's fee
-- account, so bigserial's first id (1) is the first user.
CREATE TABLE IF NOT EXISTS accounts (
    id            bigserial PRIMARY KEY,
    email         text        NOT NULL UNIQUE CHECK (email = lower(email) AND length(email) <= 254),
    password_hash text        NOT NULL,
    is_admin      boolean     NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- One row per issued refresh token (by JWT id). A refresh rotates: the used row gets revoked_at and
-- replaced_by; presenting a revoked token again revokes every token of the account (reuse detection).
CREATE TABLE IF NOT EXISTS refresh_tokens (
    jti         text        PRIMARY KEY,
    account_id  bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    issued_at   timestamptz NOT NULL DEFAULT now(),
    expires_at  timestamptz NOT NULL,
    revoked_at  timestamptz,
    replaced_by text
);
CREATE INDEX IF NOT EXISTS refresh_tokens_live_by_account ON refresh_tokens (account_id) WHERE revoked_at IS NULL;
