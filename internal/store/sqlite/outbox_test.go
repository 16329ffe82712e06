package sqlite

import (
	"testing"
	"time"

	"tgauth/internal/account"
)

func TestOutboxStats(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	stats := func(at time.Time) (int, time.Duration) {
		t.Helper()
		due, oldest, err := s.OutboxStats(ctx, at)
		if err != nil {
			t.Fatalf("OutboxStats: %v", err)
		}
		return due, oldest
	}
	if due, oldest := stats(now); due != 0 || oldest != 0 {
		t.Fatalf("OutboxStats(empty) = %d, %v, want 0, 0", due, oldest)
	}

	insert := func(created, next time.Time) int64 {
		t.Helper()
		m := &account.OutboxMessage{ChatID: 42, Kind: account.NoticeSignedOut, Payload: []byte(`{}`), CreatedAt: created, NextAttemptAt: next}
		if err := s.InTx(ctx, func(tx account.Tx) error { return tx.InsertOutbox(ctx, m) }); err != nil {
			t.Fatal(err)
		}
		return m.ID
	}
	old := insert(now.Add(-90*time.Second), now.Add(-time.Second))     // due, the oldest
	insert(now.Add(-10*time.Second), now)                              // due at the boundary
	insert(now.Add(-time.Hour), now.Add(time.Minute))                  // rescheduled: not due
	sent := insert(now.Add(-2*time.Hour), now.Add(-2*time.Hour))       // sent below
	dead := insert(now.Add(-3*time.Hour), now.Add(-3*time.Hour))       // dead below
	claimed := insert(now.Add(-20*time.Second), now.Add(-time.Second)) // claimed: still due

	msgs, err := s.ClaimOutbox(ctx, "test", now, time.Minute, 10)
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range msgs {
		switch m.ID {
		case sent:
			err = s.MarkSent(ctx, m.ID, "test", 1, nil, now)
		case dead:
			err = s.MarkDead(ctx, m.ID, "test", "blocked", nil, now)
		case claimed:
			continue
		default:
			err = s.Reschedule(ctx, m.ID, "test", m.NextAttemptAt, false, "")
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	if due, oldest := stats(now); due != 3 || oldest != 90*time.Second {
		t.Errorf("OutboxStats(now) = %d, %v, want 3, 90s (message %d)", due, oldest, old)
	}
	if due, oldest := stats(now.Add(-500 * time.Millisecond)); due != 2 || oldest != 89500*time.Millisecond {
		t.Errorf("OutboxStats(now-0.5s) = %d, %v, want 2, 89.5s", due, oldest)
	}
	if due, _ := stats(now.Add(time.Minute)); due != 4 {
		t.Errorf("OutboxStats(now+1m) due = %d, want 4", due)
	}
}
