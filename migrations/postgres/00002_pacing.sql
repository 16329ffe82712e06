-- Telegram's send limits kept for every bot replica together: when each
-- chat may get its next message, and the bot's next free send slot.
-- UNLOGGED: a crash empties them, which loses only pacing state (and
-- Telegram's retry_after covers the moment after).

-- +goose Up
CREATE UNLOGGED TABLE chat_turns (
    chat_id   bigint PRIMARY KEY,
    next_turn timestamptz NOT NULL
);
-- For the sweep of turns long past.
CREATE INDEX chat_turns_next_turn ON chat_turns (next_turn);

-- One row for the whole bot.
CREATE UNLOGGED TABLE send_slot (
    id        boolean PRIMARY KEY DEFAULT true CHECK (id),
    next_slot timestamptz NOT NULL
);
