// Package accounttest builds a real account.Service for tests: a migrated
// SQLite file in a temp dir, a generated JWT secret, cheap argon2id and a
// settable clock.
package accounttest

import (
	"context"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"tgauth/internal/account"
	"tgauth/internal/app"
	"tgauth/internal/clocktest"
	"tgauth/internal/config"
	"tgauth/internal/password"
	"tgauth/internal/store/sqlite"
	"tgauth/internal/token"
)

// FastParams keep argon2id cheap for tests that are not about its cost.
var FastParams = password.Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

// Config tunes New. Zero values: FastParams, the store unwrapped.
type Config struct {
	Params password.Params
	// Wrap, when set, stands between the service and the store (to
	// inject failures).
	Wrap func(account.Store) account.Store
	// Options for the service; Now is always the Env's clock.
	Options account.Options
}

// Env is one service over one database file.
type Env struct {
	Path    string
	Store   *sqlite.Store
	Clock   *clocktest.Clock
	Issuer  *token.Issuer
	Service *account.Service
}

// New builds an Env, closing its store when the test ends.
func New(tb testing.TB, cfg Config) *Env {
	tb.Helper()
	ctx := context.Background()
	path := filepath.Join(tb.TempDir(), "tgauth.db")
	st, err := sqlite.Open(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = st.Close() })
	if _, err := st.Migrate(ctx); err != nil {
		tb.Fatal(err)
	}
	clk := clocktest.New()
	secret, _, err := account.InitSecret(ctx, st, "jwt_secret", clk.Now())
	if err != nil {
		tb.Fatal(err)
	}
	issuer, err := token.NewIssuer(secret, "tgauth", clk.Now)
	if err != nil {
		tb.Fatal(err)
	}
	params := cfg.Params
	if params == (password.Params{}) {
		params = FastParams
	}
	var store account.Store = st
	if cfg.Wrap != nil {
		store = cfg.Wrap(st)
	}
	opts := cfg.Options
	opts.Now = clk.Now
	svc := account.NewService(store, password.NewHasher(params, 2), issuer, opts)
	return &Env{Path: path, Store: st, Clock: clk, Issuer: issuer, Service: svc}
}

// ConfirmChat confirms the user's chat in the SQLite database at path, as
// the bot does when the chat presses Yes: for tests of a process that has
// no bot beside it.
func ConfirmChat(tb testing.TB, path string, userID, chatID int64) {
	tb.Helper()
	ctx := context.Background()
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		tb.Fatal(err)
	}
	defer s.Close()
	err = s.InTx(ctx, func(tx account.Tx) error { return tx.ConfirmChat(ctx, userID, chatID, time.Now().UTC()) })
	if err != nil {
		tb.Fatalf("confirm chat %d of user %d: %v", chatID, userID, err)
	}
}

// OutboxResetCode returns the newest reset code in the outbox of the
// SQLite database at path, opened as the bot opens it (with the seal key
// beside the database), for tests of a process that has no bot beside it.
func OutboxResetCode(tb testing.TB, path string) string {
	tb.Helper()
	db := OpenRead(tb, path)
	var payload []byte
	err := db.QueryRow(`SELECT payload FROM outbox WHERE kind = ? ORDER BY id DESC LIMIT 1`, account.NoticeResetCode).Scan(&payload)
	if err != nil {
		tb.Fatalf("no reset code in the outbox: %v", err)
	}
	var cfg config.Config
	cfg.Database.Path = path
	sealer, err := app.Sealer(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		tb.Fatal(err)
	}
	n, err := account.DecodeNotice(payload)
	if err == nil {
		err = n.Open(sealer)
	}
	if err != nil || n.Code == "" {
		tb.Fatalf("reset notice %s: %v", payload, err)
	}
	return n.Code
}
