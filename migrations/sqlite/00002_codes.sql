-- One-time codes: password-reset codes sent to a chat, and deep-link codes
-- that bind a chat to an account. Only keyed hashes of the codes are kept.

-- +goose Up
CREATE TABLE verification_codes (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    purpose     TEXT    NOT NULL,
    code_hash   TEXT    NOT NULL,
    created_at  TEXT    NOT NULL,
    expires_at  TEXT    NOT NULL,
    attempts    INTEGER NOT NULL DEFAULT 0,
    consumed_at TEXT
);
-- At most one code per account and purpose: a new one replaces the old.
CREATE UNIQUE INDEX verification_codes_user_purpose ON verification_codes (user_id, purpose);

CREATE TABLE link_codes (
    code_hash   TEXT PRIMARY KEY,
    user_id     INTEGER NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    created_at  TEXT    NOT NULL,
    expires_at  TEXT    NOT NULL,
    consumed_at TEXT
) WITHOUT ROWID;
CREATE INDEX link_codes_user ON link_codes (user_id);
