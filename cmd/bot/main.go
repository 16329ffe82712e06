// Command bot is tgauth's Telegram bot: it delivers the outbox (reset
// codes and account notices) to linked chats and answers the commands and
// buttons people use in Telegram.
//
//	bot [--config FILE]             run (migrating the database first)
//	bot [--config FILE] --dry-run   log what would be sent; needs no token
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"sync"
	"syscall"

	"tgauth/internal/app"
	"tgauth/internal/bot"
	"tgauth/internal/store/sqlite"
)

var _ bot.Outbox = (*sqlite.Store)(nil)

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
	pacer := bot.NewPacer(bot.OverallRate, bot.PerChatGap, nil)

	var (
		sender  bot.Sender = bot.DryRun{Log: log}
		workers []func(context.Context) error
	)
	if !*dryRun {
		client := bot.NewClient(cfg.Telegram.Token, cfg.Telegram.APIURL, &http.Client{})
		sender = client
		poller := bot.NewPoller(client, accounts, signer, log, bot.PollerOptions{Pace: pacer.Wait})
		workers = append(workers, poller.Run)
	}
	dispatcher := bot.NewDispatcher(store, sender, signer, pacer, log, bot.DispatcherOptions{PollInterval: cfg.Outbox.PollInterval})
	workers = append(workers, dispatcher.Run)

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
