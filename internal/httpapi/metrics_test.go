package httpapi

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"tgauth/internal/config"
	"tgauth/internal/metrics"
	"tgauth/internal/metrics/metricstest"
)

// metricsServer is a Server over e's service and store whose registry also
// holds the outbox gauges, as cmd/api wires it, with rate limits on.
func metricsServer(t *testing.T, e *env) *Server {
	t.Helper()
	reg := metrics.NewRegistry()
	reg.MustRegister(metrics.NewOutboxCollector(e.store, e.clock.Now))
	srv, err := New(e.server.accounts, config.Defaults().HTTP, config.RateLimit{Enabled: true},
		slog.New(slog.NewTextHandler(io.Discard, nil)), WithRegistry(reg))
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

func scrape(t *testing.T, srv *Server) (metricstest.Scrape, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	srv.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	return metricstest.Read(t, rec.Code, rec.Header().Get("Content-Type"), strings.NewReader(body)), body
}

// TestMetrics drives the real router and checks that /metrics has the
// named series and that they move by what was done, with no user data in
// any label.
func TestMetrics(t *testing.T) {
	e := newEnv(t)
	srv := metricsServer(t, e)
	e.server = srv // e's helpers now go through srv

	before, _ := scrape(t, srv)
	for _, s := range []struct {
		name   string
		labels []string
	}{
		{"tgauth_logins_total", []string{"result", "success"}},
		{"tgauth_logins_total", []string{"result", "invalid_credentials"}},
		{"tgauth_password_hashes_in_flight", nil},
		{"tgauth_password_hashes_waiting", nil},
		{"tgauth_outbox_due_messages", nil},
		{"tgauth_outbox_oldest_due_age_seconds", nil},
		{"go_goroutines", nil},
	} {
		if _, ok := before.Value(s.name, s.labels...); !ok {
			t.Errorf("first scrape lacks %s", metricstest.Key(s.name, s.labels...))
		}
	}
	if runtime.GOOS == "linux" && !before.Has("process_start_time_seconds") {
		t.Error("first scrape lacks the process collector's process_start_time_seconds")
	}
	if v, _ := before.Value("tgauth_password_hashes_in_flight"); v != 0 {
		t.Errorf("password hashes in flight at rest = %v, want 0", v)
	}

	// One registration (queues a notice), logins of every outcome the
	// service can tell, a 404 whose path holds a secret, and a method no
	// route knows.
	const secretPath = "/v1/nope/spongebob-secret-path"
	e.register("spongebob", goodPassword, spongebobChat)
	e.clock.Advance(30 * time.Second)
	e.login("spongebob", goodPassword)
	wantStatus := func(r request, status int) {
		t.Helper()
		if rec := e.do(r); rec.Code != status {
			t.Fatalf("%s %s = %d %s, want %d", r.method, r.path, rec.Code, rec.Body, status)
		}
	}
	wantStatus(formPost("/v1/login/", nil, "username", "spongebob", "password", "Wrong-Pass1!"), http.StatusUnauthorized)
	wantStatus(formPost("/v1/login/", nil, "username", "spongebob"), http.StatusBadRequest)
	wantStatus(jsonPost(t, "/v2/auth/login/admin", nil, map[string]any{"username": "spongebob", "password": goodPassword}), http.StatusForbidden)
	wantStatus(getReq(secretPath, nil), http.StatusNotFound)
	wantStatus(request{method: "BREW", path: "/v1/me"}, http.StatusMethodNotAllowed)
	// The per-account login bucket holds 10.
	nobody := jsonPost(t, "/v1/auth/login", nil, map[string]any{"email": "nobody@bikinibottom.com", "password": goodPassword})
	for range 10 {
		wantStatus(nobody, http.StatusUnauthorized)
	}
	wantStatus(nobody, http.StatusTooManyRequests)

	after, body := scrape(t, srv)
	moved := []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tgauth_http_requests_total", []string{"route", "/v1/register/", "method", "POST", "status", "201"}, 1},
		{"tgauth_http_requests_total", []string{"route", "/v1/login/", "method", "POST", "status", "200"}, 1},
		{"tgauth_http_requests_total", []string{"route", "/v1/login/", "method", "POST", "status", "401"}, 1},
		{"tgauth_http_requests_total", []string{"route", "/v1/login/", "method", "POST", "status", "400"}, 1},
		{"tgauth_http_requests_total", []string{"route", "/v2/auth/login/admin", "method", "POST", "status", "403"}, 1},
		{"tgauth_http_requests_total", []string{"route", "/v1/auth/login", "method", "POST", "status", "401"}, 10},
		{"tgauth_http_requests_total", []string{"route", "/v1/auth/login", "method", "POST", "status", "429"}, 1},
		{"tgauth_http_requests_total", []string{"route", "unmatched", "method", "GET", "status", "404"}, 1},
		{"tgauth_http_requests_total", []string{"route", "unmatched", "method", "other", "status", "405"}, 1},
		{"tgauth_http_requests_total", []string{"route", "/metrics", "method", "GET", "status", "200"}, 1},
		{"tgauth_http_request_duration_seconds_count", []string{"route", "/v1/login/", "method", "POST"}, 3},
		{"tgauth_http_request_duration_seconds_count", []string{"route", "unmatched", "method", "GET"}, 1},
		{"tgauth_logins_total", []string{"result", "success"}, 1},
		{"tgauth_logins_total", []string{"result", "invalid_credentials"}, 11},
		{"tgauth_logins_total", []string{"result", "invalid"}, 1},
		{"tgauth_logins_total", []string{"result", "forbidden"}, 1},
		{"tgauth_logins_total", []string{"result", "rate_limited"}, 1},
		{"tgauth_logins_total", []string{"result", "error"}, 0},
		{"tgauth_rate_limited_total", []string{"route", "/v1/auth/login", "limit", "account"}, 1},
		// "account linked" at registration, "new sign-in" at the login,
		// none of them sent.
		{"tgauth_outbox_due_messages", nil, 2},
		{"tgauth_outbox_oldest_due_age_seconds", nil, 30},
	}
	for _, m := range moved {
		key := metricstest.Key(m.name, m.labels...)
		if _, ok := after[key]; !ok {
			t.Errorf("second scrape lacks %s; it has %q", key, after.Keys(m.name))
			continue
		}
		if got := metricstest.Delta(before, after, m.name, m.labels...); got != m.want {
			t.Errorf("%s moved by %v, want %v", key, got, m.want)
		}
	}
	if n, ok := after.Value("tgauth_http_request_duration_seconds_bucket", "route", "/v1/login/", "method", "POST", "le", "+Inf"); !ok || n < 3 {
		t.Errorf("latency histogram +Inf bucket of /v1/login/ = %v, %v, want at least 3", n, ok)
	}

	// Labels hold route patterns and fixed values only.
	for _, leak := range []string{"spongebob", "nope", "nobody", "bikinibottom", "192.0.2.1", "BREW", spongebobChat} {
		if strings.Contains(body, leak) {
			t.Errorf("/metrics shows %q:\n%s", leak, grepLines(body, leak))
		}
	}
}

