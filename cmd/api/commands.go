package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"tgauth/internal/account"
	"tgauth/internal/app"
)

const usage = `usage: api [--config FILE] [command]

Commands:
  serve         serve the HTTP API (the default)
  migrate       apply pending database migrations and exit
  user create   create an account: --email E [--username U] [--admin];
                the password is read from standard input, never a flag
  version       print the version and exit

Configuration: defaults, then FILE (or $TGAUTH_CONFIG), then TGAUTH_* variables;
see config.example.yaml.
`

const userUsage = `usage: api [--config FILE] user create --email E [--username U] [--admin]

Creates an account. The password is never a flag: on a terminal it is asked
for twice without echo; otherwise the first line of standard input is used.

Flags:
  --email E      the account's email address (required)
  --username U   an optional username
  --admin        give the account the admin role
`

// command is what the arguments ask for.
type command struct {
	name       string // "serve", "migrate" or "user create"
	configPath string
	create     account.CreateUserParams // for "user create"
}

// parseArgs reads the flags and the command; "version" is answered here
// (name ""), and every argument is checked before the database is touched,
// so that a typo costs nothing.
func parseArgs(args []string, stdout, stderr io.Writer) (command, error) {
	fs := flag.NewFlagSet("api", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, usage) }
	var c command
	fs.StringVar(&c.configPath, "config", "", "YAML configuration file")
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	c.name = "serve"
	var rest []string
	if fs.NArg() > 0 {
		c.name, rest = fs.Arg(0), fs.Args()[1:]
	}
	switch c.name {
	case "version", "serve", "migrate":
		if len(rest) > 0 {
			return c, fmt.Errorf("%s: unexpected arguments %q", c.name, rest)
		}
		if c.name == "version" {
			fmt.Fprintln(stdout, app.Version())
			c.name = ""
		}
		return c, nil
	case "user":
		var err error
		c.name = "user create"
		c.create, err = parseUserCreate(rest, stderr)
		return c, err
	}
	fs.Usage()
	return c, fmt.Errorf("unknown command %q", c.name)
}

// parseUserCreate reads the arguments after "user": "create" and its
// flags. The password is not among them.
func parseUserCreate(args []string, stderr io.Writer) (account.CreateUserParams, error) {
	var p account.CreateUserParams
	if len(args) == 0 || args[0] != "create" {
		fmt.Fprint(stderr, userUsage)
		if len(args) == 0 {
			return p, errors.New("user: missing subcommand")
		}
		return p, fmt.Errorf("user: unknown subcommand %q", args[0])
	}
	fs := flag.NewFlagSet("user create", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, userUsage) }
	fs.StringVar(&p.Email, "email", "", "the account's email address")
	fs.StringVar(&p.Username, "username", "", "an optional username")
	fs.BoolVar(&p.Admin, "admin", false, "give the account the admin role")
	if err := fs.Parse(args[1:]); err != nil {
		return p, fmt.Errorf("user create: %w", err)
	}
	if fs.NArg() > 0 {
		// Not quoted: a stray argument is likely a password.
		return p, errors.New("user create: unexpected arguments (not shown); the password is read from standard input")
	}
	if p.Email == "" {
		fs.Usage()
		return p, errors.New("user create: --email is required")
	}
	return p, nil
}

// userCreate reads the password from stdin and creates the account p
// describes.
func userCreate(ctx context.Context, accounts *account.Service, p account.CreateUserParams, stdin io.Reader, stdout, stderr io.Writer) error {
	pw, err := readPassword(ctx, stdin, stderr)
	if err != nil {
		return fmt.Errorf("user create: %w", err)
	}
	p.Password = pw
	u, err := accounts.CreateUser(ctx, p)
	if ve, ok := errors.AsType[*account.ValidationError](err); ok {
		for _, f := range ve.Fields {
			fmt.Fprintf(stderr, "%s: %s\n", f.Field, f.Message)
		}
		return errors.New("user create: invalid input")
	}
	if ce, ok := errors.AsType[*account.ConflictError](err); ok {
		return fmt.Errorf("user create: %s is already taken", ce.Field)
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "created user %d %s (%s)\n", u.ID, u.Email, u.Role)
	return nil
}

// maxPasswordLine bounds what is read from a non-terminal stdin: far more
// than the longest password the policy allows, so that one too long is
// reported by the policy, not cut.
const maxPasswordLine = 64 << 10

// readPassword reads a password from stdin. From a terminal it prompts on
// prompt twice, without echo, and refuses a mismatch; otherwise it takes
// the first line, without its line ending.
func readPassword(ctx context.Context, stdin io.Reader, prompt io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		return promptPassword(ctx, int(f.Fd()), prompt)
	}
	line, err := bufio.NewReader(io.LimitReader(stdin, maxPasswordLine+1)).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("read password: %w", err)
	}
	if len(line) > maxPasswordLine {
		return "", fmt.Errorf("read password: first line of standard input is longer than %d bytes", maxPasswordLine)
	}
	line = strings.TrimSuffix(line, "\n")
	line = strings.TrimSuffix(line, "\r")
	if line == "" {
		return "", errors.New("read password: standard input is empty; give the password on its first line")
	}
	return line, nil
}

// promptPassword asks for the password twice on the terminal fd. ctx ends
// the wait: main catches Ctrl-C, which would otherwise leave the prompt
// waiting for Enter, with echo off.
func promptPassword(ctx context.Context, fd int, prompt io.Writer) (string, error) {
	state, err := term.GetState(fd)
	if err != nil {
		return "", fmt.Errorf("read password: %w", err)
	}
	type line struct {
		b   []byte
		err error
	}
	ask := func(label string) (string, error) {
		fmt.Fprint(prompt, label)
		read := make(chan line, 1)
		// On cancel this goroutine stays blocked in read(2) until the
		// process, which is about to exit, ends it.
		go func() {
			b, err := term.ReadPassword(fd)
			read <- line{b, err}
		}()
		var l line
		select {
		case l = <-read:
		case <-ctx.Done():
			l.err = errors.Join(ctx.Err(), term.Restore(fd, state))
		}
		fmt.Fprintln(prompt) // the user's Enter was not echoed
		if l.err != nil {
			return "", fmt.Errorf("read password: %w", l.err)
		}
		return string(l.b), nil
	}
	pw, err := ask("Password: ")
	if err != nil {
		return "", err
	}
	if pw == "" {
		return "", errors.New("read password: empty password")
	}
	again, err := ask("Repeat password: ")
	if err != nil {
		return "", err
	}
	if again != pw {
		return "", errors.New("read password: the passwords do not match")
	}
	return pw, nil
}
