package main

import (
	"bufio"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tgauth/internal/accounttest"
)

// dial opens a raw connection to s, closed when the test ends.
func (s *server) dial(t *testing.T) net.Conn {
	t.Helper()
	conn, err := net.DialTimeout("tcp", strings.TrimPrefix(s.base, "http://"), 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	return conn
}

// rawRequest writes req on a new connection, reading the answer as it
// goes (the server may answer before it has read everything), and
// returns the response.
func (s *server) rawRequest(t *testing.T, req string) *http.Response {
	t.Helper()
	conn := s.dial(t)
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	written := make(chan error, 1)
	go func() {
		_, err := io.WriteString(conn, req)
		written <- err
	}()
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading the response: %v (write: %v)", err, <-written)
	}
	resp.Body.Close()
	return resp
}

// The api refuses a request whose header is over its 64 KiB limit with
// 431, and serves one just under it: Go's default limit, 1 MiB, would take
// both.
func TestHeaderSizeLimit(t *testing.T) {
	s := start(t, map[string]string{
		"TGAUTH_DATABASE_PATH": filepath.Join(t.TempDir(), "tgauth.db"),
		"TGAUTH_HTTP_ADDR":     "127.0.0.1:0",
	})
	tests := []struct {
		name   string
		size   int
		status int
	}{
		{"100 KiB", 100 << 10, http.StatusRequestHeaderFieldsTooLarge},
		{"60 KiB", 60 << 10, http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := "GET /healthz HTTP/1.1\r\nHost: tgauth\r\nX-Filler: " + strings.Repeat("a", tt.size) + "\r\nConnection: close\r\n\r\n"
			if resp := s.rawRequest(t, req); resp.StatusCode != tt.status {
				t.Errorf("GET /healthz with a %s header = %s, want %d", tt.name, resp.Status, tt.status)
			}
		})
	}
}

