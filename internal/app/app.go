// Package app wires tgauth's parts together the same way for both
// binaries: configuration and logging, the migrated store, and the account
// service with the secrets it keeps in the database.
package app

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"tgauth/internal/account"
	"tgauth/internal/config"
	"tgauth/internal/metrics"
	"tgauth/internal/password"
	"tgauth/internal/store/postgres"
	"tgauth/internal/store/sqlite"
	"tgauth/internal/token"
)

// Load reads the configuration (see config.Load) and returns it with a
// logger writing to w as it says. Configuration warnings are logged.
func Load(path string, getenv func(string) string, environ []string, w io.Writer) (config.Config, *slog.Logger, error) {
	cfg, warnings, err := config.Load(path, getenv, environ)
	log := NewLogger(w, cfg.Log)
	for _, msg := range warnings {
		log.Warn("config", slog.String("warning", msg))
	}
	return cfg, log, err
}

// NewLogger returns a text or JSON slog logger at the configured level.
func NewLogger(w io.Writer, cfg config.Log) *slog.Logger {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.Level)); err != nil {
		level = slog.LevelInfo
	}
	opts := &slog.HandlerOptions{Level: level}
	if cfg.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// Store is the database both binaries run on: SQLite's (sqlite.Store) or
// PostgreSQL's (postgres.Store), with the outbox the bot drains.
type Store interface {
	account.Store
	account.Outbox
	metrics.OutboxStats
	Close() error
}

var (
	_ Store = (*sqlite.Store)(nil)
	_ Store = (*postgres.Store)(nil)
)

// OpenStore opens the database (PostgreSQL at database.url when it is
// set, else SQLite at database.path) and applies pending migrations. The
// caller closes it.
func OpenStore(ctx context.Context, cfg config.Database, log *slog.Logger) (Store, error) {
	var (
		store interface {
			Store
			Migrate(context.Context) (int, error)
		}
		where slog.Attr
	)
	if cfg.URL != "" {
		pg, err := postgres.Open(ctx, cfg.URL)
		if err != nil {
			return nil, err
		}
		// The URL may hold a password: only the driver is logged.
		store, where = pg, slog.String("driver", "postgres")
	} else {
		lite, err := sqlite.Open(ctx, cfg.Path)
		if err != nil {
			return nil, err
		}
		store, where = lite, slog.String("path", cfg.Path)
	}
	n, err := store.Migrate(ctx)
	if err != nil {
		_ = store.Close() // the migration error is the one to report
		return nil, err
	}
	log.Info("database ready", where, slog.Int("migrations_applied", n))
	return store, nil
}

// Env is what both binaries start from: the migrated store, the account
// service over it, and the keys the bot's buttons and the outbox's codes
// are kept under.
type Env struct {
	Store       Store
	Service     *account.Service
	CallbackKey []byte
	Sealer      *account.Sealer
}

// Start opens the store (see OpenStore) and builds the rest of Env over
// it. The caller closes Env.Store.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger) (*Env, error) {
	store, err := OpenStore(ctx, cfg.Database, log)
	if err != nil {
		return nil, err
	}
	env := &Env{Store: store}
	env.Sealer, err = Sealer(cfg, log)
	if err == nil {
		env.Service, err = newService(ctx, cfg, store, env.Sealer, log)
	}
	if err == nil {
		env.CallbackKey, err = CallbackKey(ctx, store)
	}
	if err != nil {
		_ = store.Close() // the start failed; its error is the one to report
		return nil, err
	}
	return env, nil
}

// Secret keys in the settings table.
const (
	jwtSecretKey    = "jwt_secret"
	codeKeySetting  = "code_hmac_key"
	callbackKeyName = "callback_hmac_key"
)

// newService builds the account service. An empty jwt.secret means the
// one generated once and kept in the database, with a warning.
func newService(ctx context.Context, cfg config.Config, store account.Store, sealer *account.Sealer, log *slog.Logger) (*account.Service, error) {
	secret := []byte(cfg.JWT.Secret)
	if len(secret) == 0 {
		var created bool
		var err error
		secret, created, err = account.InitSecret(ctx, store, jwtSecretKey, time.Now())
		if err != nil {
			return nil, err
		}
		if created {
			log.Warn("jwt.secret is empty: generated a signing secret and stored it in the database; set jwt.secret to manage it yourself")
		} else {
			log.Warn("jwt.secret is empty: signing with the secret generated earlier and stored in the database")
		}
	}
	issuer, err := token.NewIssuer(secret, cfg.JWT.Issuer, time.Now)
	if err != nil {
		return nil, fmt.Errorf("jwt.secret: %w", err)
	}
	codeKey, _, err := account.InitSecret(ctx, store, codeKeySetting, time.Now())
	if err != nil {
		return nil, err
	}
	hasher := password.NewHasher(password.DefaultParams, cfg.Password.MaxConcurrentHashes)
	return account.NewService(store, hasher, issuer, account.Options{
		AccessTTL:       cfg.JWT.AccessTTL,
		RefreshTTL:      cfg.JWT.RefreshTTL,
		CodeKey:         codeKey,
		BotUsername:     cfg.Telegram.BotUsername,
		SessionCacheTTL: cfg.Auth.SessionCacheTTL,
		Sealer:          sealer,
	}), nil
}

// CallbackKey returns the key that signs the bot's button data, kept in
// the database so buttons outlive restarts.
func CallbackKey(ctx context.Context, store account.Store) ([]byte, error) {
	key, _, err := account.InitSecret(ctx, store, callbackKeyName, time.Now())
	return key, err
}

// Version is the module version and VCS revision the binary was built from.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "tgauth (unknown version)"
	}
	for _, s := range bi.Settings {
		if s.Key == "vcs.revision" {
			return "tgauth " + bi.Main.Version + " " + s.Value
		}
	}
	return "tgauth " + bi.Main.Version
}

// HTTPServer returns the http.Server that serves handler as configured:
// the timeouts, a 64 KiB header limit, and errors into log.
func HTTPServer(cfg config.HTTP, handler http.Handler, log *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.ReadHeaderTimeout,
		ReadTimeout:       cfg.ReadTimeout,
		WriteTimeout:      cfg.WriteTimeout,
		IdleTimeout:       cfg.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
}

// Main runs a command's run until it returns, with a context that ends on
// SIGINT or SIGTERM; an error is printed after the command's name and
// exits 1.
func Main(name string, run func(ctx context.Context) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, name+":", err)
		os.Exit(1)
	}
}

// Flags is a command's flag set, with the --config every command takes.
type Flags struct {
	*flag.FlagSet
	Config *string
}

// NewFlags makes the flag set of the command name, which prints its usage
// and errors to stderr.
func NewFlags(name string, stderr io.Writer) Flags {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return Flags{fs, fs.String("config", "", "YAML configuration file")}
}

// Parse parses args, refusing any left after the flags.
func (f Flags) Parse(args []string) error {
	if err := f.FlagSet.Parse(args); err != nil {
		return err
	}
	if f.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", f.Args())
	}
	return nil
}
