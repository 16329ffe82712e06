-- Hardening (issue 11), as SQLite's 00004: chats confirmed by the chat
-- itself, deep links that may move an account only when asked for with the
-- password, and wrong reset codes counted per account.

-- +goose Up
ALTER TABLE users ADD COLUMN chat_confirmed_at timestamptz;
UPDATE users SET chat_confirmed_at = updated_at WHERE telegram_chat_id IS NOT NULL;

ALTER TABLE link_codes ADD COLUMN replaces_chat_id bigint;
ALTER TABLE link_codes ADD COLUMN session_id text NOT NULL DEFAULT '';

CREATE TABLE code_failures (
    user_id bigint      NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    at      timestamptz NOT NULL
);
CREATE INDEX code_failures_user_at ON code_failures (user_id, at);

CREATE INDEX sessions_user_created ON sessions (user_id, created_at);
