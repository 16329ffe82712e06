package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"tgauth/internal/account"
	"tgauth/internal/app"
	"tgauth/internal/config"
	"tgauth/internal/httpapi"
	"tgauth/internal/metrics"
)

// serve serves the HTTP API, and its metrics at /metrics (outbox included),
// until ctx is done, then drains requests in flight.
func serve(ctx context.Context, cfg config.Config, accounts *account.Service, outbox metrics.OutboxStats, log *slog.Logger) error {
	gin.SetMode(gin.ReleaseMode)
	reg := metrics.NewRegistry()
	reg.MustRegister(metrics.NewOutboxCollector(outbox, time.Now))
	handler, err := httpapi.New(accounts, cfg.HTTP, cfg.RateLimit, log, httpapi.WithRegistry(reg))
	if err != nil {
		return err
	}
	srv := app.HTTPServer(cfg.HTTP, handler, log)
	// Requests in flight keep their context through shutdown.
	srv.BaseContext = func(net.Listener) context.Context { return context.WithoutCancel(ctx) }
	ln, err := net.Listen("tcp", cfg.HTTP.Addr)
	if err != nil {
		return err
	}
	log.Info("listening", slog.String("addr", ln.Addr().String()), slog.String("version", app.Version()))

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
