package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"

	"tgauth/internal/app"
	"tgauth/internal/httpapi"
)

// server is the API under test: one process, or several replicas on one
// PostgreSQL database that the clients take turns on.
type server struct {
	base  string   // http://host:port (the first replica's)
	bases []string // every replica's; nil: base alone
	pid   int      // the first replica's; 0 when unknown
	desc  string
	close func() error
}

// serverEnv is the configuration every server this program starts runs
// with, over the caller's environment: a fresh database, a loopback port,
// no rate limits (the tests log in far faster than a person), and only
// warnings logged (an access log line per request would be measured too).
// A fixed secret spares the warning about a generated one (and is the same
// for every replica). db.url, when set, is PostgreSQL's database.url;
// cacheTTL is auth.session_cache_ttl.
func serverEnv(environ []string, db dbConfig, addr string, cacheTTL time.Duration, secret []byte) []string {
	set := map[string]string{
		"TGAUTH_DATABASE_PATH":          db.path,
		"TGAUTH_DATABASE_URL":           db.url,
		"TGAUTH_HTTP_ADDR":              addr,
		"TGAUTH_RATELIMIT_ENABLED":      "false",
		"TGAUTH_LOG_LEVEL":              "warn",
		"TGAUTH_JWT_SECRET":             hex.EncodeToString(secret),
		"TGAUTH_AUTH_SESSION_CACHE_TTL": cacheTTL.String(),
		// Unset: a server of its own, answering these clients.
		"TGAUTH_CONFIG":             "",
		"TGAUTH_HTTP_CLIENT_TOKENS": "",
	}
	var env []string
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if _, ok := set[name]; !ok {
			env = append(env, kv)
		}
	}
	for k, v := range set {
		if v != "" {
			env = append(env, k+"="+v)
		}
	}
	return env
}

// dbConfig is the database a server this program starts runs on: SQLite
// at path, or PostgreSQL at url when it is set.
type dbConfig struct{ path, url string }

