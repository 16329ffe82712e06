package sqlite

import (
	"context"
	"fmt"
	"slices"
	"time"

	"tgauth/internal/account"
)

// ClaimOutbox leases to claimant, until now+lease, up to limit messages
// that are due, unsent, alive and not leased to anyone else, oldest due
// first. A dispatcher that dies holding a lease loses it when it lapses.
func (s *Store) ClaimOutbox(ctx context.Context, claimant string, now time.Time, lease time.Duration, limit int) ([]account.OutboxMessage, error) {
	rows, err := s.write.QueryContext(ctx, `UPDATE outbox SET claimed_by = ?, claimed_until = ?
		WHERE id IN (
			SELECT id FROM outbox
			WHERE sent_at IS NULL AND dead_at IS NULL AND next_attempt_at <= ?
			  AND (claimed_until IS NULL OR claimed_until <= ?)
			ORDER BY next_attempt_at, id LIMIT ?)
		RETURNING id, chat_id, kind, payload, created_at, next_attempt_at, attempts`,
		claimant, fmtTime(now.Add(lease)), fmtTime(now), fmtTime(now), limit)
	if err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	defer rows.Close()
	var msgs []account.OutboxMessage
	for rows.Next() {
		var (
			m       account.OutboxMessage
			kind    string
			payload string
		)
		if err := rows.Scan(&m.ID, &m.ChatID, &kind, &payload, nullTime{&m.CreatedAt},
			nullTime{&m.NextAttemptAt}, &m.Attempts); err != nil {
			return nil, fmt.Errorf("claim outbox: %w", err)
		}
		m.Kind, m.Payload = account.NoticeKind(kind), []byte(payload)
		msgs = append(msgs, m)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("claim outbox: %w", err)
	}
	// RETURNING gives no order.
	slices.SortFunc(msgs, func(a, b account.OutboxMessage) int {
		if c := a.NextAttemptAt.Compare(b.NextAttemptAt); c != 0 {
			return c
		}
		return int(a.ID - b.ID)
	})
	return msgs, nil
}

// settle ends claimant's lease on message id with the assignments given.
// It returns account.ErrNotFound when the lease was lost meanwhile.
func (s *Store) settle(ctx context.Context, what string, id int64, claimant, set string, args ...any) error {
	args = append(args, id, claimant)
	// #nosec G202 -- set is one of this file's constant fragments; values are placeholders
	res, err := s.write.ExecContext(ctx, `UPDATE outbox SET `+set+`, claimed_by = NULL, claimed_until = NULL
		WHERE id = ? AND claimed_by = ?`, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		return fmt.Errorf("%s: lease on message %d lost: %w", what, id, account.ErrNotFound)
	}
	return nil
}

// MarkSent records that message id was delivered as Telegram message
// messageID, replacing its payload (to drop a code it carried).
func (s *Store) MarkSent(ctx context.Context, id int64, claimant string, messageID int, payload []byte, at time.Time) error {
	return s.settle(ctx, "mark sent", id, claimant,
		`sent_at = ?, telegram_message_id = ?, payload = ?, last_error = NULL`,
		fmtTime(at), messageID, string(payload))
}

// Reschedule puts message id back for another try at next. A failed try
// counts toward its attempts; a deferral (a rate limit of ours) does not.
func (s *Store) Reschedule(ctx context.Context, id int64, claimant string, next time.Time, failed bool, reason string) error {
	inc := 0
	if failed {
		inc = 1
	}
	return s.settle(ctx, "reschedule", id, claimant,
		`next_attempt_at = ?, attempts = attempts + ?, last_error = coalesce(?, last_error)`,
		fmtTime(next), inc, nullString(reason))
}

// MarkDead gives up on message id for good, keeping why.
func (s *Store) MarkDead(ctx context.Context, id int64, claimant, reason string, payload []byte, at time.Time) error {
	return s.settle(ctx, "mark dead", id, claimant, `dead_at = ?, last_error = ?, payload = ?`,
		fmtTime(at), reason, string(payload))
}

// OutboxStats returns how many messages are due at now (unsent, not given
// up, next attempt reached; claimed ones included) and how long the oldest
// of them has been queued, 0 when none is due.
func (s *Store) OutboxStats(ctx context.Context, now time.Time) (due int, oldestDue time.Duration, err error) {
	var oldest time.Time
	err = s.read.QueryRowContext(ctx, `SELECT count(*), min(created_at) FROM outbox
		WHERE sent_at IS NULL AND dead_at IS NULL AND next_attempt_at <= ?`, fmtTime(now)).
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
	err = s.read.QueryRowContext(ctx, `SELECT min(max(next_attempt_at, coalesce(claimed_until, next_attempt_at)))
		FROM outbox WHERE sent_at IS NULL AND dead_at IS NULL`).Scan(nullTime{&at})
	if err != nil {
		return time.Time{}, false, fmt.Errorf("outbox next due: %w", err)
	}
	return at, !at.IsZero(), nil
}
