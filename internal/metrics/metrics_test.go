package metrics_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"tgauth/internal/metrics"
	"tgauth/internal/metrics/metricstest"
)

func scrape(t *testing.T, h http.Handler) metricstest.Scrape {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	return metricstest.Read(t, rec.Code, rec.Header().Get("Content-Type"), rec.Body)
}

var discard = slog.New(slog.NewTextHandler(io.Discard, nil))

type fakeHasher struct{ inFlight, waiting atomic.Int64 }

func (h *fakeHasher) InFlight() int { return int(h.inFlight.Load()) }
func (h *fakeHasher) Waiting() int  { return int(h.waiting.Load()) }

type fakeOutbox struct {
	due    int
	oldest time.Duration
	err    error
	at     time.Time
}

func (o *fakeOutbox) OutboxStats(ctx context.Context, now time.Time) (int, time.Duration, error) {
	if _, ok := ctx.Deadline(); !ok {
		return 0, 0, errors.New("no deadline on the outbox query")
	}
	o.at = now
	return o.due, o.oldest, o.err
}

func TestGaugesReadOnScrape(t *testing.T) {
	reg := metrics.NewRegistry()
	h := &fakeHasher{}
	if err := metrics.RegisterHasher(reg, h); err != nil {
		t.Fatal(err)
	}
	now := time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
	ob := &fakeOutbox{due: 3, oldest: 1500 * time.Millisecond}
	reg.MustRegister(metrics.NewOutboxCollector(ob, func() time.Time { return now }))
	handler := metrics.Handler(reg, discard)

	h.inFlight.Store(2)
	h.waiting.Store(5)
	s := scrape(t, handler)
	for _, tt := range []struct {
		name string
		want float64
	}{
		{"tgauth_password_hashes_in_flight", 2},
		{"tgauth_password_hashes_waiting", 5},
		{"tgauth_outbox_due_messages", 3},
		{"tgauth_outbox_oldest_due_age_seconds", 1.5},
	} {
		if got, ok := s.Value(tt.name); !ok || got != tt.want {
			t.Errorf("%s = %v, %v, want %v", tt.name, got, ok, tt.want)
		}
	}
	if !ob.at.Equal(now) {
		t.Errorf("outbox queried at %v, want %v", ob.at, now)
	}

	ob.err = errors.New("database is locked")
	s = scrape(t, handler)
	if s.Has("tgauth_outbox_due_messages") || s.Has("tgauth_outbox_oldest_due_age_seconds") {
		t.Error("outbox gauges served although the query failed")
	}
	if _, ok := s.Value("tgauth_password_hashes_in_flight"); !ok {
		t.Error("a failed outbox query took the other series down")
	}
}

func TestHTTPLabels(t *testing.T) {
	reg := metrics.NewRegistry()
	m, err := metrics.NewHTTP(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := metrics.NewHTTP(reg); err == nil {
		t.Error("NewHTTP twice on one registry = nil error, want a duplicate registration")
	}
	m.ObserveRequest("/v1/login/", "POST", 200, 20*time.Millisecond)
	m.ObserveRequest(metrics.Unmatched, "PROPFIND", 404, time.Millisecond)
	m.ObserveRequest(metrics.Unmatched, "GET", 999, time.Millisecond)
	m.RateLimited("/v1/auth/login", metrics.LimitIP)
	s := scrape(t, metrics.Handler(reg, discard))
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tgauth_http_requests_total", []string{"route", "/v1/login/", "method", "POST", "status", "200"}, 1},
		{"tgauth_http_requests_total", []string{"route", "unmatched", "method", "other", "status", "404"}, 1},
		{"tgauth_http_requests_total", []string{"route", "unmatched", "method", "GET", "status", "other"}, 1},
		{"tgauth_http_request_duration_seconds_sum", []string{"route", "/v1/login/", "method", "POST"}, 0.02},
		{"tgauth_rate_limited_total", []string{"route", "/v1/auth/login", "limit", "ip"}, 1},
		{"tgauth_logins_total", []string{"result", "success"}, 0},
	} {
		if got, ok := s.Value(tt.name, tt.labels...); !ok || got != tt.want {
			t.Errorf("%s = %v, %v, want %v", metricstest.Key(tt.name, tt.labels...), got, ok, tt.want)
		}
	}
}

func TestBotSeriesExistAtStart(t *testing.T) {
	reg := metrics.NewRegistry()
	m, err := metrics.NewBot(reg)
	if err != nil {
		t.Fatal(err)
	}
	m.Send(metrics.SendSent)
	m.Throttled()
	m.ObserveSend(100 * time.Millisecond)
	m.Update(metrics.UpdateCallback)
	s := scrape(t, metrics.Handler(reg, discard))
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tgauth_outbox_sends_total", []string{"result", "sent"}, 1},
		{"tgauth_outbox_sends_total", []string{"result", "retried"}, 0},
		{"tgauth_outbox_sends_total", []string{"result", "dead"}, 0},
		{"tgauth_outbox_sends_total", []string{"result", "deferred"}, 0},
		{"tgauth_telegram_throttled_total", nil, 1},
		{"tgauth_telegram_send_duration_seconds_count", nil, 1},
		{"tgauth_bot_updates_total", []string{"type", "message"}, 0},
		{"tgauth_bot_updates_total", []string{"type", "callback"}, 1},
	} {
		if got, ok := s.Value(tt.name, tt.labels...); !ok || got != tt.want {
			t.Errorf("%s = %v, %v, want %v", metricstest.Key(tt.name, tt.labels...), got, ok, tt.want)
		}
	}
}

// A nil *HTTP or *Bot records nothing and does not panic, so parts built
// without metrics need no checks.
func TestNilRecordsNothing(t *testing.T) {
	var h *metrics.HTTP
	h.ObserveRequest("/", "GET", 200, time.Second)
	h.Login(metrics.LoginSuccess)
	h.RateLimited("/", metrics.LimitIP)
	var b *metrics.Bot
	b.Send(metrics.SendSent)
	b.Throttled()
	b.ObserveSend(time.Second)
	b.Update(metrics.UpdateMessage)
}

func TestRegistryHasRuntimeCollectors(t *testing.T) {
	s := scrape(t, metrics.Handler(metrics.NewRegistry(), discard))
	if !s.Has("go_goroutines") {
		t.Error("no go_goroutines")
	}
	for k := range s {
		if strings.HasPrefix(k, "tgauth_") {
			t.Errorf("a new registry holds %s", k)
		}
	}
}
