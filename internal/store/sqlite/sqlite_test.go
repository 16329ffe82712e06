package sqlite

import (
	"bufio"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tgauth/internal/account"
	"tgauth/internal/store/storetest"
	"tgauth/migrations"
)

// openTest returns a migrated store on a fresh file, closed at cleanup.
func openTest(tb testing.TB) *Store {
	tb.Helper()
	return openAt(tb, filepath.Join(tb.TempDir(), "tgauth.db"))
}

func openAt(tb testing.TB, path string) *Store {
	tb.Helper()
	s, err := Open(tb.Context(), path)
	if err != nil {
		tb.Fatalf("Open(%q): %v", path, err)
	}
	tb.Cleanup(func() {
		if err := s.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
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
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM outbox`).Scan(&n)
	return n, err
}

func (s testStore) VerificationCodeCount(ctx context.Context) (int, error) {
	var n int
	err := s.read.QueryRowContext(ctx, `SELECT count(*) FROM verification_codes`).Scan(&n)
	return n, err
}

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) storetest.Store {
		return testStore{openTest(t)}
	})
}

func TestMigrateTwice(t *testing.T) {
	s, err := Open(t.Context(), filepath.Join(t.TempDir(), "tgauth.db"))
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	defer s.Close()
	if n, err := s.Migrate(t.Context()); err != nil || n == 0 {
		t.Fatalf("first Migrate = %d, %v; want > 0, nil", n, err)
	}
	if n, err := s.Migrate(t.Context()); err != nil || n != 0 {
		t.Errorf("second Migrate = %d, %v; want 0, nil", n, err)
	}
}

// Stores that migrate one fresh file at once (the API and the bot starting
// together) take turns: every migration is applied once, none fails.
func TestConcurrentMigrate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tgauth.db")
	const n = 4
	applied := make(chan int, n)
	errs := make(chan error, n)
	var wg sync.WaitGroup
	for range n {
		wg.Go(func() {
			s, err := Open(t.Context(), path)
			if err != nil {
				errs <- err
				return
			}
			defer s.Close()
			k, err := s.Migrate(t.Context())
			if err != nil {
				errs <- err
				return
			}
			applied <- k
		})
	}
	wg.Wait()
	close(errs)
	close(applied)
	for err := range errs {
		t.Errorf("Migrate: %v", err)
	}
	total, firsts := 0, 0
	for k := range applied {
		total += k
		if k > 0 {
			firsts++
		}
	}
	if want := countMigrations(t); total != want || firsts != 1 {
		t.Errorf("applied %d migrations by %d stores, want %d by one", total, firsts, want)
	}
}

func countMigrations(t *testing.T) int {
	entries, err := fs.ReadDir(migrations.SQLite(), ".")
	if err != nil {
		t.Fatal(err)
	}
	return len(entries)
}

// pragma reads one pragma's value on db's connection.
func pragma(t *testing.T, q queryer, name string) string {
	t.Helper()
	var v string
	if err := q.QueryRowContext(t.Context(), "PRAGMA "+name).Scan(&v); err != nil {
		t.Fatalf("PRAGMA %s: %v", name, err)
	}
	return v
}

func TestPragmas(t *testing.T) {
	s := openTest(t)
	tests := []struct {
		pool string
		q    queryer
		name string
		want string
	}{
		{"write", s.write, "journal_mode", "wal"},
		{"write", s.write, "synchronous", "2"}, // FULL
		{"write", s.write, "foreign_keys", "1"},
		{"write", s.write, "busy_timeout", "5000"},
		{"write", s.write, "query_only", "0"},
		{"read", s.read, "journal_mode", "wal"},
		{"read", s.read, "foreign_keys", "1"},
		{"read", s.read, "busy_timeout", "5000"},
		{"read", s.read, "query_only", "1"},
	}
	for _, tt := range tests {
		if got := pragma(t, tt.q, tt.name); got != tt.want {
			t.Errorf("%s pool: PRAGMA %s = %q, want %q", tt.pool, tt.name, got, tt.want)
		}
	}
}

func TestForeignKeysEnforced(t *testing.T) {
	now := time.Now()
	tests := []struct {
		name   string
		insert func(ctx context.Context, tx account.Tx) error
	}{
		{"InsertSession", func(ctx context.Context, tx account.Tx) error {
			return tx.InsertSession(ctx, &account.Session{ID: "orphan", UserID: 999,
				CreatedAt: now, LastUsedAt: now, ExpiresAt: now})
		}},
		{"PutVerificationCode", func(ctx context.Context, tx account.Tx) error {
			return tx.PutVerificationCode(ctx, &account.VerificationCode{UserID: 999,
				Purpose: account.PurposePasswordReset, CodeHash: "h", CreatedAt: now, ExpiresAt: now})
		}},
		{"InsertLinkCode", func(ctx context.Context, tx account.Tx) error {
			return tx.InsertLinkCode(ctx, &account.LinkCode{CodeHash: "h", UserID: 999,
				CreatedAt: now, ExpiresAt: now})
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := openTest(t)
			err := s.InTx(t.Context(), func(tx account.Tx) error { return tt.insert(t.Context(), tx) })
			if err == nil {
				t.Fatalf("%s for a missing user succeeded, want a foreign key error", tt.name)
			}
			if !strings.Contains(err.Error(), "FOREIGN KEY") {
				t.Errorf("%s for a missing user err = %v, want a FOREIGN KEY error", tt.name, err)
			}
		})
	}
}

func TestReadPoolIsQueryOnly(t *testing.T) {
	s := openTest(t)
	_, err := s.read.ExecContext(t.Context(),
		`INSERT INTO settings (key, value, created_at) VALUES ('k', 'v', '2030-01-01T00:00:00.000000000Z')`)
	if err == nil {
		t.Fatal("INSERT through the read pool succeeded")
	}
	if !strings.Contains(err.Error(), "readonly") {
		t.Errorf("INSERT through the read pool err = %v, want a readonly error", err)
	}
	var n int
	if err := s.write.QueryRowContext(t.Context(), `SELECT count(*) FROM settings`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if n != 0 {
		t.Errorf("settings rows = %d, want 0", n)
	}
}

func TestTimeLayoutFixedWidth(t *testing.T) {
	s := openTest(t)
	fixed := regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z$`)
	tests := []time.Time{
		time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC), // no fraction at all
		time.Date(2030, 1, 2, 3, 4, 5, 120000000, time.UTC),
		time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC),
		time.Date(2030, 1, 2, 4, 4, 5, 0, time.FixedZone("CET", 3600)), // stored as UTC
	}
	for i, at := range tests {
		u := &account.User{Username: fmt.Sprintf("u%d", i), PasswordHash: "h", Role: account.RoleUser,
			CreatedAt: at, UpdatedAt: at, PasswordChangedAt: at}
		if err := s.InTx(t.Context(), func(tx account.Tx) error { return tx.InsertUser(t.Context(), u) }); err != nil {
			t.Fatalf("InsertUser: %v", err)
		}
		var raw string
		if err := s.read.QueryRowContext(t.Context(), `SELECT created_at FROM users WHERE id = ?`, u.ID).Scan(&raw); err != nil {
			t.Fatal(err)
		}
		if !fixed.MatchString(raw) {
			t.Errorf("created_at for %v stored as %q, want the fixed-width layout", at, raw)
		}
		if want := at.UTC().Format(timeLayout); raw != want {
			t.Errorf("created_at for %v stored as %q, want %q", at, raw, want)
		}
	}
}