// newSecret returns a random jwt.secret.
func newSecret() []byte {
	secret := make([]byte, 32)
	_, _ = rand.Read(secret)
	return secret
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// spawn builds ./cmd/api into a temporary folder and runs replicas of it
// there, on a SQLite file in that folder or on PostgreSQL at dbURL.
func spawn(ctx context.Context, environ []string, dbURL string, replicas int, cacheTTL time.Duration, stderr io.Writer) (*server, error) {
	goBin, err := exec.LookPath("go")
	if err != nil {
		return nil, fmt.Errorf("spawn: %w", err)
	}
	out, err := exec.CommandContext(ctx, goBin, "env", "GOMOD").Output()
	if err != nil {
		return nil, fmt.Errorf("spawn: go env GOMOD: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return nil, errors.New("spawn: run from inside the tgauth module")
	}
	dir, err := os.MkdirTemp("", "tgauth-loadtest-")
	if err != nil {
		return nil, fmt.Errorf("spawn: %w", err)
	}
	bin := filepath.Join(dir, "api")
	build := exec.CommandContext(ctx, goBin, "build", "-o", bin, "./cmd/api")
	build.Dir = filepath.Dir(gomod)
	build.Stdout, build.Stderr = stderr, stderr
	if err := build.Run(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("spawn: go build ./cmd/api: %w", err)
	}
	srv := &server{desc: "spawned from ./cmd/api, SQLite in a temporary folder"}
	if dbURL != "" {
		srv.desc = fmt.Sprintf("spawned from ./cmd/api, %d replica(s) on PostgreSQL (-database-url)", replicas)
	}
	var stops []func() error
	srv.close = func() error {
		var errs []error
		for _, stop := range stops {
			errs = append(errs, stop())
		}
		os.RemoveAll(dir)
		return errors.Join(errs...)
	}
	db, secret := dbConfig{path: filepath.Join(dir, "tgauth.db"), url: dbURL}, newSecret()
	for range replicas {
		base, pid, stop, err := startProcess(ctx, bin, dir, serverEnv(environ, db, "", cacheTTL, secret), stderr)
		if err != nil {
			return nil, errors.Join(err, srv.close())
		}
		stops = append(stops, stop)
		srv.bases = append(srv.bases, base)
		if srv.pid == 0 {
			srv.base, srv.pid = base, pid
		}
	}
	return srv, nil
}

// startProcess runs bin in dir with env and a free loopback address, and
// returns once it is ready.
func startProcess(ctx context.Context, bin, dir string, env []string, stderr io.Writer) (base string, pid int, stop func() error, err error) {
	addr, err := freeAddr()
	if err != nil {
		return "", 0, nil, fmt.Errorf("spawn: %w", err)
	}
	cmd := exec.Command(bin) // #nosec G204 -- the binary this program built
	cmd.Dir = dir
	cmd.Env = append(env, "TGAUTH_HTTP_ADDR="+addr)
	cmd.Stdout, cmd.Stderr = stderr, stderr
	if err := cmd.Start(); err != nil {
		return "", 0, nil, fmt.Errorf("spawn: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	stop = func() error {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-exited:
			return err
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			<-exited
			return errors.New("the API did not stop within 30s of SIGTERM; killed it")
		}
	}
	base = "http://" + addr
	if err := waitReady(ctx, base, exited); err != nil {
		return "", 0, nil, errors.Join(err, stop())
	}
	return base, cmd.Process.Pid, stop, nil
}

// startInProcess serves the API's router from this process, wired as
// cmd/api wires it, so that runtime/pprof sees the server's work.
func startInProcess(ctx context.Context, environ []string, dbURL string, cacheTTL time.Duration, stderr io.Writer) (*server, error) {
	dir, err := os.MkdirTemp("", "tgauth-loadtest-")
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	env := serverEnv(environ, dbConfig{path: filepath.Join(dir, "tgauth.db"), url: dbURL}, ln.Addr().String(), cacheTTL, newSecret())
	getenv := func(key string) string {
		for _, kv := range env {
			if k, v, ok := strings.Cut(kv, "="); ok && k == key {
				return v
			}
		}
		return ""
	}
	var closers []func() error
	fail := func(err error) (*server, error) {
		ln.Close()
		for i := len(closers) - 1; i >= 0; i-- {
			_ = closers[i]()
		}
		os.RemoveAll(dir)
		return nil, err
	}
	cfg, log, err := app.Load("", getenv, env, stderr)
	if err != nil {
		return fail(err)
	}
	started, err := app.Start(ctx, cfg, log)
	if err != nil {
		return fail(err)
	}
	closers = append(closers, started.Store.Close)
	gin.SetMode(gin.ReleaseMode)
	handler, err := httpapi.New(started.Service, cfg.HTTP, cfg.RateLimit, log)
	if err != nil {
		return fail(err)
	}
	srv := app.HTTPServer(cfg.HTTP, handler, log)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	stop := func() error {
		defer os.RemoveAll(dir)
		sctx, cancel := context.WithTimeout(context.Background(), cfg.HTTP.ShutdownTimeout)
		defer cancel()
		err := srv.Shutdown(sctx)
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
			err = errors.Join(err, serr)
		}
		return errors.Join(err, started.Store.Close())
	}
	base := "http://" + ln.Addr().String()
	if err := waitReady(ctx, base, nil); err != nil {
		return nil, errors.Join(err, stop())
	}
	return &server{base: base, pid: os.Getpid(), desc: "in this process (-profile: RSS includes the client)", close: stop}, nil
}

// waitReady polls /readyz until it answers 200, the process behind exited
// ends, ctx ends, or 30 seconds pass.
func waitReady(ctx context.Context, base string, exited <-chan error) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	hc := &http.Client{Timeout: 2 * time.Second}
	defer hc.CloseIdleConnections()
	for {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/readyz", nil)
		if err != nil {
			return err
		}
		resp, err := hc.Do(req)
		if err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-exited:
			return fmt.Errorf("the API exited before it was ready: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("%s/readyz did not answer 200: %w", base, ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}