// A client that sends part of a request and stalls, or drips it a byte at
// a time (slowloris), has its connection closed once http.read_header_timeout
// has passed since it connected, and holds nothing after.
func TestSlowClientCutOff(t *testing.T) {
	const timeout = 200 * time.Millisecond
	s := start(t, map[string]string{
		"TGAUTH_DATABASE_PATH":            filepath.Join(t.TempDir(), "tgauth.db"),
		"TGAUTH_HTTP_ADDR":                "127.0.0.1:0",
		"TGAUTH_HTTP_READ_HEADER_TIMEOUT": timeout.String(),
	})
	tests := []struct {
		name string
		send func(conn net.Conn) // returns when the server has cut conn
	}{
		{"half a request line, then nothing", func(conn net.Conn) {
			io.WriteString(conn, "GET /heal")
		}},
		{"a header a byte every 20ms", func(conn net.Conn) {
			io.WriteString(conn, "GET /healthz HTTP/1.1\r\nHost: tgauth\r\n")
			for {
				if _, err := io.WriteString(conn, "X"); err != nil {
					return
				}
				select {
				case <-time.After(20 * time.Millisecond):
				case <-t.Context().Done():
					return
				}
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			conn := s.dial(t)
			begin := time.Now()
			// The bound: far above the timeout, far below "never".
			conn.SetDeadline(begin.Add(5 * time.Second))
			go tt.send(conn)
			b, err := io.ReadAll(conn)
			took := time.Since(begin)
			if ne, ok := errors.AsType[net.Error](err); ok && ne.Timeout() {
				t.Fatalf("connection still open after %v, want it closed after about %v", took, timeout)
			}
			// The server's clock starts at accept, a little before ours.
			if took < timeout/2 {
				t.Errorf("connection closed after %v, well before the %v timeout", took, timeout)
			}
			if len(b) > 0 && !strings.HasPrefix(string(b), "HTTP/1.1 4") {
				t.Errorf("got %q, want nothing or a 4xx", b)
			}
			t.Logf("closed after %v", took)
		})
	}
	// The server is still serving.
	if status, _ := s.get(t, "/healthz", ""); status != http.StatusOK {
		t.Errorf("healthz after slow clients = %d", status)
	}
}

// Over a whole flow of both dialects on the real command at debug level,
// with every kind of configured secret set, no password, reset code,
// token, link code or configured secret reaches the log, nor /metrics.
func TestNoSecretsInLogs(t *testing.T) {
	const (
		jwtSecret   = "jwt-s3cret-0123456789abcdef-0123456789"
		botToken    = "123456789:AAH-b0t-t0ken-s3cret_0123456789"
		clientToken = "cl1ent-t0ken-s3cret"
	)
	dbPath := filepath.Join(t.TempDir(), "tgauth.db")
	s := start(t, map[string]string{
		"TGAUTH_DATABASE_PATH":         dbPath,
		"TGAUTH_HTTP_ADDR":             "127.0.0.1:0",
		"TGAUTH_LOG_LEVEL":             "debug",
		"TGAUTH_JWT_SECRET":            jwtSecret,
		"TGAUTH_TELEGRAM_TOKEN":        botToken,
		"TGAUTH_TELEGRAM_BOT_USERNAME": "tgauth_bot",
		"TGAUTH_HTTP_CLIENT_TOKENS":    clientToken,
	})
	secrets := []string{jwtSecret, botToken, clientToken}
	keep := func(v ...string) {
		for _, x := range v {
			if x == "" {
				t.Fatal("an empty secret: a step of the flow failed")
			}
			secrets = append(secrets, x)
			if parts := strings.Split(x, "."); len(parts) == 3 {
				secrets = append(secrets, parts[2])
			}
		}
	}
	call := func(method, path, bearer string, form url.Values) (int, map[string]any) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, s.base+path, strings.NewReader(form.Encode()))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("X-Auth-Token", clientToken)
		return s.send(t, req, bearer)
	}
	post := func(path, bearer string, kv ...string) map[string]any {
		t.Helper()
		form := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			form.Set(kv[i], kv[i+1])
		}
		status, body := call(http.MethodPost, path, bearer, form)
		if status/100 != 2 {
			t.Fatalf("POST %s = %d %v", path, status, body)
		}
		return body
	}
	str := func(m map[string]any, k string) string { v, _ := m[k].(string); return v }

	const pw, pw2, pw3 = "BigBob27!", "N3w-Secret!", "N3wer-Secret!"
	keep(pw, pw2, pw3)
	accounttest.ConfirmChat(t, dbPath, int64(post("/v1/register/", "", "username", "bob", "password", pw, "account", "4242")["id"].(float64)), 4242)
	tok := str(post("/v1/login/", "", "username", "bob", "password", pw), "token")
	keep(tok)
	post("/v1/change-password/", tok, "old_password", pw, "new_password", pw2)
	call(http.MethodPost, "/v1/login/", "", url.Values{"username": {"bob"}, "password": {"Wr0ng-Secret!"}})
	keep("Wr0ng-Secret!")

	post("/v1/auth/register", "", "email", "sb@example.com", "password", pw, "first_name", "Sponge",
		"toc_accepted_at", "2024-07-01T12:34:56Z", "privacy_policy_accepted_at", "2024-07-01T12:34:56Z")
	p := post("/v1/auth/login", "", "email", "sb@example.com", "password", pw)
	keep(str(p, "access"), str(p, "refresh"))
	r := post("/v1/auth/refresh", "", "refresh", str(p, "refresh"))
	keep(str(r, "access"), str(r, "refresh"))
	link := str(post("/v1/telegram/link", str(r, "access"), "password", pw), "link")
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	keep(u.Query().Get("start"))
	post("/v1/auth/sign-out", str(r, "access"), "email", "sb@example.com")

	p2 := post("/v2/auth/login", "", "username", "bob", "password", pw2)
	keep(str(p2, "access"), str(p2, "refresh"))
	post("/v1/auth/forgot_password", "", "username", "bob")
	code := accounttest.OutboxResetCode(t, dbPath)
	keep(code)
	post("/v1/auth/confirm_new_password", "", "username", "bob", "verification_code", code, "new_password", pw3)

	resp, err := http.Get(s.base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	metricsText, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics = %d, %v", resp.StatusCode, err)
	}
	s.shutdown(t)
	logs := s.logText()
	for _, secret := range secrets {
		if strings.Contains(string(metricsText), secret) {
			t.Errorf("/metrics contains the secret %q", secret)
		}
	}
	if strings.Count(logs, "msg=\"http request\"") < 12 {
		t.Fatalf("no request was logged:\n%s", logs)
	}
	for _, secret := range secrets {
		if strings.Contains(logs, secret) {
			t.Errorf("the log contains the secret %q", secret)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs)
	}
}
