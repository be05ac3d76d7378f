-- Sessions: one per login (a device, a browser). Every refresh token belongs to one; a rotation hands the
-- session on to the new token. Ending a session (its logout, `DELETE /api/auth/sessions/{id}`, a reused
-- refresh token of it) revokes its refresh tokens and, through Redis, the access tokens that carry its id
-- (`sid`); the account's other sessions live on.
CREATE TABLE IF NOT EXISTS sessions (
    id           text        PRIMARY KEY,
    account_id   bigint      NOT NULL REFERENCES accounts (id) ON DELETE CASCADE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    last_used_at timestamptz NOT NULL DEFAULT now(),  -- the login or the latest rotation
    user_agent   text        NOT NULL DEFAULT '' CHECK (length(user_agent) <= 200),
    ip           text        NOT NULL DEFAULT '' CHECK (length(ip) <= 64),
    ended_at     timestamptz
);
-- an account's sessions (the live ones, listed; the addresses it signed in from, for the login limit)
CREATE INDEX IF NOT EXISTS sessions_by_account ON sessions (account_id, ip);

ALTER TABLE refresh_tokens ADD COLUMN session_id text REFERENCES sessions (id) ON DELETE CASCADE;

-- Tokens issued before sessions existed: each chain of rotations (from its first token down `replaced_by`)
-- becomes one session named after its first token, ended unless the chain still holds a live token.
WITH RECURSIVE chain (root, jti) AS (
    SELECT r.jti, r.jti FROM refresh_tokens r
     WHERE NOT EXISTS (SELECT 1 FROM refresh_tokens p WHERE p.replaced_by = r.jti)
    UNION ALL
    SELECT c.root, t.replaced_by
      FROM chain c JOIN refresh_tokens t ON t.jti = c.jti
     WHERE t.replaced_by IS NOT NULL
),
member AS (
    SELECT c.root, t.* FROM chain c JOIN refresh_tokens t ON t.jti = c.jti
),
made AS (
    INSERT INTO sessions (id, account_id, created_at, last_used_at, ended_at)
    SELECT root, min(account_id), min(issued_at), max(issued_at),
           CASE WHEN bool_or(revoked_at IS NULL AND expires_at > now()) THEN NULL ELSE now() END
      FROM member GROUP BY root
    RETURNING id
)
UPDATE refresh_tokens t SET session_id = m.root
  FROM member m WHERE t.jti = m.jti AND m.root IN (SELECT id FROM made);

ALTER TABLE refresh_tokens ALTER COLUMN session_id SET NOT NULL;
CREATE INDEX IF NOT EXISTS refresh_tokens_by_session ON refresh_tokens (session_id);
