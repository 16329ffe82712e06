package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"tgauth/internal/account"
	"tgauth/internal/store/sqlite"
	"tgauth/internal/store/storetest"
	"tgauth/migrations"
)

// urlEnv names the database the tests use: each test works in a schema
// of its own there, dropped at cleanup. .ci/postgres starts one.
const urlEnv = "TGAUTH_TEST_POSTGRES_URL"

// testURL returns the test database's URL. Without one the test skips,
// unless CI is set: CI starts a server (.ci/run), so a missing URL there
// is a broken setup, not a reason to pass.
func testURL(tb testing.TB) string {
	tb.Helper()
	url := os.Getenv(urlEnv)
	if url == "" {
		if os.Getenv("CI") != "" {
			tb.Fatalf("%s is not set and CI is set (.ci/run starts a server with .ci/postgres)", urlEnv)
		}
		tb.Skipf("%s is not set; start a server with: bash .ci/postgres start DIR", urlEnv)
	}
	return url
}

// freshSchema creates an empty schema, dropped at cleanup, and returns a
// pool config whose connections use it.
func freshSchema(tb testing.TB) *pgxpool.Config {
	tb.Helper()
	url := testURL(tb)
	ctx := tb.Context()
	admin, err := pgx.Connect(ctx, url)
	if err != nil {
		tb.Fatalf("connect to %s: %v", urlEnv, err)
	}
	defer admin.Close(context.Background())
	schema := "test_" + strings.ToLower(rand.Text()[:12])
	if _, err := admin.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
		tb.Fatalf("create schema: %v", err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		admin, err := pgx.Connect(ctx, url)
		if err != nil {
			tb.Errorf("connect to drop schema %s: %v", schema, err)
			return
		}
		defer admin.Close(ctx)
		if _, err := admin.Exec(ctx, `DROP SCHEMA `+pgx.Identifier{schema}.Sanitize()+` CASCADE`); err != nil {
			tb.Errorf("drop schema %s: %v", schema, err)
		}
	})
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		tb.Fatalf("parse %s: %v", urlEnv, err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	return cfg
}

// openIn opens a store on cfg, closed at cleanup.
func openIn(tb testing.TB, cfg *pgxpool.Config) *Store {
	tb.Helper()
	s, err := openConfig(tb.Context(), cfg.Copy())
	if err != nil {
		tb.Fatalf("open: %v", err)
	}
	tb.Cleanup(func() { _ = s.Close() }) // Close returns nil
	return s
}

// openTest returns a migrated store on a fresh schema.
func openTest(tb testing.TB) *Store {
	tb.Helper()
	s := openIn(tb, freshSchema(tb))
	if _, err := s.Migrate(tb.Context()); err != nil {
		tb.Fatalf("Migrate: %v", err)
	}
	return s
}

// testStore adds what the conformance suite needs beyond account.Store,
// without putting it in Store's API.
type testStore struct{ *Store }

