// Command api serves tgauth's HTTP API.
//
//	api [--config FILE]            serve (migrating the database first)
//	api [--config FILE] migrate    apply pending migrations and exit
//	api version                    print the version and exit
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime/debug"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"tgauth/internal/account"
	"tgauth/internal/config"
	"tgauth/internal/httpapi"
	"tgauth/internal/password"
	"tgauth/internal/store/sqlite"
	"tgauth/internal/token"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Environ(), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "api:", err)
		os.Exit(1)
	}
}

const usage = `usage: api [--config FILE] [command]

Commands:
  serve     serve the HTTP API (the default)
  migrate   apply pending database migrations and exit
  version   print the version and exit

Configuration: defaults, then FILE (or $TGAUTH_CONFIG), then TGAUTH_* variables;
see config.example.yaml.
`

func run(ctx context.Context, args []string, getenv func(string) string, environ []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	configPath := fs.String("config", "", "YAML configuration file")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cmd := "serve"
	if fs.NArg() > 0 {
		cmd = fs.Arg(0)
	}
	if fs.NArg() > 1 {
		return fmt.Errorf("%s: unexpected arguments %q", cmd, fs.Args()[1:])
	}
	switch cmd {
	case "version":
		fmt.Fprintln(stdout, version())
		return nil
	case "serve", "migrate":
	default:
		fs.Usage()
		return fmt.Errorf("unknown command %q", cmd)
	}

	cfg, warnings, err := config.Load(*configPath, getenv, environ)
	log := newLogger(stderr, cfg.Log)
	for _, w := range warnings {
		log.Warn("config", slog.String("warning", w))
	}
	if err != nil {
		return err
	}
	if cfg.Database.URL != "" {
		return errors.New("database.url: PostgreSQL is not supported yet; leave it empty to use SQLite at database.path")
	}

	store, err := sqlite.Open(ctx, cfg.Database.Path)
	if err != nil {
		return err
	}
	defer store.Close()
	n, err := store.Migrate(ctx)
	if err != nil {
		return err
	}
	log.Info("database ready", slog.String("path", cfg.Database.Path), slog.Int("migrations_applied", n))
	if cmd == "migrate" {
		return nil
	}
	return serve(ctx, cfg, store, log)
}

func serve(ctx context.Context, cfg config.Config, store *sqlite.Store, log *slog.Logger) error {
	secret := []byte(cfg.JWT.Secret)
	if len(secret) == 0 {
		var created bool
		var err error
		secret, created, err = account.InitSecret(ctx, store, "jwt_secret", time.Now())
		if err != nil {
			return err
		}
		if created {
			log.Warn("jwt.secret is empty: generated a signing secret and stored it in the database; set jwt.secret to manage it yourself")
		} else {
			log.Warn("jwt.secret is empty: signing with the secret generated earlier and stored in the database")
		}
	}
	issuer, err := token.NewIssuer(secret, cfg.JWT.Issuer, time.Now)
	if err != nil {
		return fmt.Errorf("jwt.secret: %w", err)
	}
	codeKey, _, err := account.InitSecret(ctx, store, "code_hmac_key", time.Now())
	if err != nil {
		return err
	}
	hasher := password.NewHasher(password.DefaultParams, cfg.Password.MaxConcurrentHashes)
	accounts := account.NewService(store, hasher, issuer, account.Options{
		AccessTTL:   cfg.JWT.AccessTTL,
		RefreshTTL:  cfg.JWT.RefreshTTL,
		CodeKey:     codeKey,
		BotUsername: cfg.Telegram.BotUsername,
	})

	gin.SetMode(gin.ReleaseMode)
	handler, err := httpapi.New(accounts, cfg.HTTP, cfg.RateLimit, log)
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: cfg.HTTP.ReadHeaderTimeout,
		ReadTimeout:       cfg.HTTP.ReadTimeout,
		WriteTimeout:      cfg.HTTP.WriteTimeout,
		IdleTimeout:       cfg.HTTP.IdleTimeout,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return err
	}
	log.Info("listening", slog.String("addr", ln.Addr().String()), slog.String("version", version()))

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	log.Info("shutting down: finishing requests in flight", slog.Duration("timeout", cfg.HTTP.ShutdownTimeout))
	shutdownCtx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	log.Info("stopped")
	return nil
}

func newLogger(w io.Writer, cfg config.Log) *slog.Logger {
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

// version is the module version and VCS revision the binary was built from.
func version() string {
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
