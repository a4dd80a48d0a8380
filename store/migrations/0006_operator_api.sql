-- Operator API: accounts, API keys, the audit log, and what the streaming API reads.

-- People and tools that call the operator API. Passwords are stored as scrypt hashes.
CREATE TABLE api_user (
    username      text PRIMARY KEY CHECK (username ~ '^[A-Za-z0-9_.@-]{1,64}$'),
    password_hash text NOT NULL,
    role          text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    active        boolean NOT NULL DEFAULT true,
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

-- API keys: the key itself is shown once; only an HMAC-SHA-256 of its secret part is kept.
-- A key acts with the lower of its own role and its owner's current role.
CREATE TABLE api_key (
    key_id       text PRIMARY KEY,
    key_hash     text NOT NULL,
    username     text NOT NULL REFERENCES api_user (username),
    role         text NOT NULL CHECK (role IN ('viewer', 'operator', 'admin')),
    name         text NOT NULL DEFAULT '',
    created_at   timestamptz NOT NULL DEFAULT now(),
    expires_at   timestamptz,
    revoked_at   timestamptz,
    last_used_at timestamptz
);
CREATE INDEX api_key_user_idx ON api_key (username);

-- Every write through the operator API: who, what, when, before and after.
CREATE TABLE audit_log (
    audit_id      bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    at            timestamptz NOT NULL DEFAULT now(),
    actor         text NOT NULL,
    actor_role    text NOT NULL,
    auth          text NOT NULL,             -- 'token' or 'key:<key_id>'
    client        text,                      -- client address
    action        text NOT NULL,             -- e.g. incident.confirm, detector.status, user.create
    resource_type text NOT NULL,
    resource_id   text NOT NULL,
    before        jsonb,
    after         jsonb
);
CREATE INDEX audit_log_at_idx ON audit_log (at DESC, audit_id DESC);
CREATE INDEX audit_log_resource_idx ON audit_log (resource_type, resource_id, audit_id DESC);

-- Who last changed a detector's service status (the status itself is detector.status).
ALTER TABLE detector ADD COLUMN status_changed_by text;
ALTER TABLE detector ADD COLUMN status_changed_at timestamptz;

-- The segment-state stream reads changes by time.
CREATE INDEX segment_current_updated_idx ON segment_current (updated_at);
