// Command playground runs the real bot against a stand-in for Telegram and
// serves a page to chat with it, for trying tgauth without a Telegram
// account:
//
//	playground [--config FILE] [--addr 127.0.0.1:8090]
//
// Run the API beside it on the same database, with
// TGAUTH_TELEGRAM_BOT_USERNAME=tgauth_playground_bot for deep links.
package main

import (
	"context"
	"io"
	"net"
	"os"

	"tgauth/internal/app"
	"tgauth/internal/playground"
)

func main() {
	app.Main("playground", func(ctx context.Context) error {
		return run(ctx, os.Args[1:], os.Getenv, os.Environ(), os.Stderr)
	})
}

func run(ctx context.Context, args []string, getenv func(string) string, environ []string, stderr io.Writer) error {
	fs := app.NewFlags("playground", stderr)
	addr := fs.String("addr", "127.0.0.1:8090", "where to serve the page and the stand-in Telegram")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg, log, err := app.Load(*fs.Config, getenv, environ, stderr)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	return playground.Run(ctx, cfg, ln, log)
}
