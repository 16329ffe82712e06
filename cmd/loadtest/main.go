// Command loadtest measures a tgauth API the way the performance targets
// are stated: side by side in one run, one test after another.
//
//	go run ./cmd/loadtest -spawn
//	go run ./cmd/loadtest -addr http://127.0.0.1:8080 -pid $(pgrep -n api)
//
// It prepares users and sessions over HTTP (NOWATCH register and login),
// then runs GET /healthz (the baseline), GET /v1/me with many sessions'
// access tokens, POST /v1/auth/login next to the machine's argon2id rate
// (timed in this process), POST /v1/auth/refresh with 8 clients each
// rotating its own chain, and a storm of 1,000 logins sent at once. It
// prints a table and the server's resident memory, read from
// /proc/<pid>/status.
//
// With -spawn it builds ./cmd/api, runs it on a free loopback port with a
// database in a temporary folder and rate limits off, and stops it at the
// end. With -profile DIR it serves the same router inside this process
// instead and writes one CPU profile per test into DIR (inspect with
// go tool pprof -top DIR/me.pprof); the client's work then shows in the
// profiles and in the RSS, so take figures from a -spawn run.
//
// A server given with -addr must run with ratelimit.enabled false
// (TGAUTH_RATELIMIT_ENABLED=false), or the logins are refused with 429.
//
// With -database-url the server it starts runs on that PostgreSQL
// database, and with -replicas N (and -spawn) N API processes do, the
// clients taking turns on them; CPU and RSS figures are the first one's.
//
// A server it starts caches sessions for -session-cache-ttl (1s;
// auth.session_cache_ttl, off by default in tgauth's configuration).
//
// Flags: -duration (10s) per timed test; -clients (16) for /healthz and
// /v1/me; -login-clients and -refresh-clients (8 each); -storm (1000);
// -only healthz,me,... to run some tests; -pid with -addr for the RSS.
//
// The login target's baseline is password.DefaultParams hashed by this
// tree's password.Hasher in this process: CPUs ÷ the median time of one
// hash, timed before and after the logins. A second row shows what one
// hash per CPU at once delivers, which is what the CPUs really give.
//
// Besides rps, the report says how much CPU the server, this client and
// other processes used during each test (from /proc), and the server's
// CPU time per answer, which other work on the machine disturbs less.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime"
	"slices"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr)
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "loadtest:", err)
		os.Exit(1)
	}
}

// options are the command line's settings.
type options struct {
	addr           string
	duration       time.Duration
	clients        int
	loginClients   int
	refreshClients int
	storm          int
	users          int
	sessions       int
	pid            int
	spawn          bool
	profileDir     string
	// sessionCacheTTL is auth.session_cache_ttl of a server this program
	// starts.
	sessionCacheTTL time.Duration
	// databaseURL, when set, runs the server this program starts on
	// PostgreSQL; replicas is how many API processes -spawn starts on it.
	databaseURL string
	replicas    int
	only        map[string]bool // tests to run; nil: all
}

// testNames are the tests in the order they run.
var testNames = []string{"healthz", "me", "login", "refresh", "storm"}

// runs reports whether the test name is to run.
func (o options) runs(name string) bool { return o.only == nil || o.only[name] }

func parseFlags(args []string, stderr io.Writer) (options, error) {
	var o options
	fs := flag.NewFlagSet("loadtest", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.addr, "addr", "http://127.0.0.1:8080", "base URL of a running API (ignored with -spawn or -profile)")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long each timed test runs, after a short warm-up")
	fs.IntVar(&o.clients, "clients", 16, "concurrent clients for GET /healthz and GET /v1/me")
	fs.IntVar(&o.loginClients, "login-clients", 8, "concurrent clients for POST /v1/auth/login")
	fs.IntVar(&o.refreshClients, "refresh-clients", 8, "concurrent clients for POST /v1/auth/refresh, each rotating its own chain")
	fs.IntVar(&o.storm, "storm", 1000, "logins sent at once in the storm (0 skips it)")
	fs.IntVar(&o.users, "users", 8, "accounts to register")
	fs.IntVar(&o.sessions, "sessions", 64, "sessions whose access tokens GET /v1/me cycles through")
	fs.IntVar(&o.pid, "pid", 0, "server process id, to read its RSS (set by -spawn and -profile)")
	fs.BoolVar(&o.spawn, "spawn", false, "build ./cmd/api, run it on a free port with a temporary database, and stop it at the end")
	fs.DurationVar(&o.sessionCacheTTL, "session-cache-ttl", time.Second, "auth.session_cache_ttl of the server -spawn or -profile starts (0: off, the config default)")
	fs.StringVar(&o.databaseURL, "database-url", "", "run the server -spawn or -profile starts on this PostgreSQL database instead of a temporary SQLite file")
	fs.IntVar(&o.replicas, "replicas", 1, "API processes -spawn starts on the -database-url database; the clients take turns on them")
	fs.StringVar(&o.profileDir, "profile", "", "serve the router in this process and write a CPU profile per test into this folder")
	only := fs.String("only", "", "comma-separated tests to run, of "+strings.Join(testNames, ",")+" (default all)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if *only != "" {
		o.only = make(map[string]bool)
		for name := range strings.SplitSeq(*only, ",") {
			if !slices.Contains(testNames, name) {
				return o, fmt.Errorf("-only: unknown test %q", name)
			}
			o.only[name] = true
		}
	}
	switch {
	case fs.NArg() > 0:
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	case o.spawn && o.profileDir != "":
		return o, errors.New("-spawn and -profile exclude each other")
	case o.duration <= 0:
		return o, errors.New("-duration must be positive")
	case o.clients < 1 || o.loginClients < 1 || o.refreshClients < 1 || o.users < 1 || o.sessions < 1:
		return o, errors.New("-clients, -login-clients, -refresh-clients, -users and -sessions must be at least 1")
	case o.replicas < 1:
		return o, errors.New("-replicas must be at least 1")
	case o.replicas > 1 && (!o.spawn || o.databaseURL == ""):
		return o, errors.New("-replicas needs -spawn and -database-url: replicas share one PostgreSQL database")
	case o.sessionCacheTTL < 0:
		return o, errors.New("-session-cache-ttl must not be negative")
	case o.storm < 0:
		return o, errors.New("-storm must not be negative")
	}
	return o, nil
}

