// Package sqlite implements account.Store on an embedded SQLite database
// (modernc.org/sqlite, pure Go).
//
// One connection writes, and every write transaction begins IMMEDIATE, so
// writers queue on busy_timeout instead of failing on a lock upgrade; a
// bounded pool of query_only connections serves reads concurrently, which
// WAL mode allows. synchronous=FULL makes every commit fsync the WAL before
// it returns: an acknowledged write survives kill -9 and a power cut alike.
// (NORMAL would survive kill -9 too, but may lose the last commits on a
// power cut; an account service must not forget a password change it
// confirmed.)
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/pressly/goose/v3"
	sqlite "modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"tgauth/internal/account"
	"tgauth/migrations"
)

var _ account.Store = (*Store)(nil)

// Store is an account.Store on one SQLite file.
type Store struct {
	reader
	path   string
	write  *sql.DB
	read   *sql.DB
	wstmts *stmtCache
	rstmts *stmtCache
}

const (
	commonPragmas = "_pragma=busy_timeout(5000)&_pragma=foreign_keys(1)"
	writeDSN      = "?" + commonPragmas + "&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	readDSN       = "?" + commonPragmas + "&_pragma=query_only(1)"
)

// Open opens (creating it and its folder when missing) the database at path.
// A folder it makes is 0700 and a file it makes 0600, for the owner alone:
// SQLite gives the -wal and -shm files the database file's mode. Call
// Migrate before use.
func Open(ctx context.Context, path string) (*Store, error) {
	if path == "" || strings.ContainsRune(path, '?') {
		return nil, fmt.Errorf("open sqlite: invalid database path %q", path)
	}
	if dir := filepath.Dir(path); dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o600) // #nosec G304 -- the operator's database path
	switch {
	case err == nil:
		if err := f.Close(); err != nil {
			return nil, fmt.Errorf("open sqlite: %w", err)
		}
	case !errors.Is(err, fs.ErrExist):
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	write, err := sql.Open("sqlite", path+writeDSN)
	if err != nil {
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	write.SetMaxOpenConns(1)
	write.SetConnMaxIdleTime(0)
	// Ping before the read pool opens: it sets WAL mode on the file.
	// Switching a fresh file to WAL fails at once with SQLITE_BUSY when
	// another process does the same, busy_timeout or not, so processes
	// opening together take turns on the lock file that migrations use.
	unlock, err := lockFile(ctx, path+".migrate.lock")
	if err != nil {
		_ = write.Close()
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	err = write.PingContext(ctx)
	unlock()
	if err != nil {
		_ = write.Close() // the open failed; its error is the one to report
		return nil, fmt.Errorf("open sqlite %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", path+readDSN)
	if err != nil {
		_ = write.Close() // the open failed; its error is the one to report
		return nil, fmt.Errorf("open sqlite: %w", err)
	}
	n := max(4, 2*runtime.NumCPU())
	read.SetMaxOpenConns(n)
	read.SetMaxIdleConns(n)
	rs := newStmtCache(read)
	return &Store{reader: reader{pooled{rs}}, path: path, write: write, read: read, wstmts: newStmtCache(write), rstmts: rs}, nil
}

// Migrate applies every pending migration and returns how many it applied.
// Processes sharing the database (the API and the bot starting together)
// take turns: goose has no lock for SQLite, so an exclusive lock on a file
// beside the database serializes them, and the second finds nothing to do.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	unlock, err := lockFile(ctx, s.path+".migrate.lock")
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	defer unlock()
	p, err := goose.NewProvider(goose.DialectSQLite3, s.write, migrations.SQLite())
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	return len(results), nil
}

// Close closes the database, readers first.
func (s *Store) Close() error {
	s.rstmts.close()
	s.wstmts.close()
	return errors.Join(s.read.Close(), s.write.Close())
}

// Ping checks that both the read pool and the writer answer.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.read.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	if err := s.write.PingContext(ctx); err != nil {
		return fmt.Errorf("ping sqlite: %w", err)
	}
	return nil
}

// InTx runs fn in one IMMEDIATE transaction on the writer connection.
func (s *Store) InTx(ctx context.Context, fn func(account.Tx) error) error {
	sqlTx, err := s.write.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	var missed []string
	defer func() {
		for _, q := range missed {
			_, _ = s.wstmts.get(ctx, q) // the connection is free again
		}
	}()
	defer sqlTx.Rollback()
	q := inTx{tx: sqlTx, c: s.wstmts, missed: &missed}
	if err := fn(&tx{reader: reader{q}, tx: q}); err != nil {
		return err
	}
	if err := sqlTx.Commit(); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// constraintField reports whether err is a unique- or primary-key
// violation and names the column it is about ("" when the message names
// none, as for a unique index on an expression). A WITHOUT ROWID table's
// text key fails with SQLITE_CONSTRAINT_PRIMARYKEY, not _UNIQUE.
func constraintField(err error) (field string, ok bool) {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return "", false
	}
	switch se.Code() {
	case sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY:
		return uniqueColumn(se.Error()), true
	}
	return "", false
}

// uniqueColumn returns the first column a unique-constraint message names:
// "username" from "... UNIQUE constraint failed: users.username (2067)",
// "" from "... UNIQUE constraint failed: index 'users_email_lower' (2067)".
func uniqueColumn(msg string) string {
	i := strings.LastIndex(msg, "failed: ")
	if i < 0 {
		return ""
	}
	cols := msg[i+len("failed: "):]
	cols, _, _ = strings.Cut(cols, " (") // the code suffix
	cols, _, _ = strings.Cut(cols, ",")  // a composite key's first column
	_, col, ok := strings.Cut(cols, ".")
	if !ok || strings.ContainsAny(col, " '") {
		return ""
	}
	return col
}
