package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"tgauth/internal/account"
)

// ClaimOutbox leases to claimant, until now+lease, up to limit messages
// that are due, unsent, alive and not leased to anyone else, oldest due
// first, and returns them sorted by next attempt, then id. Rows another
// dispatcher is claiming at this moment are skipped (FOR UPDATE SKIP
// LOCKED), not waited for. A dispatcher that dies holding a lease loses
// it when it lapses.
func (s *Store) ClaimOutbox(ctx context.Context, claimant string, now time.Time, lease time.Duration, limit int) ([]account.OutboxMessage, error) {
	rows, err := s.pool.Query(ctx, `WITH due AS (
			SELECT id FROM outbox
			WHERE sent_at IS NULL AND dead_at IS NULL AND next_attempt_at <= $3
			  AND (claimed_until IS NULL OR claimed_until <= $3)
			ORDER BY next_attempt_at, id LIMIT $4
			FOR UPDATE SKIP LOCKED),
		claimed AS (
			UPDATE outbox o SET claimed_by = $1, claimed_until = $2 FROM due WHERE o.id = due.id
			RETURNING o.id, o.chat_id, o.kind, o.payload, o.created_at, o.next_attempt_at, o.attempts)
		SELECT * FROM claimed ORDER BY next_attempt_at, id`,
		claimant, pgTime(now.Add(lease)), pgTime(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	msgs, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (account.OutboxMessage, error) {
		var (
			m       account.OutboxMessage
			kind    string
			payload string
		)
		err := row.Scan(&m.ID, &m.ChatID, &kind, &payload, nullTime{&m.CreatedAt},
			nullTime{&m.NextAttemptAt}, &m.Attempts)
		m.Kind, m.Payload = account.NoticeKind(kind), []byte(payload)
		return m, err
	})
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	return msgs, nil
}

// settle runs query, which ends claimant's lease on message id ($1 is id,
// $2 claimant). It returns account.ErrNotFound when the lease was lost
// meanwhile.
func (s *Store) settle(ctx context.Context, what string, id int64, claimant, query string, args ...any) error {
	tag, err := s.pool.Exec(ctx, query, append([]any{id, claimant}, args...)...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("%s: lease on message %d lost: %w", what, id, account.ErrNotFound)
	}
	return nil
}

// MarkSent records that message id was delivered as Telegram message
// messageID, replacing its payload (to drop a code it carried).
func (s *Store) MarkSent(ctx context.Context, id int64, claimant string, messageID int, payload []byte, at time.Time) error {
	return s.settle(ctx, "mark sent", id, claimant, `UPDATE outbox SET sent_at = $3,
		telegram_message_id = $4, payload = $5, last_error = NULL, claimed_by = NULL, claimed_until = NULL
		WHERE id = $1 AND claimed_by = $2`,
		pgTime(at), messageID, string(payload))
}

// Reschedule puts message id back for another try at next. A failed try
// counts toward its attempts; a deferral (a rate limit of ours) does not.
// An empty reason keeps the last error.
func (s *Store) Reschedule(ctx context.Context, id int64, claimant string, next time.Time, failed bool, reason string) error {
	inc := 0
	if failed {
		inc = 1
	}
	return s.settle(ctx, "reschedule", id, claimant, `UPDATE outbox SET next_attempt_at = $3,
		attempts = attempts + $4, last_error = coalesce($5, last_error), claimed_by = NULL, claimed_until = NULL
		WHERE id = $1 AND claimed_by = $2`,
		pgTime(next), inc, nullString(text(reason)))
}

// MarkDead gives up on message id for good, keeping why.
func (s *Store) MarkDead(ctx context.Context, id int64, claimant, reason string, payload []byte, at time.Time) error {
	return s.settle(ctx, "mark dead", id, claimant, `UPDATE outbox SET dead_at = $3, last_error = $4,
		payload = $5, claimed_by = NULL, claimed_until = NULL
		WHERE id = $1 AND claimed_by = $2`,
		pgTime(at), text(reason), string(payload))
}

// OutboxStats returns how many messages are due at now (unsent, not given
// up, next attempt reached; claimed ones included) and how long the oldest
// of them has been queued, 0 when none is due.
func (s *Store) OutboxStats(ctx context.Context, now time.Time) (due int, oldestDue time.Duration, err error) {
	var oldest time.Time
	err = s.pool.QueryRow(ctx, `SELECT count(*), min(created_at) FROM outbox
		WHERE sent_at IS NULL AND dead_at IS NULL AND next_attempt_at <= $1`, pgTime(now)).
		Scan(&due, nullTime{&oldest})
	if err != nil {
		return 0, 0, fmt.Errorf("outbox stats: %w", err)
	}
	if due > 0 {
		oldestDue = max(now.Sub(oldest), 0)
	}
	return due, oldestDue, nil
}

// NextDue returns when the earliest unsettled message can next be claimed:
// its next attempt, or the end of the lease on it if that is later.
func (s *Store) NextDue(ctx context.Context) (at time.Time, ok bool, err error) {
	err = s.pool.QueryRow(ctx, `SELECT min(greatest(next_attempt_at, claimed_until))
		FROM outbox WHERE sent_at IS NULL AND dead_at IS NULL`).Scan(nullTime{&at})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("outbox next due: %w", err)
	}
	return at, !at.IsZero(), nil
}
