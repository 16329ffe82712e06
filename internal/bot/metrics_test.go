package bot

import (
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"tgauth/internal/account"
	"tgauth/internal/metrics"
	"tgauth/internal/metrics/metricstest"
	"tgauth/internal/telegramtest"
)

func newBotMetrics(t *testing.T) (*prometheus.Registry, *metrics.Bot) {
	t.Helper()
	reg := metrics.NewRegistry()
	m, err := metrics.NewBot(reg)
	if err != nil {
		t.Fatal(err)
	}
	return reg, m
}

func scrapeRegistry(t *testing.T, reg *prometheus.Registry) (metricstest.Scrape, string) {
	t.Helper()
	rec := httptest.NewRecorder()
	metrics.Handler(reg, slog.New(slog.NewTextHandler(io.Discard, nil))).
		ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	body := rec.Body.String()
	return metricstest.Read(t, rec.Code, rec.Header().Get("Content-Type"), strings.NewReader(body)), body
}

type wantSample struct {
	name   string
	labels []string
	want   float64
}

func checkSamples(t *testing.T, s metricstest.Scrape, want []wantSample) {
	t.Helper()
	for _, w := range want {
		if got, ok := s.Value(w.name, w.labels...); !ok || got != w.want {
			t.Errorf("%s = %v (present %v), want %v", metricstest.Key(w.name, w.labels...), got, ok, w.want)
		}
	}
}

// The dispatcher counts what becomes of each message and each 429, and
// the outbox gauges drain with the outbox.
func TestDispatcherMetrics(t *testing.T) {
	reg, m := newBotMetrics(t)
	e := newDispatchEnv(t, DispatcherOptions{Metrics: m})
	reg.MustRegister(metrics.NewOutboxCollector(e.store, time.Now))
	e.tg.FailNext("sendMessage", telegramtest.TooManyRequests(1))
	e.tg.BlockChat(2)

	throttled := e.queue(9, account.NoticeSignedOut, account.Notice{})
	blocked := e.queue(2, account.NoticeSignedOut, account.Notice{})
	before, _ := scrapeRegistry(t, reg)
	checkSamples(t, before, []wantSample{
		{"tgauth_outbox_due_messages", nil, 2},
		{"tgauth_outbox_sends_total", []string{"result", "sent"}, 0},
		{"tgauth_telegram_throttled_total", nil, 0},
	})

	e.run()
	e.waitFor(9)
	e.await(throttled, "sent", func(r rowState) bool { return r.sent })
	e.await(blocked, "dead", func(r rowState) bool { return r.dead })

	after, body := scrapeRegistry(t, reg)
	checkSamples(t, after, []wantSample{
		{"tgauth_outbox_sends_total", []string{"result", "sent"}, 1},
		{"tgauth_outbox_sends_total", []string{"result", "retried"}, 1}, // the 429
		{"tgauth_outbox_sends_total", []string{"result", "dead"}, 1},
		{"tgauth_telegram_throttled_total", nil, 1},
		{"tgauth_telegram_send_duration_seconds_count", nil, 3}, // 429, 403, 200
		{"tgauth_outbox_due_messages", nil, 0},
		{"tgauth_outbox_oldest_due_age_seconds", nil, 0},
	})
	if _, ok := after.Value("tgauth_outbox_sends_total", "result", "deferred"); !ok {
		t.Error("no tgauth_outbox_sends_total{result=\"deferred\"}")
	}
	for _, chat := range []int64{9, 2} {
		if strings.Contains(body, `"`+strconv.FormatInt(chat, 10)+`"`) {
			t.Errorf("a chat id is a label value:\n%s", body)
		}
	}
}

// The poller counts updates by type and the 429s its replies meet.
func TestPollerMetrics(t *testing.T) {
	reg, m := newBotMetrics(t)
	e := newEnv(t)
	opts := testPollerOptions
	opts.Metrics = m
	e.run(opts)

	e.say(1, "/help")
	e.tg.FailNext("sendMessage", telegramtest.TooManyRequests(1))
	e.say(3, "/help")                    // waited out once
	e.press(1, 1, "not-a-signed-button") // then a /help of its barrier

	s, _ := scrapeRegistry(t, reg)
	checkSamples(t, s, []wantSample{
		{"tgauth_bot_updates_total", []string{"type", "message"}, 3},
		{"tgauth_bot_updates_total", []string{"type", "callback"}, 1},
		{"tgauth_bot_updates_total", []string{"type", "other"}, 0},
		{"tgauth_telegram_throttled_total", nil, 1},
	})
}
