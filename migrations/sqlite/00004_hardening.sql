-- Hardening (issue 11). A chat given at registration is only a claim until
-- the chat itself confirms it: chat_confirmed_at stays NULL till then, and
-- nothing but the confirmation prompt goes there. Chats linked before this
-- migration were linked under the old rules and count as confirmed.
-- A deep link may move an account to another chat only when it was asked
-- for with the password (replaces_chat_id names the chat it may replace);
-- the session that asked survives the move. code_failures bounds wrong
-- reset codes per account across codes and addresses.

-- +goose Up
ALTER TABLE users ADD COLUMN chat_confirmed_at TEXT;
UPDATE users SET chat_confirmed_at = updated_at WHERE telegram_chat_id IS NOT NULL;

ALTER TABLE link_codes ADD COLUMN replaces_chat_id INTEGER;
ALTER TABLE link_codes ADD COLUMN session_id TEXT NOT NULL DEFAULT '';

CREATE TABLE code_failures (
    user_id INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    at      TEXT    NOT NULL
);
CREATE INDEX code_failures_user_at ON code_failures (user_id, at);

-- Known networks: the addresses of an account's recent sessions.
CREATE INDEX sessions_user_created ON sessions (user_id, created_at);
