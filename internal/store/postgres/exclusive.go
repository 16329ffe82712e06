package postgres

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// exclusiveCheck is how often RunExclusive tries for a lock it does not
// hold, and checks the connection holding one it does.
const exclusiveCheck = 2 * time.Second

// RunExclusive runs fn while this process holds the database-wide lock
// named key, so that one replica at a time does what fn does (the bot's
// update poller: Telegram serves one getUpdates per token). The lock is a
// session advisory lock on a connection of its own: a process that dies
// loses it with its connection, and another takes over within
// exclusiveCheck. When the connection fails under fn, fn's context is
// cancelled and the lock sought again. RunExclusive returns nil when ctx
// ends, or fn's error when fn fails while ctx lives.
func (s *Store) RunExclusive(ctx context.Context, key string, fn func(context.Context) error) error {
	for {
		err := s.exclusiveOnce(ctx, key, fn)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return err
		}
		if err := sleepCtx(ctx, exclusiveCheck); err != nil {
			return nil
		}
	}
}

// exclusiveOnce connects, waits for the lock and runs fn under it. It
// returns nil when the connection failed (to try again), and fn's error.
func (s *Store) exclusiveOnce(ctx context.Context, key string, fn func(context.Context) error) error {
	cfg := s.listen.Copy()
	cfg.RuntimeParams["application_name"] = "tgauth-exclusive"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		_ = conn.Close(cctx) // closing the session releases the lock
	}()
	for {
		var locked bool
		if err := conn.QueryRow(ctx, `SELECT pg_try_advisory_lock(hashtextextended($1, 0))`, "tgauth:"+key).Scan(&locked); err != nil {
			return nil
		}
		if locked {
			break
		}
		if err := sleepCtx(ctx, exclusiveCheck); err != nil {
			return nil
		}
	}

	fctx, cancel := context.WithCancel(ctx)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- fn(fctx) }()
	tick := time.NewTicker(exclusiveCheck)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("%s: %w", key, err)
			}
			return nil
		case <-tick.C:
			if err := conn.Ping(ctx); err != nil {
				cancel() // the lock may be someone else's now
				<-done
				return nil
			}
		}
	}
}
