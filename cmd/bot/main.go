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
	"io"
	"os"

	"tgauth/internal/app"
	"tgauth/internal/bot"
	"tgauth/internal/store/postgres"
)

// If postgres.Store drifts from bot.SharedStore, this stops compiling.
var _ bot.SharedStore = (*postgres.Store)(nil)

func main() {
	app.Main("bot", func(ctx context.Context) error {
		return run(ctx, os.Args[1:], os.Getenv, os.Environ(), os.Stderr)
	})
}

func run(ctx context.Context, args []string, getenv func(string) string, environ []string, stderr io.Writer) error {
	fs := app.NewFlags("bot", stderr)
	dryRun := fs.Bool("dry-run", false, "log what would be sent (chat and kind, never the text) instead of calling Telegram; consumes the outbox")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, log, err := app.Load(*fs.Config, getenv, environ, stderr)
	if err != nil {
		return err
	}
	return bot.Start(ctx, cfg, log, *dryRun)
}
