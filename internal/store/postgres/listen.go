package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Backoff between reconnections of ListenOutbox.
const (
	listenMinBackoff = 100 * time.Millisecond
	listenMaxBackoff = 30 * time.Second
)

// ListenOutbox wakes a dispatcher when a message is queued: it holds one
// connection of its own (outside the pool) listening on the channel that
// InsertOutbox notifies, and for every notification makes a non-blocking
// send on wake. It also sends once after each (re)connection, since rows
// queued while it was disconnected were notified to no one. It reconnects
// with capped exponential backoff when the connection fails, and returns
// nil when ctx ends.
func (s *Store) ListenOutbox(ctx context.Context, wake chan<- struct{}) error {
	backoff := listenMinBackoff
	for {
		connected, _ := s.listenOnce(ctx, wake) // the error is a lost connection: reconnect
		if ctx.Err() != nil {
			return nil
		}
		if connected {
			backoff = listenMinBackoff
		}
		if sleepCtx(ctx, backoff) != nil {
			return nil
		}
		backoff = min(2*backoff, listenMaxBackoff)
	}
}

// listenOnce connects, listens and relays notifications until the
// connection fails or ctx ends. connected reports whether it got as far as
// listening.
func (s *Store) listenOnce(ctx context.Context, wake chan<- struct{}) (connected bool, err error) {
	conn, err := pgx.ConnectConfig(ctx, s.listen.Copy())
	if err != nil {
		return false, fmt.Errorf("listen outbox: %w", err)
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx)
	}()
	if _, err := conn.Exec(ctx, `LISTEN `+outboxChannel); err != nil {
		return false, fmt.Errorf("listen outbox: %w", err)
	}
	s.listenPID.Store(conn.PgConn().PID())
	for {
		select {
		case wake <- struct{}{}:
		default: // a wake-up is pending already
		}
		if _, err := conn.WaitForNotification(ctx); err != nil {
			return true, fmt.Errorf("listen outbox: %w", err)
		}
	}
}