// TestWriteTxBeginsImmediate: InTx takes the write lock at BEGIN, so a
// transaction that reads first cannot fail later on the lock upgrade when
// another process (the bot next to the API) writes the same file.
func TestWriteTxBeginsImmediate(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tgauth.db")
	s := openAt(t, path)
	other, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(0)")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	conn, err := other.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()

	inside, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- s.InTx(t.Context(), func(tx account.Tx) error {
			close(inside)
			<-release // no statement has run yet
			return nil
		})
	}()
	<-inside
	_, err = conn.ExecContext(t.Context(), "BEGIN IMMEDIATE")
	close(release)
	if err == nil {
		conn.ExecContext(t.Context(), "ROLLBACK")
		t.Error("another connection began a write while InTx was open, want SQLITE_BUSY")
	} else if !strings.Contains(err.Error(), "SQLITE_BUSY") {
		t.Errorf("BEGIN IMMEDIATE beside InTx err = %v, want SQLITE_BUSY", err)
	}
	if err := <-done; err != nil {
		t.Errorf("InTx: %v", err)
	}
}

// TestTwoStoresOneFile: two Stores on one file, as cmd/api and cmd/bot
// run, write at once; busy_timeout and IMMEDIATE make them queue, not fail.
func TestTwoStoresOneFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tgauth.db")
	stores := []*Store{openAt(t, path), openAt(t, path)}
	const perWriter = 20
	var wg sync.WaitGroup
	for si, s := range stores {
		for w := range 4 {
			wg.Go(func() {
				ctx := t.Context()
				for i := range perWriter {
					name := fmt.Sprintf("s%d-w%d-u%d", si, w, i)
					err := s.InTx(ctx, func(tx account.Tx) error {
						if _, err := tx.UserByUsername(ctx, name); !errors.Is(err, account.ErrNotFound) {
							return fmt.Errorf("UserByUsername before insert: %v", err)
						}
						return tx.InsertUser(ctx, &account.User{Username: name, PasswordHash: "h",
							Role: account.RoleUser, CreatedAt: time.Now(), UpdatedAt: time.Now(), PasswordChangedAt: time.Now()})
					})
					if err != nil {
						t.Errorf("store %d writer %d InTx %d: %v", si, w, i, err)
						return
					}
				}
			})
		}
	}
	wg.Wait()
	var n int
	if err := stores[0].read.QueryRowContext(t.Context(), `SELECT count(*) FROM users`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if want := len(stores) * 4 * perWriter; n != want {
		t.Errorf("users = %d, want %d", n, want)
	}
}

