-- Who holds a claimed outbox row: a dispatcher marks only the rows it still
-- holds, so one whose lease lapsed cannot overwrite another's outcome.

-- +goose Up
ALTER TABLE outbox ADD COLUMN claimed_by TEXT;