func run(ctx context.Context, args []string, environ []string, stdout, stderr io.Writer) error {
	o, err := parseFlags(args, stderr)
	if err != nil {
		return err
	}

	var srv *server
	switch {
	case o.spawn:
		fmt.Fprintln(stderr, "building ./cmd/api and starting it...")
		srv, err = spawn(ctx, environ, o.databaseURL, o.replicas, o.sessionCacheTTL, stderr)
	case o.profileDir != "":
		if err := os.MkdirAll(o.profileDir, 0o755); err != nil {
			return err
		}
		srv, err = startInProcess(ctx, environ, o.databaseURL, o.sessionCacheTTL, stderr)
	default:
		srv = &server{base: o.addr, pid: o.pid, desc: "given with -addr", close: func() error { return nil }}
		err = waitReady(ctx, srv.base, nil)
	}
	if err != nil {
		return err
	}
	defer func() {
		if err := srv.close(); err != nil {
			fmt.Fprintln(stderr, "loadtest: stopping the server:", err)
		}
	}()
	prof := &profiler{dir: o.profileDir}

	rep := &report{atStart: readMem(srv.pid)}
	printHeader(stdout, o, srv)
	b := newBench(srv, o, stderr)
	defer b.close()

	fmt.Fprintf(stderr, "preparing %d users and %d sessions...\n", o.users, o.sessions+o.refreshClients)
	if err := b.prepare(ctx); err != nil {
		return fmt.Errorf("prepare: %w", err)
	}

	step := func(name string, f func() *result) {
		if ctx.Err() != nil || !o.runs(name) {
			return
		}
		fmt.Fprintf(stderr, "running %s...\n", name)
		prof.start(name, stderr)
		r := f()
		prof.stop()
		rep.add(r)
	}
	step("healthz", func() *result { return b.healthz(ctx) })
	step("me", func() *result { return b.me(ctx) })
	// The hash is timed right before and right after the logins, with the
	// server idle, so that both see the same machine.
	var hashes []time.Duration
	if ctx.Err() == nil && o.runs("login") {
		fmt.Fprintln(stderr, "timing argon2id in this process...")
		rep.hash, hashes = timeHash(ctx, nil)
	}
	step("login", func() *result { return b.login(ctx) })
	if ctx.Err() == nil && o.runs("login") {
		fmt.Fprintln(stderr, "timing argon2id in this process again...")
		rep.hash, _ = timeHash(ctx, hashes)
	}
	step("refresh", func() *result { return b.refresh(ctx) })
	if ctx.Err() != nil {
		return ctx.Err()
	}
	rep.afterRuns = readMem(srv.pid)
	if o.storm > 0 && o.runs("storm") {
		step("storm", func() *result {
			r, peak := b.storm(ctx, srv.pid)
			rep.storm = peak
			return r
		})
		rep.afterStorm = readMem(srv.pid)
	}
	prof.heap(stderr)
	if err := ctx.Err(); err != nil {
		return err
	}
	rep.print(stdout, o)
	fmt.Fprintf(stdout, "load average at the end: %s\n", loadAvg())
	return nil
}

// printHeader says what ran where: the machine, and that the client
// shares it with the server.
func printHeader(w io.Writer, o options, srv *server) {
	pid := "unknown (give -pid for RSS)"
	if srv.pid > 0 {
		pid = fmt.Sprint(srv.pid)
	}
	fmt.Fprintf(w, "tgauth load test, %s\n", time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "machine: %d CPUs (%s), GOMAXPROCS %d, %s %s/%s, Linux %s\n",
		runtime.NumCPU(), cpuModel(), runtime.GOMAXPROCS(0), runtime.Version(), runtime.GOOS, runtime.GOARCH, kernel())
	fmt.Fprintf(w, "server: %s, %s, pid %s\n", srv.base, srv.desc, pid)
	if o.spawn || o.profileDir != "" {
		fmt.Fprintf(w, "server config: auth.session_cache_ttl %s (-session-cache-ttl), rate limits off\n", o.sessionCacheTTL)
	}
	fmt.Fprintf(w, "load average at start: %s (anything else running skews the figures)\n", loadAvg())
	fmt.Fprintf(w, "note: this client runs on the same CPUs as the server; its own work is counted against the server's figures.\n")
	fmt.Fprintf(w, "each timed test: %s after a warm-up of %s; rps counts 2xx answers.\n\n", o.duration, warmup(o.duration))
}

// warmup is the unrecorded start of a timed test: connections open and the
// server's caches fill.
func warmup(d time.Duration) time.Duration {
	return min(time.Second, d/10)
}
