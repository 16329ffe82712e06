package main

import (
	"net/http"
	"net/url"
	"path/filepath"
	"testing"

	"tgauth/internal/metrics/metricstest"
)

// The api serves its metrics at /metrics, outbox gauges included, and
// they move with requests.
func TestServeMetrics(t *testing.T) {
	s := start(t, map[string]string{
		"TGAUTH_DATABASE_PATH": filepath.Join(t.TempDir(), "tgauth.db"),
		"TGAUTH_HTTP_ADDR":     "127.0.0.1:0",
	})
	before := metricstest.Get(t, s.base+"/metrics") // counts itself only once answered
	for _, name := range []string{
		"tgauth_logins_total", "tgauth_password_hashes_in_flight",
		"tgauth_password_hashes_waiting", "tgauth_outbox_due_messages", "tgauth_outbox_oldest_due_age_seconds",
		"go_goroutines",
	} {
		if !before.Has(name) {
			t.Errorf("first scrape lacks %s", name)
		}
	}

	if status, body := s.post(t, "/v1/register/", "", url.Values{"username": {"bob"}, "password": {"BigBob27!"}, "account": {"4242"}}); status != http.StatusCreated {
		t.Fatalf("register = %d %v", status, body)
	}
	if status, body := s.post(t, "/v1/login/", "", url.Values{"username": {"bob"}, "password": {"BigBob27!"}}); status != http.StatusOK {
		t.Fatalf("login = %d %v", status, body)
	}
	if status, body := s.post(t, "/v1/login/", "", url.Values{"username": {"bob"}, "password": {"Wrong-Pass1!"}}); status != http.StatusUnauthorized {
		t.Fatalf("wrong login = %d %v", status, body)
	}
	if status, _ := s.get(t, "/no/such/path", ""); status != http.StatusNotFound {
		t.Fatalf("GET /no/such/path = %d, want 404", status)
	}

	after := metricstest.Get(t, s.base+"/metrics/")
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tgauth_logins_total", []string{"result", "success"}, 1},
		{"tgauth_logins_total", []string{"result", "invalid_credentials"}, 1},
		{"tgauth_http_requests_total", []string{"route", "/v1/login/", "method", "POST", "status", "200"}, 1},
		{"tgauth_http_requests_total", []string{"route", "unmatched", "method", "GET", "status", "404"}, 1},
		{"tgauth_http_requests_total", []string{"route", "/metrics", "method", "GET", "status", "200"}, 1},
		// The question to the chat bob named; unanswered, it gets no
		// "new sign-in". No bot runs.
		{"tgauth_outbox_due_messages", nil, 1},
	} {
		if got := metricstest.Delta(before, after, tt.name, tt.labels...); got != tt.want {
			t.Errorf("%s moved by %v, want %v", metricstest.Key(tt.name, tt.labels...), got, tt.want)
		}
	}
}
