package postgres

import (
	"context"
	"crypto/rand"
	"sync/atomic"
	"testing"
	"time"
)

// exclusiveRun is one RunExclusive in the background, recording each
// start of fn.
type exclusiveRun struct {
	started chan struct{}
	cancel  context.CancelFunc
	done    chan error
}

func runExclusive(t *testing.T, s *Store, key string, running *atomic.Int32) *exclusiveRun {
	ctx, cancel := context.WithCancel(t.Context())
	r := &exclusiveRun{started: make(chan struct{}, 8), cancel: cancel, done: make(chan error, 1)}
	go func() {
		r.done <- s.RunExclusive(ctx, key, func(ctx context.Context) error {
			if n := running.Add(1); n != 1 {
				t.Errorf("%d holders of %q at once", n, key)
			}
			r.started <- struct{}{}
			<-ctx.Done()
			running.Add(-1)
			return nil
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-r.done; err != nil {
			t.Errorf("RunExclusive = %v after cancel, want nil", err)
		}
	})
	return r
}

func awaitStart(t *testing.T, r *exclusiveRun, what string) {
	t.Helper()
	select {
	case <-r.started:
	case <-time.After(4 * exclusiveCheck):
		t.Fatalf("fn did not start %s", what)
	}
}

// One holder at a time; when it stops, the other takes over.
func TestRunExclusiveTakesTurns(t *testing.T) {
	s := openTest(t)
	key := "test-" + rand.Text()
	var running atomic.Int32
	first := runExclusive(t, s, key, &running)
	awaitStart(t, first, "for the first caller")
	second := runExclusive(t, s, key, &running)
	select {
	case <-second.started:
		t.Fatal("the second caller ran while the first held the lock")
	case <-time.After(exclusiveCheck + exclusiveCheck/2):
	}
	first.cancel()
	awaitStart(t, second, "after the first stopped")
}

// A holder whose connection dies (its process was killed, a failover)
// stops fn and seeks the lock again.
func TestRunExclusiveLosesLockWithConnection(t *testing.T) {
	s := openTest(t)
	key := "test-" + rand.Text()
	var running atomic.Int32
	r := runExclusive(t, s, key, &running)
	awaitStart(t, r, "at first")
	tag, err := s.pool.Exec(t.Context(), `SELECT pg_terminate_backend(pid) FROM pg_locks
		WHERE locktype = 'advisory' AND granted AND objid::bigint = (hashtextextended($1, 0) & 4294967295)`, "tgauth:"+key)
	if err != nil {
		t.Fatal(err)
	}
	if tag.RowsAffected() != 1 {
		t.Fatalf("terminated %d backends holding the lock, want 1", tag.RowsAffected())
	}
	awaitStart(t, r, "again after its connection was terminated")
}
