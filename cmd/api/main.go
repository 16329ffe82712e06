// Command api serves tgauth's HTTP API.
//
//	api [--config FILE]            serve (migrating the database first)
//	api [--config FILE] migrate    apply pending migrations and exit
//	api [--config FILE] user create --email E [--username U] [--admin]
//	                               create an account; the password comes
//	                               from standard input, never a flag
//	api version                    print the version and exit
package main

import (
	"context"
	"io"
	"os"

	"tgauth/internal/app"
)

func main() {
	app.Main("api", func(ctx context.Context) error {
		return run(ctx, os.Args[1:], os.Getenv, os.Environ(), os.Stdin, os.Stdout, os.Stderr)
	})
}

func run(ctx context.Context, args []string, getenv func(string) string, environ []string, stdin io.Reader, stdout, stderr io.Writer) error {
	c, err := parseArgs(args, stdout, stderr)
	if err != nil || c.name == "" {
		return err
	}
	cfg, log, err := app.Load(c.configPath, getenv, environ, stderr)
	if err != nil {
		return err
	}
	if c.name == "migrate" {
		store, err := app.OpenStore(ctx, cfg.Database, log) // migrates
		if err != nil {
			return err
		}
		return store.Close()
	}
	env, err := app.Start(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer env.Store.Close()
	if c.name == "user create" {
		return userCreate(ctx, env.Service, c.create, stdin, stdout, stderr)
	}
	return serve(ctx, cfg, env.Service, env.Store, log)
}
