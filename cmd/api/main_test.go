package main

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// server is one run of the api command in this process.
type server struct {
	base string
	stop context.CancelFunc
	done chan error
}

// start runs `api` with the given environment until the test ends or
// stop is called, and returns once it listens.
func start(t *testing.T, env map[string]string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	getenv := func(k string) string { return env[k] }
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := run(ctx, nil, getenv, environ, io.Discard, pw)
		pw.Close()
		done <- err
	}()
	listening := regexp.MustCompile(`msg=listening addr=(\S+)`)
	addr := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
	}()
	select {
	case a := <-addr:
		s := &server{base: "http://" + a, stop: cancel, done: done}
		t.Cleanup(func() { s.shutdown(t) })
		return s
	case err := <-done:
		t.Fatalf("api exited before listening: %v", err)
	case <-time.After(30 * time.Second):
		t.Fatal("api did not listen within 30s")
	}
	return nil
}

func (s *server) shutdown(t *testing.T) {
	t.Helper()
	if s.stop == nil {
		return
	}
	s.stop()
	s.stop = nil
	if err := <-s.done; err != nil {
		t.Errorf("api exited with %v, want a clean shutdown", err)
	}
}

func (s *server) post(t *testing.T, path, token string, form url.Values) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.base+path, strings.NewReader(form.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	return s.send(t, req, token)
}

func (s *server) get(t *testing.T, path, token string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, s.base+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	return s.send(t, req, token)
}

func (s *server) send(t *testing.T, req *http.Request, token string) (int, map[string]any) {
	t.Helper()
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("%s %s: decode: %v", req.Method, req.URL.Path, err)
	}
	return resp.StatusCode, body
}

// With no configuration but where to listen and store, the api serves the
// Watchdog routes, and a token issued before a restart works after it.
func TestServeAndRestart(t *testing.T) {
	env := map[string]string{
		"TGAUTH_DATABASE_PATH": filepath.Join(t.TempDir(), "data", "tgauth.db"),
		"TGAUTH_HTTP_ADDR":     "127.0.0.1:0",
	}
	s := start(t, env)
	status, body := s.post(t, "/v1/register/", "", url.Values{"username": {"bob"}, "password": {"BigBob27!"}, "account": {"4242"}})
	if status != http.StatusCreated || body["message"] != "User bob was created" || body["chat_id"] != 4242.0 {
		t.Fatalf("register = %d %v", status, body)
	}
	status, body = s.post(t, "/v1/login/", "", url.Values{"username": {"bob"}, "password": {"BigBob27!"}})
	tok, _ := body["token"].(string)
	if status != http.StatusOK || tok == "" {
		t.Fatalf("login = %d %v", status, body)
	}
	s.shutdown(t)

	s = start(t, env)
	if status, body := s.get(t, "/v1/me", tok); status != http.StatusOK || body["username"] != "bob" {
		t.Fatalf("me after restart = %d %v, want the token to survive the restart", status, body)
	}
	status, body = s.post(t, "/v1/change-password/", tok, url.Values{"old_password": {"BigBob27!"}, "new_password": {"N3w-Secret!"}})
	if status != http.StatusOK || body["message"] != "Password changed successfully" {
		t.Fatalf("change-password = %d %v", status, body)
	}
}

func TestCommands(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name    string
		args    []string
		env     map[string]string
		wantErr string // "" for success
		wantOut string
	}{
		{"version", []string{"version"}, nil, "", "tgauth"},
		{"migrate", []string{"migrate"}, map[string]string{"TGAUTH_DATABASE_PATH": filepath.Join(dir, "m.db")}, "", ""},
		{"unknown command", []string{"frobnicate"}, nil, `unknown command "frobnicate"`, ""},
		{"extra arguments", []string{"migrate", "now"}, nil, "unexpected arguments", ""},
		{"bad config", []string{"migrate"}, map[string]string{"TGAUTH_JWT_ACCESS_TTL": "-1s"}, "jwt.access_ttl", ""},
		{"postgres not yet", []string{"migrate"}, map[string]string{"TGAUTH_DATABASE_URL": "postgres://u:secretpw@localhost/db"}, "database.url", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var environ []string
			for k, v := range tt.env {
				environ = append(environ, k+"="+v)
			}
			var out, errOut strings.Builder
			err := run(t.Context(), tt.args, func(k string) string { return tt.env[k] }, environ, &out, &errOut)
			if tt.wantErr == "" && err != nil {
				t.Fatalf("run(%q) = %v; stderr %s", tt.args, err, errOut.String())
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("run(%q) = %v, want an error containing %q", tt.args, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error()+errOut.String(), "secretpw") {
				t.Errorf("a secret reached the output: %v %s", err, errOut.String())
			}
			if !strings.Contains(out.String(), tt.wantOut) {
				t.Errorf("stdout = %q, want %q in it", out.String(), tt.wantOut)
			}
		})
	}
}
