// Package postgres implements account.Store on PostgreSQL (pgx, pgxpool),
// for running several API and bot replicas on one database.
//
// Write transactions run at READ COMMITTED, and every read made through a
// Tx locks the rows it returns (SELECT … FOR UPDATE): a use case that reads
// a row, decides and writes it (a refresh reading its session's
// generation, a login counting failures) holds the row until it commits,
// so a concurrent one waits and then reads the committed result, as behind
// SQLite's single writer. Rows that do not exist yet are guarded by unique
// indexes and upserts instead. InTx runs fn again, a few times, when
// PostgreSQL aborts the transaction for a deadlock or a serialization
// failure; fn must therefore only act through its Tx.
//
// Times are timestamptz, which keeps microseconds: the store truncates
// every time it writes to the microsecond and returns times in UTC.
package postgres

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/jackc/pgx/v5/stdlib"
	"github.com/pressly/goose/v3"
	"github.com/pressly/goose/v3/lock"

	"tgauth/internal/account"
	"tgauth/migrations"
)

var _ account.Store = (*Store)(nil)

// Store is an account.Store on a PostgreSQL database.
type Store struct {
	reader
	pool   *pgxpool.Pool
	listen *pgx.ConnConfig // ListenOutbox's own connection, outside the pool

	nextSweep atomic.Int64  // Unix µs of the next sweep of old chat turns
	listenPID atomic.Uint32 // the listening backend, for tests
}

// Open connects to the database at url (a postgres:// URL or a key=value
// connection string; pgxpool's pool_* parameters apply) and checks that it
// answers. Call Migrate before use.
func Open(ctx context.Context, url string) (*Store, error) {
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		// pgx's parse errors quote the URL, and hide its password only
		// on a best-effort basis.
		return nil, errors.New("open postgres: invalid database URL (want postgres://user:password@host:port/database?sslmode=...)")
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgxpool's default, max(4, CPUs), is small for request handlers
		// that each hold a connection for a transaction.
		cfg.MaxConns = int32(max(8, 4*runtime.NumCPU())) // #nosec G115 -- a small count
	}
	return openConfig(ctx, cfg)
}

func openConfig(ctx context.Context, cfg *pgxpool.Config) (*Store, error) {
	listen := cfg.ConnConfig.Copy()
	listen.RuntimeParams["application_name"] = "tgauth-outbox-listener"
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("open postgres: %w", err)
	}
	return &Store{reader: reader{q: pool}, pool: pool, listen: listen}, nil
}

// Migrate applies every pending migration and returns how many it applied.
// Replicas starting together take turns on a session-level advisory lock
// (goose's PostgreSQL session locker); the later ones find nothing to do.
func (s *Store) Migrate(ctx context.Context) (int, error) {
	db := stdlib.OpenDBFromPool(s.pool) // closing it leaves the pool open
	defer db.Close()
	// Try the lock every second for up to ten minutes: a long migration
	// by another replica is waited for, not failed.
	locker, err := lock.NewPostgresSessionLocker(lock.WithLockTimeout(1, 600))
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	p, err := goose.NewProvider(goose.DialectPostgres, db, migrations.Postgres(), goose.WithSessionLocker(locker))
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	results, err := p.Up(ctx)
	if err != nil {
		return 0, fmt.Errorf("migrate: %w", err)
	}
	return len(results), nil
}

// Close closes the pool, waiting for connections in use to be released.
// ListenOutbox's connection closes when its ctx ends.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.pool.Ping(ctx); err != nil {
		return fmt.Errorf("ping postgres: %w", err)
	}
	return nil
}

// txAttempts bounds how many times InTx runs fn when PostgreSQL aborts it
// for a deadlock or a serialization failure.
const txAttempts = 5

// InTx runs fn in one transaction, committing when fn returns nil and
// rolling back otherwise. When the transaction fails with
// serialization_failure or deadlock_detected, it runs fn again in a new
// one, up to txAttempts times in all.
func (s *Store) InTx(ctx context.Context, fn func(account.Tx) error) error {
	for attempt := 1; ; attempt++ {
		err := s.inTx(ctx, fn)
		if err == nil || attempt == txAttempts || !retryable(err) || ctx.Err() != nil {
			return err
		}
		// Jittered, so that the two sides of a deadlock do not meet again.
		wait := time.Duration(attempt) * (5*time.Millisecond + rand.N(10*time.Millisecond)) // #nosec G404 -- jitter
		if sleepCtx(ctx, wait) != nil {
			return err
		}
	}
}

func (s *Store) inTx(ctx context.Context, fn func(account.Tx) error) error {
	pgTx, err := s.pool.Begin(ctx)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	defer func() {
		// A cancelled ctx must still end the transaction (or drop the
		// connection), never leave it open on a pooled connection.
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
		defer cancel()
		_ = pgTx.Rollback(rctx) // after a commit: pgx.ErrTxClosed, harmless
	}()
	if err := fn(&tx{reader: reader{q: pgTx, forUpdate: true}, tx: pgTx}); err != nil {
		return err
	}
	if err := pgTx.Commit(ctx); err != nil {
		return fmt.Errorf("commit: %w", err)
	}
	return nil
}

// SQLSTATEs of the errors InTx retries and maps.
const (
	codeSerializationFailure = "40001"
	codeDeadlockDetected     = "40P01"
	codeUniqueViolation      = "23505"
)

// retryable reports whether err aborted the transaction for a reason that a
// new attempt may not meet.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	return pe.Code == codeSerializationFailure || pe.Code == codeDeadlockDetected
}

// uniqueFields names the field each unique constraint on users guards; the
// indexes are on expressions, so the error names no column.
var uniqueFields = map[string]account.Field{
	"users_username_fold": account.FieldUsername,
	"users_email_fold":    account.FieldEmail,
}

// constraintField reports whether err is a unique violation and names the
// field it is about ("" when it is not one of users' fields), as the
// SQLite store does.
func constraintField(err error) (field account.Field, ok bool) {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) || pe.Code != codeUniqueViolation {
		return "", false
	}
	return uniqueFields[pe.ConstraintName], true
}

// sleepCtx waits d, or returns ctx's error when it ends first.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
