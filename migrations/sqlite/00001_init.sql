-- The first schema: accounts, their sessions, the outbox the bot drains and
-- server settings. Times are UTC text in one fixed-width layout
-- (2006-01-02T15:04:05.000000000Z) so that comparing strings compares times.

-- +goose Up
CREATE TABLE users (
    id                         INTEGER PRIMARY KEY AUTOINCREMENT,
    email                      TEXT COLLATE NOCASE UNIQUE,
    username                   TEXT COLLATE NOCASE UNIQUE,
    password_hash              TEXT    NOT NULL,
    first_name                 TEXT    NOT NULL DEFAULT '',
    last_name                  TEXT    NOT NULL DEFAULT '',
    role                       TEXT    NOT NULL DEFAULT 'user' CHECK (role IN ('user', 'admin')),
    telegram_chat_id           INTEGER,
    toc_accepted_at            TEXT,
    privacy_policy_accepted_at TEXT,
    failed_logins              INTEGER NOT NULL DEFAULT 0,
    locked_until               TEXT,
    created_at                 TEXT    NOT NULL,
    updated_at                 TEXT    NOT NULL,
    password_changed_at        TEXT    NOT NULL,
    CHECK (email IS NOT NULL OR username IS NOT NULL)
);
CREATE INDEX users_telegram_chat_id ON users (telegram_chat_id) WHERE telegram_chat_id IS NOT NULL;

CREATE TABLE sessions (
    id            TEXT PRIMARY KEY,
    user_id       INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    generation    INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT    NOT NULL,
    last_used_at  TEXT    NOT NULL,
    expires_at    TEXT    NOT NULL,
    revoked_at    TEXT,
    revoke_reason TEXT,
    ip            TEXT    NOT NULL DEFAULT '',
    user_agent    TEXT    NOT NULL DEFAULT ''
) WITHOUT ROWID;
CREATE INDEX sessions_user_live ON sessions (user_id) WHERE revoked_at IS NULL;

CREATE TABLE outbox (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    chat_id             INTEGER NOT NULL,
    kind                TEXT    NOT NULL,
    payload             TEXT    NOT NULL,
    created_at          TEXT    NOT NULL,
    next_attempt_at     TEXT    NOT NULL,
    attempts            INTEGER NOT NULL DEFAULT 0,
    claimed_until       TEXT,
    sent_at             TEXT,
    dead_at             TEXT,
    last_error          TEXT,
    telegram_message_id INTEGER
);
CREATE INDEX outbox_due ON outbox (next_attempt_at) WHERE sent_at IS NULL AND dead_at IS NULL;

CREATE TABLE settings (
    key        TEXT PRIMARY KEY,
    value      TEXT NOT NULL,
    created_at TEXT NOT NULL
) WITHOUT ROWID;