// TestMetricsOutboxDown: when the database does not answer, the scrape
// still serves every other series.
func TestMetricsOutboxDown(t *testing.T) {
	e := newEnv(t)
	srv := metricsServer(t, e)
	e.store.Close()
	s, _ := scrape(t, srv)
	if s.Has("tgauth_outbox_due_messages") {
		t.Error("tgauth_outbox_due_messages served from a closed database")
	}
	if _, ok := s.Value("tgauth_logins_total", "result", "success"); !ok {
		t.Error("a failed outbox query took the other series down")
	}
}

func TestLoginResult(t *testing.T) {
	tests := []struct {
		err  error
		want string
	}{
		{nil, metrics.LoginSuccess},
		{errMalformedBody, metrics.LoginInvalid},
		{errUnsupportedMedia, metrics.LoginInvalid},
		{&rateLimitedError{time.Second}, metrics.LoginRateLimited},
		{errNotReady, metrics.LoginError},
		{io.ErrUnexpectedEOF, metrics.LoginError},
	}
	for _, tt := range tests {
		if got := loginResult(tt.err); got != tt.want {
			t.Errorf("loginResult(%v) = %q, want %q", tt.err, got, tt.want)
		}
	}
}

func grepLines(s, sub string) string {
	var out []string
	for line := range strings.SplitSeq(s, "\n") {
		if strings.Contains(line, sub) {
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}