func TestUniqueColumn(t *testing.T) {
	tests := []struct{ in, want string }{
		{"constraint failed: UNIQUE constraint failed: users.username (2067)", "username"},
		{"UNIQUE constraint failed: users.email (2067)", "email"},
		{"constraint failed: UNIQUE constraint failed: t.a, t.b (2067)", "a"},
		{"constraint failed: UNIQUE constraint failed: index 'users_email_lower' (2067)", ""},
		{"something else", ""},
		{"", ""},
	}
	for _, tt := range tests {
		if got := uniqueColumn(tt.in); got != tt.want {
			t.Errorf("uniqueColumn(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// helperDBEnv names the database the crash child writes to; set only in the
// child's environment.
const helperDBEnv = "TGAUTH_SQLITE_CRASH_CHILD_DB"

// TestHelperProcessWriter is the child of TestCrashDurability: it commits
// one user per iteration and prints "id=N" once each commit has returned,
// until it is killed.
func TestHelperProcessWriter(t *testing.T) {
	path := os.Getenv(helperDBEnv)
	if path == "" {
		t.Skip("run only as the child of TestCrashDurability")
	}
	ctx := t.Context()
	s, err := Open(ctx, path)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	out := bufio.NewWriter(os.Stdout)
	for i := range 1_000_000 { // the parent kills us long before
		u := &account.User{Username: fmt.Sprintf("crash%d", i), PasswordHash: "h", Role: account.RoleUser,
			CreatedAt: time.Now(), UpdatedAt: time.Now(), PasswordChangedAt: time.Now()}
		if err := s.InTx(ctx, func(tx account.Tx) error { return tx.InsertUser(ctx, u) }); err != nil {
			t.Fatalf("InsertUser: %v", err)
		}
		fmt.Fprintf(out, "id=%d %s\n", u.ID, u.Username)
		if err := out.Flush(); err != nil {
			t.Fatalf("write id: %v", err)
		}
	}
}

// TestCrashDurability kills a writer process with SIGKILL mid-stream and
// checks that every commit it acknowledged is in the database.
func TestCrashDurability(t *testing.T) {
	if testing.Short() {
		t.Skip("spawns a child process")
	}
	const acks = 50
	path := filepath.Join(t.TempDir(), "tgauth.db")
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^TestHelperProcessWriter$", "-test.count=1")
	cmd.Env = append(os.Environ(), helperDBEnv+"="+path)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}

	acked := make(map[int64]string)
	killed := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "id=")
		if !ok {
			continue // the test framework's own output
		}
		idText, name, _ := strings.Cut(rest, " ")
		id, err := strconv.ParseInt(idText, 10, 64)
		if err != nil {
			t.Fatalf("child printed %q: %v", sc.Text(), err)
		}
		acked[id] = name
		if len(acked) == acks && !killed {
			// Keep reading after the kill: ids already in the pipe were
			// acknowledged too.
			if err := cmd.Process.Kill(); err != nil {
				t.Fatalf("kill child: %v", err)
			}
			killed = true
		}
	}
	waitErr := cmd.Wait()
	if !killed {
		t.Fatalf("child stopped after %d acknowledged ids (wait: %v); stderr:\n%s", len(acked), waitErr, stderr.String())
	}
	if ctx.Err() != nil {
		t.Fatalf("child timed out: %v", ctx.Err())
	}

	s := openAt(t, path)
	for id, name := range acked {
		u, err := s.UserByID(t.Context(), id)
		if err != nil {
			t.Errorf("acknowledged user %d (%s) lost: %v", id, name, err)
			continue
		}
		if u.Username != name {
			t.Errorf("UserByID(%d).Username = %q, want %q", id, u.Username, name)
		}
	}
	t.Logf("%d acknowledged commits survived SIGKILL", len(acked))
}

func BenchmarkInTxInsertUser(b *testing.B) {
	s := openTest(b)
	ctx := b.Context()
	now := time.Now().UTC()
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		u := &account.User{Username: "bench" + strconv.Itoa(i), PasswordHash: "h", Role: account.RoleUser,
			CreatedAt: now, UpdatedAt: now, PasswordChangedAt: now}
		i++
		if err := s.InTx(ctx, func(tx account.Tx) error { return tx.InsertUser(ctx, u) }); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkReadSession(b *testing.B) {
	s := openTest(b)
	ctx := b.Context()
	now := time.Now().UTC()
	err := s.InTx(ctx, func(tx account.Tx) error {
		u := &account.User{Username: "bench", PasswordHash: "h", Role: account.RoleUser,
			CreatedAt: now, UpdatedAt: now, PasswordChangedAt: now}
		if err := tx.InsertUser(ctx, u); err != nil {
			return err
		}
		return tx.InsertSession(ctx, &account.Session{ID: "bench-session", UserID: u.ID,
			CreatedAt: now, LastUsedAt: now, ExpiresAt: now.Add(time.Hour), IP: "192.0.2.1", UserAgent: "bench"})
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := s.Session(ctx, "bench-session"); err != nil {
			b.Fatal(err)
		}
	}
}

// The database is its owner's alone: a folder Open makes is 0700, and
// the database with its -wal and -shm files 0600, whatever the umask.
func TestFileModes(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	path := filepath.Join(dir, "tgauth.db")
	s, err := Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(t.Context()); err != nil { // writes: -wal and -shm appear
		t.Fatal(err)
	}
	want := map[string]os.FileMode{dir: 0o700, path: 0o600, path + "-wal": 0o600, path + "-shm": 0o600}
	for p, mode := range want {
		fi, err := os.Stat(p)
		if err != nil {
			t.Errorf("stat %s: %v", p, err)
			continue
		}
		if got := fi.Mode().Perm(); got != mode {
			t.Errorf("%s has mode %v, want %v", filepath.Base(p), got, mode)
		}
	}
}
