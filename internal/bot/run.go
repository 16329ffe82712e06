package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tgauth/internal/account"
	"tgauth/internal/app"
	"tgauth/internal/config"
	"tgauth/internal/metrics"
)

// Store is what the bot needs of the database: the outbox it drains and
// its gauges. A store that is also a SharedStore (PostgreSQL's) lets
// several bots run at once.
type Store interface {
	account.Outbox
	metrics.OutboxStats
}

// Deps is what Run wires together besides the configuration: cmd/bot
// builds them with app.Start, tests with theirs.
type Deps struct {
	Store    Store
	Accounts *account.Service
	// CallbackKey signs button data (kept in the database so buttons
	// outlive restarts and work on every replica).
	CallbackKey []byte
	Sealer      *account.Sealer // opens sealed reset codes; nil for none
	// DryRun sends nothing and answers nobody: the outbox is logged and
	// consumed.
	DryRun  bool
	Log     *slog.Logger
	Version string // for the start-up log line
}

// Start opens the store and the service cfg names (app.Start) and runs the
// bot over them, as cmd/bot and the playground do.
func Start(ctx context.Context, cfg config.Config, log *slog.Logger, dryRun bool) error {
	env, err := app.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer env.Store.Close()
	return Run(ctx, cfg, Deps{Store: env.Store, Accounts: env.Service, CallbackKey: env.CallbackKey,
		Sealer: env.Sealer, Log: log, DryRun: dryRun, Version: app.Version()})
}

// Run runs the bot until ctx ends or a part of it fails: the dispatcher,
// the poller (unless DryRun) and the metrics server. On a SharedStore the
// pacing is shared, the dispatcher is woken by the store, and one replica
// at a time polls Telegram; otherwise pacing is in memory and one bot may
// run.
// The configuration gives Telegram's token and address, the dispatcher's
// outbox.poll_interval and outbox.lease, and bot.metrics_addr.
func Run(ctx context.Context, cfg config.Config, d Deps) error {
	if cfg.Telegram.Token == "" && !d.DryRun {
		return errors.New("telegram.token is empty: set it (TGAUTH_TELEGRAM_TOKEN or TGAUTH_TELEGRAM_TOKEN_FILE), or run with --dry-run")
	}
	signer := NewSigner(d.CallbackKey)
	var (
		pacer   = NewPacer(OverallRate, PerChatGap, nil)
		wake    chan struct{}
		workers []func(context.Context) error
	)
	shared, _ := d.Store.(SharedStore) // nil on SQLite
	if shared != nil {
		pacer = NewSharedPacer(shared, OverallRate, PerChatGap, nil, d.Log)
		wake = make(chan struct{}, 1)
		workers = append(workers, func(ctx context.Context) error { return shared.ListenOutbox(ctx, wake) })
	}
	reg := metrics.NewRegistry()
	reg.MustRegister(metrics.NewOutboxCollector(d.Store, time.Now))
	botMetrics, err := metrics.NewBot(reg)
	if err != nil {
		return err
	}

	var sender Sender = DryRun{Log: d.Log}
	if !d.DryRun {
		client := NewClient(cfg.Telegram.Token, cfg.Telegram.APIURL, &http.Client{})
		sender = client
		poller := NewPoller(client, d.Accounts, signer, d.Log, PollerOptions{Pace: pacer.Wait, Sent: pacer.Sent, Metrics: botMetrics})
		run := poller.Run
		if shared != nil {
			// Telegram serves one getUpdates per token: one replica polls,
			// and another takes over when it goes.
			run = func(ctx context.Context) error { return shared.RunExclusive(ctx, "bot-poller", poller.Run) }
		}
		workers = append(workers, run)
	}
	dispatcher := NewDispatcher(d.Store, sender, signer, pacer, d.Log, DispatcherOptions{
		PollInterval: cfg.Outbox.PollInterval,
		Lease:        cfg.Outbox.Lease,
		Wake:         wake,
		Metrics:      botMetrics,
		Sealer:       d.Sealer,
	})
	workers = append(workers, dispatcher.Run)
	if cfg.Bot.MetricsAddr != "" {
		serveMetrics, err := metricsServer(cfg.Bot.MetricsAddr, reg, d.Log)
		if err != nil {
			return err
		}
		workers = append(workers, serveMetrics)
	}

	d.Log.Info("bot running", slog.Bool("dry_run", d.DryRun), slog.String("version", d.Version))
	if d.DryRun {
		d.Log.Warn("dry run: each outbox message is logged (its chat and kind, never its text) and marked sent, so it is consumed; " +
			"nothing reaches Telegram and no command is answered. For a bot to try things with, run the playground (go run ./cmd/playground)")
	}
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
	d.Log.Info("stopped")
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
