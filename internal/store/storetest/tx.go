package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"tgauth/internal/account"
)

func testRollbackOnError(t *testing.T, s Store) {
	errBoom := errors.New("boom")
	u := newUser("bob")
	err := s.InTx(t.Context(), func(tx account.Tx) error {
		if err := tx.InsertUser(t.Context(), u); err != nil {
			return err
		}
		if err := tx.InsertOutbox(t.Context(), newOutbox(42)); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx err = %v, want %v", err, errBoom)
	}
	if u.ID == 0 {
		t.Fatal("InsertUser in the rolled-back tx set no ID")
	}
	_, err = s.UserByID(t.Context(), u.ID)
	wantNotFound(t, "UserByID(rolled back)", err)
	_, err = s.UserByUsername(t.Context(), "bob")
	wantNotFound(t, "UserByUsername(rolled back)", err)
	if n := outboxCount(t, s); n != 0 {
		t.Errorf("outbox rows after rollback = %d, want 0", n)
	}

	mustStayUsable(t, s, "an error")
	// A commit shows, so the counts above are not vacuous.
	insertUsers(t, s, newUser("bob"))
	inTx(t, s, func(tx account.Tx) error { return tx.InsertOutbox(t.Context(), newOutbox(42)) })
	if n := outboxCount(t, s); n != 1 {
		t.Errorf("outbox rows after one commit = %d, want 1", n)
	}
}

func testRollbackOnPanic(t *testing.T, s Store) {
	u := newUser("bob")
	recovered := func() (r any) {
		defer func() { r = recover() }()
		_ = s.InTx(t.Context(), func(tx account.Tx) error {
			if err := tx.InsertUser(t.Context(), u); err != nil {
				t.Errorf("InsertUser: %v", err)
			}
			if err := tx.InsertOutbox(t.Context(), newOutbox(42)); err != nil {
				t.Errorf("InsertOutbox: %v", err)
			}
			panic("boom")
		})
		return nil
	}()
	if recovered != "boom" {
		t.Fatalf("InTx recovered %v, want the panic to propagate as %q", recovered, "boom")
	}
	_, err := s.UserByUsername(t.Context(), "bob")
	wantNotFound(t, "UserByUsername(after panic)", err)
	if n := outboxCount(t, s); n != 0 {
		t.Errorf("outbox rows after panic = %d, want 0", n)
	}
	mustStayUsable(t, s, "a panic")
	// The same username can now be taken.
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping after panic: %v", err)
	}
	again := newUser("bob")
	insertUsers(t, s, again)
	if got := userByID(t, s, again.ID); got.Username != "bob" {
		t.Errorf("UserByID(%d).Username = %q, want %q", again.ID, got.Username, "bob")
	}
}

func testPing(t *testing.T, s Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
}

// testConcurrent runs writers and readers at once: none may see an error
// (SQLite's SQLITE_BUSY in particular) and every committed row must be there.
func testConcurrent(t *testing.T, s Store) {
	const writers, perWriter, readers = 8, 20, 4
	ctx := t.Context()
	seed := newUser("seed")
	insertUsers(t, s, seed)
	insertSessions(t, s, &account.Session{ID: "seed", UserID: seed.ID, CreatedAt: t0, LastUsedAt: t0, ExpiresAt: t0.Add(time.Hour)})

	done := make(chan struct{})
	var rg sync.WaitGroup
	for range readers {
		rg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := s.UserByUsername(ctx, "SEED"); err != nil {
					t.Errorf("concurrent UserByUsername: %v", err)
					return
				}
				if _, err := s.Session(ctx, "seed"); err != nil {
					t.Errorf("concurrent Session: %v", err)
					return
				}
			}
		})
	}

	ids := make([][]int64, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				u := newUser(fmt.Sprintf("w%d-u%d", w, i))
				err := s.InTx(ctx, func(tx account.Tx) error {
					// Read, then write: the Service's pattern, which a
					// deferred SQLite transaction would fail on.
					if _, err := tx.UserByID(ctx, seed.ID); err != nil {
						return err
					}
					return tx.InsertUser(ctx, u)
				})
				if err != nil {
					t.Errorf("writer %d, InTx %d: %v", w, i, err)
					return
				}
				ids[w] = append(ids[w], u.ID)
			}
		})
	}
	wg.Wait()
	close(done)
	rg.Wait()

	seen := make(map[int64]bool)
	for w, ws := range ids {
		for i, id := range ws {
			if seen[id] {
				t.Errorf("ID %d given twice", id)
			}
			seen[id] = true
			want := fmt.Sprintf("w%d-u%d", w, i)
			if got := userByID(t, s, id); got.Username != want {
				t.Errorf("UserByID(%d).Username = %q, want %q", id, got.Username, want)
			}
		}
	}
	if len(seen) != writers*perWriter {
		t.Errorf("committed %d users, want %d", len(seen), writers*perWriter)
	}
}

func testCancelledBeforeInTx(t *testing.T, s Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.InTx(ctx, func(tx account.Tx) error {
		return tx.InsertUser(ctx, newUser("bob"))
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("InTx(cancelled ctx) err = %v, want context.Canceled", err)
	}
	_, err = s.UserByUsername(t.Context(), "bob")
	wantNotFound(t, "UserByUsername after cancelled InTx", err)
	mustStayUsable(t, s, "a cancelled begin")
}

// testCancelledInsideInTx: a context that ends before the commit must not
// commit, even when fn returns nil.
func testCancelledInsideInTx(t *testing.T, s Store) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	err := s.InTx(ctx, func(tx account.Tx) error {
		if err := tx.InsertUser(ctx, newUser("bob")); err != nil {
			return err
		}
		cancel()
		return nil
	})
	if err == nil {
		t.Error("InTx whose ctx was cancelled before commit returned nil")
	}
	_, err = s.UserByUsername(t.Context(), "bob")
	wantNotFound(t, "UserByUsername after cancelled commit", err)
	mustStayUsable(t, s, "a cancelled commit")
	insertUsers(t, s, newUser("bob"))
}
