package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// server is one run of the api command in this process.
type server struct {
	base string
	stop context.CancelFunc
	done chan error

	logMu   sync.Mutex
	logs    strings.Builder // every line the command logged
	scanned chan struct{}   // closed when the command's stderr ends
}

// logText returns what the command has logged so far; after shutdown,
// all of it.
func (s *server) logText() string {
	if s.stop == nil {
		<-s.scanned
	}
	s.logMu.Lock()
	defer s.logMu.Unlock()
	return s.logs.String()
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
		err := run(ctx, nil, getenv, environ, strings.NewReader(""), io.Discard, pw)
		pw.Close()
		done <- err
	}()
	listening := regexp.MustCompile(`msg=listening addr=(\S+)`)
	addr := make(chan string, 1)
	s := &server{stop: cancel, done: done, scanned: make(chan struct{})}
	go func() {
		defer close(s.scanned)
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			s.logMu.Lock()
			s.logs.WriteString(sc.Text() + "\n")
			s.logMu.Unlock()
			if m := listening.FindStringSubmatch(sc.Text()); m != nil {
				addr <- m[1]
			}
		}
		io.Copy(io.Discard, pr) // a line too long for the scanner
	}()
	select {
	case a := <-addr:
		s.base = "http://" + a
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

func (s *server) postJSON(t *testing.T, path string, body map[string]string) (int, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, s.base+path, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	return s.send(t, req, "")
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
		{"postgres unreachable", []string{"migrate"}, map[string]string{"TGAUTH_DATABASE_URL": "postgres://u:secretpw@127.0.0.1:1/db?connect_timeout=5"}, "open postgres", ""},
		{"postgres bad url", []string{"migrate"}, map[string]string{"TGAUTH_DATABASE_URL": "postgres://u:secretpw@127.0.0.1:x/db"}, "database.url", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var environ []string
			for k, v := range tt.env {
				environ = append(environ, k+"="+v)
			}
			var out, errOut strings.Builder
			err := run(t.Context(), tt.args, func(k string) string { return tt.env[k] }, environ, strings.NewReader(""), &out, &errOut)
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

// userStep is one `api user ...` run.
type userStep struct {
	args       []string // after "user"
	stdin      string
	wantErr    string   // "" for success, else part of the error
	wantOut    string   // all of stdout
	wantStderr []string // lines stderr holds
}

// loginCheck is a login against the database the steps wrote.
type loginCheck struct {
	path, email, password string
	want                  int
}

func TestUserCreate(t *testing.T) {
	const good = "Corr3ct-Horse!"
	usage := "usage: api [--config FILE] user create --email E [--username U] [--admin]"
	tests := []struct {
		name    string
		steps   []userStep
		secrets []string // never in any output, besides each line of stdin
		logins  []loginCheck
	}{
		{
			name: "admin",
			steps: []userStep{{
				args: []string{"create", "--email", "admin@example.com", "--admin"}, stdin: good + "\n",
				wantOut: "created user 1 admin@example.com (admin)\n",
			}},
			logins: []loginCheck{{"/v2/auth/login/admin", "admin@example.com", good, http.StatusOK}},
		},
		{
			name: "plain user, CRLF",
			steps: []userStep{{
				args: []string{"create", "--email", "user@example.com", "--username", "plain"}, stdin: good + "\r\n",
				wantOut: "created user 1 user@example.com (user)\n",
			}},
			logins: []loginCheck{
				{"/v2/auth/login/admin", "user@example.com", good, http.StatusForbidden},
				{"/v2/auth/login", "user@example.com", good, http.StatusOK},
			},
		},
		{
			name: "weak password creates nobody",
			steps: []userStep{
				{
					args: []string{"create", "--email", "weak@example.com"}, stdin: "weakling\n",
					wantErr: "user create: invalid input",
					wantStderr: []string{
						"password: must contain an uppercase letter",
						"password: must contain a digit",
						"password: must contain a special character",
					},
				},
				{args: []string{"create", "--email", "weak@example.com"}, stdin: good, wantOut: "created user 1 weak@example.com (user)\n"},
			},
			logins: []loginCheck{{"/v2/auth/login", "weak@example.com", "weakling", http.StatusUnauthorized}},
		},
		{
			name: "bad email",
			steps: []userStep{{
				args: []string{"create", "--email", "not-an-email"}, stdin: good,
				wantErr: "user create: invalid input", wantStderr: []string{"email: must be an email address"},
			}},
		},
		{
			name: "duplicate email, other case",
			steps: []userStep{
				{args: []string{"create", "--email", "dup@example.com"}, stdin: good, wantOut: "created user 1 dup@example.com (user)\n"},
				{args: []string{"create", "--email", "DUP@Example.COM", "--admin"}, stdin: "An0ther-Secret!\n", wantErr: "user create: email is already taken"},
			},
			logins: []loginCheck{{"/v2/auth/login/admin", "dup@example.com", good, http.StatusForbidden}},
		},
		{
			name: "duplicate username",
			steps: []userStep{
				{args: []string{"create", "--email", "a@example.com", "--username", "sam"}, stdin: good, wantOut: "created user 1 a@example.com (user)\n"},
				{args: []string{"create", "--email", "b@example.com", "--username", "sam"}, stdin: good, wantErr: "user create: username is already taken"},
			},
		},
		{
			name:  "empty stdin",
			steps: []userStep{{args: []string{"create", "--email", "e@example.com"}, stdin: "", wantErr: "standard input is empty"}},
		},
		{
			name:  "empty first line",
			steps: []userStep{{args: []string{"create", "--email", "e@example.com"}, stdin: "\n" + good + "\n", wantErr: "standard input is empty"}},
		},
		{
			name:    "password as an argument",
			steps:   []userStep{{args: []string{"create", "--email", "e@example.com", good}, wantErr: "user create: unexpected arguments"}},
			secrets: []string{good},
		},
		{
			name:    "password as a flag",
			steps:   []userStep{{args: []string{"create", "--email", "e@example.com", "--password", good}, wantErr: "flag provided but not defined: -password"}},
			secrets: []string{good},
		},
		{
			name:  "missing email",
			steps: []userStep{{args: []string{"create", "--admin"}, stdin: good, wantErr: "user create: --email is required", wantStderr: []string{usage}}},
		},
		{
			name:  "no subcommand",
			steps: []userStep{{args: nil, stdin: good, wantErr: "user: missing subcommand", wantStderr: []string{usage}}},
		},
		{
			name:  "unknown subcommand",
			steps: []userStep{{args: []string{"delete"}, stdin: good, wantErr: `user: unknown subcommand "delete"`, wantStderr: []string{usage}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			env := map[string]string{
				"TGAUTH_DATABASE_PATH": filepath.Join(t.TempDir(), "tgauth.db"),
				"TGAUTH_HTTP_ADDR":     "127.0.0.1:0",
			}
			var environ []string
			for k, v := range env {
				environ = append(environ, k+"="+v)
			}
			for i, st := range tt.steps {
				args := append([]string{"user"}, st.args...)
				var out, errOut strings.Builder
				err := run(t.Context(), args, func(k string) string { return env[k] }, environ, strings.NewReader(st.stdin), &out, &errOut)
				switch {
				case st.wantErr == "" && err != nil:
					t.Fatalf("step %d: run(%q) = %v; stderr:\n%s", i, args, err, errOut.String())
				case st.wantErr != "" && (err == nil || !strings.Contains(err.Error(), st.wantErr)):
					t.Fatalf("step %d: run(%q) = %v, want an error containing %q", i, args, err, st.wantErr)
				}
				if got := out.String(); got != st.wantOut {
					t.Errorf("step %d: stdout = %q, want %q", i, got, st.wantOut)
				}
				for _, w := range st.wantStderr {
					if !strings.Contains(errOut.String(), w) {
						t.Errorf("step %d: stderr lacks %q:\n%s", i, w, errOut.String())
					}
				}
				all := out.String() + errOut.String()
				if err != nil {
					all += err.Error()
				}
				secrets := append(strings.Fields(st.stdin), tt.secrets...)
				for _, s := range secrets {
					if strings.Contains(all, s) {
						t.Errorf("step %d: the password %q reached the output:\n%s", i, s, all)
					}
				}
			}
			if len(tt.logins) == 0 {
				return
			}
			s := start(t, env)
			for _, l := range tt.logins {
				status, body := s.postJSON(t, l.path, map[string]string{"email": l.email, "password": l.password})
				if status != l.want {
					t.Errorf("POST %s as %s = %d %v, want %d", l.path, l.email, status, body, l.want)
					continue
				}
				if status == http.StatusOK && (body["access"] == nil || body["access"] == "" || body["refresh"] == nil || body["refresh"] == "") {
					t.Errorf("POST %s as %s = %v, want access and refresh tokens", l.path, l.email, body)
				}
			}
		})
	}
}

// A password piped from a file is read without a prompt: only a terminal
// gets one.
func TestReadPasswordFromFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "pw")
	if err := os.WriteFile(path, []byte("Corr3ct-Horse!\nignored\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var prompt strings.Builder
	got, err := readPassword(t.Context(), f, &prompt)
	if err != nil || got != "Corr3ct-Horse!" {
		t.Fatalf("readPassword(file) = %q, %v, want %q", got, err, "Corr3ct-Horse!")
	}
	if prompt.Len() != 0 {
		t.Errorf("readPassword(file) prompted %q, want no prompt", prompt.String())
	}
}
