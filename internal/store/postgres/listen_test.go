package postgres

import (
	"context"
	"testing"
	"time"

	"tgauth/internal/account"
)

// awaitWake fails unless wake fires within a generous bound.
func awaitWake(t *testing.T, wake <-chan struct{}, what string) {
	t.Helper()
	select {
	case <-wake:
	case <-time.After(10 * time.Second):
		t.Fatalf("no wake-up %s", what)
	}
}

func TestListenOutbox(t *testing.T) {
	s := openTest(t)
	ctx, cancel := context.WithCancel(t.Context())
	wake := make(chan struct{}, 1)
	done := make(chan error, 1)
	go func() { done <- s.ListenOutbox(ctx, wake) }()
	defer func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("ListenOutbox after cancel = %v, want nil", err)
		}
	}()

	// The first wake-up comes once it listens: rows queued before are due.
	awaitWake(t, wake, "after connecting")
	insert := func() {
		t.Helper()
		m := &account.OutboxMessage{ChatID: 1, Kind: account.NoticeSignedOut, Payload: []byte(`{}`),
			CreatedAt: p0, NextAttemptAt: p0}
		if err := s.InTx(t.Context(), func(tx account.Tx) error { return tx.InsertOutbox(t.Context(), m) }); err != nil {
			t.Fatal(err)
		}
	}
	insert()
	awaitWake(t, wake, "after a committed InsertOutbox")

	// The connection dies (a failover, a restart): it reconnects, wakes
	// once for what it may have missed, and listens again.
	pid := s.listenPID.Load()
	if _, err := s.pool.Exec(t.Context(), `SELECT pg_terminate_backend($1)`, pid); err != nil {
		t.Fatal(err)
	}
	awaitWake(t, wake, "after reconnecting")
	if got := s.listenPID.Load(); got == pid {
		t.Fatalf("listening backend still %d after it was terminated", pid)
	}
	insert()
	awaitWake(t, wake, "after an InsertOutbox following a reconnection")
}

// TestListenOutboxDoesNotBlock: wake-ups are dropped, not queued, while
// one is pending, and ListenOutbox still ends with its ctx.
func TestListenOutboxDoesNotBlock(t *testing.T) {
	s := openTest(t)
	ctx, cancel := context.WithCancel(t.Context())
	wake := make(chan struct{}) // nobody receives
	done := make(chan error, 1)
	go func() { done <- s.ListenOutbox(ctx, wake) }()
	for range 3 {
		m := &account.OutboxMessage{ChatID: 1, Kind: account.NoticeSignedOut, Payload: []byte(`{}`),
			CreatedAt: p0, NextAttemptAt: p0}
		if err := s.InTx(t.Context(), func(tx account.Tx) error { return tx.InsertOutbox(t.Context(), m) }); err != nil {
			t.Fatal(err)
		}
	}
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("ListenOutbox = %v, want nil", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("ListenOutbox did not return after its ctx ended")
	}
}

// TestListenOutboxUnreachable: with no server to reach it keeps trying,
// and ends with its ctx.
func TestListenOutboxUnreachable(t *testing.T) {
	s := openTest(t)
	s.listen.Host, s.listen.Port, s.listen.Fallbacks = "127.0.0.1", 1, nil // nothing listens there
	ctx, cancel := context.WithTimeout(t.Context(), 500*time.Millisecond)
	defer cancel()
	if err := s.ListenOutbox(ctx, make(chan struct{}, 1)); err != nil {
		t.Errorf("ListenOutbox = %v, want nil when its ctx ends", err)
	}
}
