-- The PostgreSQL schema, with the same meaning as SQLite's migrations
-- 00001 to 00003: accounts, their sessions, one-time codes, the outbox the
-- bot drains and server settings. Times are timestamptz (microseconds, as
-- the store writes them). Usernames and emails are unique case-insensitively
-- in ASCII only, exactly like SQLite's COLLATE NOCASE, so both backends agree
-- on what collides: 'Bob' and 'BOB' do, 'é' and 'É' do not.

-- +goose Up
CREATE TABLE users (
    id                         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    email                      text,
    username                   text,
    password_hash              text        NOT NULL,
    first_name                 text        NOT NULL DEFAULT '',
    last_name                  text        NOT NULL DEFAULT '',
    role                       text        NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    telegram_chat_id           bigint,
    toc_accepted_at            timestamptz,
    privacy_policy_accepted_at timestamptz,
    failed_logins              integer     NOT NULL DEFAULT 0,
    locked_until               timestamptz,
    created_at                 timestamptz NOT NULL,
    updated_at                 timestamptz NOT NULL,
    password_changed_at        timestamptz NOT NULL,
    CHECK (email IS NOT NULL OR username IS NOT NULL)
);
-- The store's lookups use these very expressions, so they use the indexes.
CREATE UNIQUE INDEX users_email_fold ON users
    (translate(email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'));
CREATE UNIQUE INDEX users_username_fold ON users
    (translate(username, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz'));
CREATE INDEX users_telegram_chat_id ON users (telegram_chat_id) WHERE telegram_chat_id IS NOT NULL;

CREATE TABLE sessions (
    id            text PRIMARY KEY,
    user_id       bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    generation    bigint      NOT NULL DEFAULT 0,
    created_at    timestamptz NOT NULL,
    last_used_at  timestamptz NOT NULL,
    expires_at    timestamptz NOT NULL,
    revoked_at    timestamptz,
    revoke_reason text,
    ip            text        NOT NULL DEFAULT '',
    user_agent    text        NOT NULL DEFAULT ''
);
CREATE INDEX sessions_user_live ON sessions (user_id) WHERE revoked_at IS NULL;

CREATE TABLE outbox (
    id                  bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    chat_id             bigint      NOT NULL,
    kind                text        NOT NULL,
    payload             text        NOT NULL,
    created_at          timestamptz NOT NULL,
    next_attempt_at     timestamptz NOT NULL,
    attempts            integer     NOT NULL DEFAULT 0,
    claimed_by          text,
    claimed_until       timestamptz,
    sent_at             timestamptz,
    dead_at             timestamptz,
    last_error          text,
    telegram_message_id bigint
);
CREATE INDEX outbox_due ON outbox (next_attempt_at, id) WHERE sent_at IS NULL AND dead_at IS NULL;

CREATE TABLE settings (
    key        text PRIMARY KEY,
    value      text        NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE TABLE verification_codes (
    id          bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     text        NOT NULL,
    code_hash   text        NOT NULL,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    attempts    integer     NOT NULL DEFAULT 0,
    consumed_at timestamptz
);
-- At most one code per account and purpose: a new one replaces the old.
CREATE UNIQUE INDEX verification_codes_user_purpose ON verification_codes (user_id, purpose);

CREATE TABLE link_codes (
    code_hash   text PRIMARY KEY,
    user_id     bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  timestamptz NOT NULL,
    expires_at  timestamptz NOT NULL,
    consumed_at timestamptz
);
CREATE INDEX link_codes_user ON link_codes (user_id);
