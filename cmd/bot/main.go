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
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"tgauth/internal/app"
	"tgauth/internal/bot"
	"tgauth/internal/store/postgres"
)

// If postgres.Store drifts from bot.SharedStore, this stops compiling.
var _ bot.SharedStore = (*postgres.Store)(nil)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Environ(), os.Stderr); err != nil {
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
	env, err := app.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer env.Store.Close()
	return bot.Run(ctx, cfg, bot.Deps{Store: env.Store, Accounts: env.Service, CallbackKey: env.CallbackKey,
		Sealer: env.Sealer, Log: log, DryRun: *dryRun, Version: app.Version()})
}
