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
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"

	"tgauth/internal/app"
	"tgauth/internal/playground"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Environ(), os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "playground:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, args []string, getenv func(string) string, environ []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("playground", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "", "YAML configuration file (the database is the API's)")
	addr := fs.String("addr", "127.0.0.1:8090", "where to serve the page and the stand-in Telegram")
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
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	return playground.Run(ctx, cfg, ln, log)
}