func (s testStore) OutboxCount(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM outbox`).Scan(&n)
	return n, err
}

func (s testStore) VerificationCodeCount(ctx context.Context) (int, error) {
	var n int
	err := s.pool.QueryRow(ctx, `SELECT count(*) FROM verification_codes`).Scan(&n)
	return n, err
}

func TestConformance(t *testing.T) {
	testURL(t)
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return testStore{openTest(t)}
	})
}

func TestMigrateTwice(t *testing.T) {
	s := openIn(t, freshSchema(t))
	if n, err := s.Migrate(t.Context()); err != nil || n != countMigrations(t) {
		t.Fatalf("first Migrate = %d, %v; want %d, nil", n, err, countMigrations(t))
	}
	if n, err := s.Migrate(t.Context()); err != nil || n != 0 {
		t.Errorf("second Migrate = %d, %v; want 0, nil", n, err)
	}
}

func countMigrations(t *testing.T) int {
	entries, err := fs.ReadDir(migrations.Postgres(), ".")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// Replicas that migrate one database at once take turns on goose's
// advisory lock: every migration is applied once, none fails.
func TestConcurrentMigrate(t *testing.T) {
	cfg := freshSchema(t)
	const n = 4
	stores := make([]*Store, n)
	for i := range stores {
		stores[i] = openIn(t, cfg)
	}
	applied := make([]int, n)
	var wg sync.WaitGroup
	for i, s := range stores {
		wg.Go(func() {
			k, err := s.Migrate(t.Context())
			if err != nil {
				t.Errorf("Migrate: %v", err)
			}
			applied[i] = k
		})
	}
	wg.Wait()
	total, firsts := 0, 0
	for _, k := range applied {
		total += k
		if k > 0 {
			firsts++
		}
	}
	if want := countMigrations(t); total != want || firsts != 1 {
		t.Errorf("applied %v migrations, want %d by one store", applied, want)
	}
}

func TestOpenBadURL(t *testing.T) {
	_, err := Open(t.Context(), "postgres://u:secret-password@[::1")
	if err == nil {
		t.Fatal("Open(malformed URL) succeeded")
	}
	if msg := err.Error(); strings.Contains(msg, "secret-password") {
		t.Errorf("Open error %q shows the password", msg)
	}
}

func newUser(name string) *account.User {
	at := time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)
	return &account.User{Username: name, PasswordHash: "h", Role: account.RoleUser,
		CreatedAt: at, UpdatedAt: at, PasswordChangedAt: at}
}

// TestCaseFoldIsASCII: usernames and emails collide exactly when SQLite's
// COLLATE NOCASE says they do: ASCII letters fold, nothing else does. The
// same steps run on both stores.
func TestCaseFoldIsASCII(t *testing.T) {
	testURL(t)
	stores := map[string]account.Store{
		"postgres": openTest(t),
		"sqlite":   openSQLite(t),
	}
	steps := []struct {
		name    string
		collide bool
	}{
		{"Bob", false},
		{"bob", true},
		{"BOB", true},
		{"émile", false},
		{"Émile", false}, // é and É are not ASCII
		{"ÉMILE", true},  // but the ASCII letters of Émile fold
		{"straße", false},
		{"strasse", false}, // ß is not ss
		{"STRASSE", true},
		{"ǅemal", false},
		{"ǆemal", false}, // titlecase digraphs are not folded
		{"İstanbul", false},
		{"istanbul", false}, // İ is not I
		{"İSTANBUL", true},
	}
	for name, s := range stores {
		ctx := t.Context()
		insert := func(u *account.User) error {
			return s.InTx(ctx, func(tx account.Tx) error { return tx.InsertUser(ctx, u) })
		}
		for _, st := range steps {
			err := insert(newUser(st.name))
			var ce *account.ConflictError
			switch {
			case st.collide && (!errors.As(err, &ce) || ce.Field != "username"):
				t.Errorf("%s: InsertUser(%q) err = %v, want a username conflict", name, st.name, err)
			case !st.collide && err != nil:
				t.Errorf("%s: InsertUser(%q) err = %v, want none", name, st.name, err)
			}
		}
		if u, err := s.UserByUsername(ctx, "ÉMILE"); err != nil || u.Username != "Émile" {
			t.Errorf(`%s: UserByUsername("ÉMILE") = %v, %v; want the user "Émile"`, name, u, err)
		}
		u := newUser("")
		u.Email = "Ann@Example.ORG"
		if err := insert(u); err != nil {
			t.Fatal(err)
		}
		dup := newUser("")
		dup.Email = "ann@example.org"
		var ce *account.ConflictError
		if err := insert(dup); !errors.As(err, &ce) || ce.Field != "email" {
			t.Errorf("%s: InsertUser(email differing in case) err = %v, want an email conflict", name, err)
		}
	}
}

func openSQLite(t *testing.T) *sqlite.Store {
	s, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tgauth.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	if _, err := s.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	return s
}

// TestTimesTruncatedToMicroseconds: PostgreSQL keeps microseconds; a time
// with nanoseconds reads back truncated, in UTC, and compares as stored.
func TestTimesTruncatedToMicroseconds(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	at := time.Date(2030, 1, 2, 4, 4, 5, 123456789, time.FixedZone("CET", 3600))
	u := newUser("bob")
	u.CreatedAt, u.LockedUntil = at, at
	if err := s.InTx(ctx, func(tx account.Tx) error { return tx.InsertUser(ctx, u) }); err != nil {
		t.Fatal(err)
	}
	got, err := s.UserByID(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)
	for _, g := range []time.Time{got.CreatedAt, got.LockedUntil} {
		if !g.Equal(want) || g.Location() != time.UTC {
			t.Errorf("stored %v read back as %v, want %v in UTC", at, g, want)
		}
	}
	if !got.PrivacyPolicyAcceptedAt.IsZero() {
		t.Errorf("unset time read back as %v, want the zero time", got.PrivacyPolicyAcceptedAt)
	}
}

// TestConcurrentReadModifyWrite: transactions that read a session and
// write the generation they read plus one (a refresh) lose no update: the
// read locks the row, so each sees the one before it committed.
func TestConcurrentReadModifyWrite(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	u := newUser("bob")
	now := time.Now().UTC()
	err := s.InTx(ctx, func(tx account.Tx) error {
		if err := tx.InsertUser(ctx, u); err != nil {
			return err
		}
		return tx.InsertSession(ctx, &account.Session{ID: "s", UserID: u.ID, CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour)})
	})
	if err != nil {
		t.Fatal(err)
	}
	const workers, each = 8, 10
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for range each {
				err := s.InTx(ctx, func(tx account.Tx) error {
					sess, err := tx.Session(ctx, "s")
					if err != nil {
						return err
					}
					sess.Generation++
					return tx.UpdateSession(ctx, sess)
				})
				if err != nil {
					t.Errorf("InTx: %v", err)
					return
				}
			}
		})
	}
	wg.Wait()
	sess, err := s.Session(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if sess.Generation != workers*each {
		t.Errorf("Generation after %d increments = %d: updates were lost", workers*each, sess.Generation)
	}
}

// TestConcurrentCheckThenInsert: a use case that reads a user, finds no
// row of another table and inserts one (a reset code, at most one a
// minute) runs once at a time per user: the user row, read through the
// Tx, is locked, so the second sees the first's row instead of a gap.
func TestConcurrentCheckThenInsert(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	u := newUser("bob")
	if err := s.InTx(ctx, func(tx account.Tx) error { return tx.InsertUser(ctx, u) }); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	const callers = 8
	var wg sync.WaitGroup
	for range callers {
		wg.Go(func() {
			err := s.InTx(ctx, func(tx account.Tx) error {
				if _, err := tx.UserByUsername(ctx, "BOB"); err != nil {
					return err
				}
				_, err := tx.VerificationCode(ctx, u.ID, account.PurposePasswordReset)
				if err == nil {
					return nil // sent already
				}
				if !errors.Is(err, account.ErrNotFound) {
					return err
				}
				c := &account.VerificationCode{UserID: u.ID, Purpose: account.PurposePasswordReset,
					CodeHash: "h", CreatedAt: now, ExpiresAt: now.Add(time.Minute)}
				if err := tx.PutVerificationCode(ctx, c); err != nil {
					return err
				}
				return tx.InsertOutbox(ctx, &account.OutboxMessage{ChatID: 1, Kind: account.NoticeResetCode,
					Payload: []byte(`{}`), CreatedAt: now, NextAttemptAt: now})
			})
			if err != nil {
				t.Errorf("InTx: %v", err)
			}
		})
	}
	wg.Wait()
	if n, err := (testStore{s}).OutboxCount(ctx); err != nil || n != 1 {
		t.Errorf("codes queued by %d concurrent requests = %d, %v; want 1", callers, n, err)
	}
}

// TestInTxRetriesDeadlock: two transactions that lock two users in
// opposite orders deadlock once; PostgreSQL aborts one, and InTx runs its
// fn again, so both commit.
func TestInTxRetriesDeadlock(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	a, b := newUser("a"), newUser("b")
	if err := s.InTx(ctx, func(tx account.Tx) error {
		return errors.Join(tx.InsertUser(ctx, a), tx.InsertUser(ctx, b))
	}); err != nil {
		t.Fatal(err)
	}
	var runs atomic.Int32
	var barrier sync.WaitGroup
	barrier.Add(2)
	lockBoth := func(first, second int64) error {
		attempt := 0
		return s.InTx(ctx, func(tx account.Tx) error {
			runs.Add(1)
			attempt++
			if _, err := tx.UserByID(ctx, first); err != nil {
				return err
			}
			if attempt == 1 {
				barrier.Done()
				barrier.Wait() // both hold their first lock
			}
			if _, err := tx.UserByID(ctx, second); err != nil {
				return err
			}
			return tx.SetLoginFailures(ctx, first, 1, time.Time{}, time.Now())
		})
	}
	var wg sync.WaitGroup
	errs := make([]error, 2)
	wg.Go(func() { errs[0] = lockBoth(a.ID, b.ID) })
	wg.Go(func() { errs[1] = lockBoth(b.ID, a.ID) })
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("InTx %d: %v", i, err)
		}
	}
	if n := runs.Load(); n != 3 {
		t.Errorf("fn ran %d times, want 3 (one retry after the deadlock)", n)
	}
}

// TestInTxDoesNotRetryOtherErrors: a conflict is the caller's to handle.
func TestInTxDoesNotRetryOtherErrors(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	if err := s.InTx(ctx, func(tx account.Tx) error { return tx.InsertUser(ctx, newUser("bob")) }); err != nil {
		t.Fatal(err)
	}
	runs := 0
	err := s.InTx(ctx, func(tx account.Tx) error {
		runs++
		return tx.InsertUser(ctx, newUser("BOB"))
	})
	if !errors.Is(err, account.ErrConflict) || runs != 1 {
		t.Errorf("InTx(conflict) = %v after %d runs, want ErrConflict after 1", err, runs)
	}
}

func TestRetryable(t *testing.T) {
	if retryable(errors.New("x")) || retryable(nil) {
		t.Error("retryable(non-PostgreSQL error) = true")
	}
	if retryable(fmt.Errorf("wrapped: %w", context.Canceled)) {
		t.Error("retryable(context.Canceled) = true")
	}
}

// TestOddTextReplaced: text PostgreSQL cannot hold is stored with its NULs
// dropped and its invalid bytes replaced, rather than failing the login
// that brought it.
func TestOddTextReplaced(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	u := newUser("bob")
	now := time.Now().UTC()
	err := s.InTx(ctx, func(tx account.Tx) error {
		if err := tx.InsertUser(ctx, u); err != nil {
			return err
		}
		return tx.InsertSession(ctx, &account.Session{ID: "s", UserID: u.ID, CreatedAt: now, LastUsedAt: now,
			ExpiresAt: now.Add(time.Hour), UserAgent: "Mozilla \xe9t\xe9\x00", IP: "192.0.2.1"})
	})
	if err != nil {
		t.Fatal(err)
	}
	sess, err := s.Session(ctx, "s")
	if err != nil {
		t.Fatal(err)
	}
	if want := "Mozilla \uFFFDt\uFFFD"; sess.UserAgent != want {
		t.Errorf("UserAgent read back as %q, want %q", sess.UserAgent, want)
	}
}
