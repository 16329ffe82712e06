// Command bot is tgauth's Telegram bot: it delivers the outbox (reset
// codes and account notices) to linked chats and answers the commands and
// buttons people use in Telegram.
//
//	bot [--config FILE]             run (migrating the database first)
//	bot [--config FILE] --dry-run   log what would be sent; needs no token
//
// With bot.metrics_addr set it serves Prometheus metrics at /metrics there.
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
	"sync"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tgauth/internal/app"
	"tgauth/internal/bot"
	"tgauth/internal/metrics"
)

// sharedStore is a store several bot replicas can share (PostgreSQL's):
// the limits are kept in it, it says when rows are queued, and it lets one
// replica at a time poll Telegram for updates.
type sharedStore interface {
	bot.SharedTurns
	ListenOutbox(ctx context.Context, wake chan<- struct{}) error
	RunExclusive(ctx context.Context, key string, fn func(context.Context) error) error
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Getenv, os.Environ(), os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bot:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, environ []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("bot", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML configuration file")
	dryRun := fs.Bool("dry-run", false, "log what would be sent (chat and kind, never the text) instead of calling Telegram; consumes the outbox")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	cfg, log, err := app.Load(*configPath, getenv, environ, stderr)
	if err != nil {
		return err
	}
	if cfg.Telegram.Token == "" && !*dryRun {
		return errors.New("telegram.token is empty: set it (TGAUTH_TELEGRAM_TOKEN or TGAUTH_TELEGRAM_TOKEN_FILE), or run with --dry-run")
	}
	store, err := app.OpenStore(ctx, cfg.Database, log)
	if err != nil {
		return err
	}
	defer store.Close()
	accounts, err := app.NewService(ctx, cfg, store, log)
	if err != nil {
		return err
	}
	key, err := app.CallbackKey(ctx, store)
	if err != nil {
		return err
	}
	signer := bot.NewSigner(key)
	var (
		pacer     = bot.NewPacer(bot.OverallRate, bot.PerChatGap, nil)
		wake      chan struct{}
		workers   []func(context.Context) error
		shared, _ = store.(sharedStore) // nil on SQLite: one bot, limits in memory
	)
	if shared != nil {
		pacer = bot.NewSharedPacer(shared, bot.OverallRate, bot.PerChatGap, nil, log)
		wake = make(chan struct{}, 1)
		workers = append(workers, func(ctx context.Context) error { return shared.ListenOutbox(ctx, wake) })
	}
	reg := metrics.NewRegistry()
	reg.MustRegister(metrics.NewOutboxCollector(store, time.Now))
	botMetrics, err := metrics.NewBot(reg)
	if err != nil {
		return err
	}

	var sender bot.Sender = bot.DryRun{Log: log}
	if !*dryRun {
		client := bot.NewClient(cfg.Telegram.Token, cfg.Telegram.APIURL, &http.Client{})
		sender = client
		poller := bot.NewPoller(client, accounts, signer, log, bot.PollerOptions{Pace: pacer.Wait, Sent: pacer.Sent, Metrics: botMetrics})
		run := poller.Run
		if shared != nil {
			// Telegram serves one getUpdates per token: one replica polls,
			// and another takes over when it goes.
			run = func(ctx context.Context) error { return shared.RunExclusive(ctx, "bot-poller", poller.Run) }
		}
		workers = append(workers, run)
	}
	sealer, err := app.Sealer(cfg, log)
	if err != nil {
		return err
	}
	dispatcher := bot.NewDispatcher(store, sender, signer, pacer, log, bot.DispatcherOptions{
		PollInterval: cfg.Outbox.PollInterval,
		Lease:        cfg.Outbox.Lease,
		Wake:         wake,
		Metrics:      botMetrics,
		Sealer:       sealer,
	})
	workers = append(workers, dispatcher.Run)
	if cfg.Bot.MetricsAddr != "" {
		serveMetrics, err := metricsServer(cfg.Bot.MetricsAddr, reg, log)
		if err != nil {
			return err
		}
		workers = append(workers, serveMetrics)
	}

	log.Info("bot running", slog.Bool("dry_run", *dryRun), slog.String("version", app.Version()))
	// Each worker returns when ctx ends; the first to fail stops the rest.
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for _, w := range workers {
		wg.Go(func() {
			if err := w(ctx); err != nil {
				cancel(err)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil && !errors.Is(err, context.Canceled) {
		return err
	}
	log.Info("stopped")
	return nil
}

// Timeouts of the metrics server: a scrape is one small GET.
const (
	metricsReadTimeout     = 10 * time.Second
	metricsWriteTimeout    = 30 * time.Second
	metricsIdleTimeout     = 60 * time.Second
	metricsShutdownTimeout = 5 * time.Second
)

// metricsServer listens on addr and returns a worker that serves reg at
// /metrics until ctx ends, then shuts the server down.
func metricsServer(addr string, reg *prometheus.Registry, log *slog.Logger) (func(context.Context) error, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("bot.metrics_addr: %w", err)
	}
	h := metrics.Handler(reg, log)
	mux := http.NewServeMux()
	mux.Handle("GET /metrics", h)
	mux.Handle("GET /metrics/", h)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: metricsReadTimeout,
		ReadTimeout:       metricsReadTimeout,
		WriteTimeout:      metricsWriteTimeout,
		IdleTimeout:       metricsIdleTimeout,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("metrics listening", slog.String("addr", ln.Addr().String()))
	return func(ctx context.Context) error {
		served := make(chan error, 1)
		go func() { served <- srv.Serve(ln) }()
		select {
		case err := <-served:
			return fmt.Errorf("metrics server: %w", err)
		case <-ctx.Done():
		}
		shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), metricsShutdownTimeout)
		defer cancel()
		if err := srv.Shutdown(shutdownCtx); err != nil {
			return fmt.Errorf("metrics server shutdown: %w", err)
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("metrics server: %w", err)
		}
		return nil
	}, nil
}
