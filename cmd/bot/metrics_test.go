package main

import (
	"context"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
	"time"

	"tgauth/internal/accounttest"
	"tgauth/internal/metrics/metricstest"
	"tgauth/internal/telegramtest"
)

// metricsURL waits for the bot to log where it serves metrics.
func metricsURL(t *testing.T, logs *accounttest.LogBuffer) string {
	t.Helper()
	re := regexp.MustCompile(`msg="metrics listening" addr=(\S+)`)
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		if m := re.FindStringSubmatch(logs.String()); m != nil {
			return "http://" + m[1] + "/metrics"
		}
		select {
		case <-ctx.Done():
			t.Fatalf("the bot never logged its metrics address:\n%s", logs)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// awaitScrape scrapes url until cond holds, bounded by 10s.
func awaitScrape(t *testing.T, url, what string, cond func(metricstest.Scrape) bool) metricstest.Scrape {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for {
		s := metricstest.Get(t, url)
		if cond(s) {
			return s
		}
		select {
		case <-ctx.Done():
			t.Fatalf("metrics never showed %s; last scrape:\n%v", what, s)
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// The bot serves its metrics on bot.metrics_addr, and they move as it
// delivers the outbox and answers updates.
func TestBotServesMetrics(t *testing.T) {
	tg := telegramtest.New(t, token)
	dbPath := filepath.Join(t.TempDir(), "tgauth.db")
	logs := startBot(t, map[string]string{
		"TGAUTH_DATABASE_PATH":    dbPath,
		"TGAUTH_TELEGRAM_TOKEN":   token,
		"TGAUTH_TELEGRAM_API_URL": tg.URL,
		"TGAUTH_BOT_METRICS_ADDR": "127.0.0.1:0",
	})
	url := metricsURL(t, logs)

	before := metricstest.Get(t, url)
	for _, name := range []string{
		"tgauth_outbox_sends_total", "tgauth_telegram_throttled_total", "tgauth_telegram_send_duration_seconds",
		"tgauth_bot_updates_total", "tgauth_outbox_due_messages", "tgauth_outbox_oldest_due_age_seconds", "go_goroutines",
	} {
		if !before.Has(name) {
			t.Errorf("first scrape lacks %s", name)
		}
	}
	if runtime.GOOS == "linux" && !before.Has("process_start_time_seconds") {
		t.Error("first scrape lacks process_start_time_seconds")
	}

	forgot(t, dbPath, "31337") // "account linked", then the code
	tg.InjectMessage(31337, "/whoami")
	after := awaitScrape(t, url, "two sends and one message", func(s metricstest.Scrape) bool {
		return metricstest.Delta(before, s, "tgauth_outbox_sends_total", "result", "sent") >= 2 &&
			metricstest.Delta(before, s, "tgauth_bot_updates_total", "type", "message") >= 1
	})
	for _, tt := range []struct {
		name   string
		labels []string
		want   float64
	}{
		{"tgauth_outbox_sends_total", []string{"result", "sent"}, 2},
		{"tgauth_outbox_sends_total", []string{"result", "dead"}, 0},
		{"tgauth_telegram_send_duration_seconds_count", nil, 2},
		{"tgauth_bot_updates_total", []string{"type", "message"}, 1},
	} {
		if got := metricstest.Delta(before, after, tt.name, tt.labels...); got != tt.want {
			t.Errorf("%s moved by %v, want %v", metricstest.Key(tt.name, tt.labels...), got, tt.want)
		}
	}
	awaitScrape(t, url, "an empty outbox", func(s metricstest.Scrape) bool {
		v, ok := s.Value("tgauth_outbox_due_messages")
		return ok && v == 0
	})
}

func TestBotMetricsAddrInUse(t *testing.T) {
	tg := telegramtest.New(t, token)
	logs := startBot(t, map[string]string{
		"TGAUTH_DATABASE_PATH":    filepath.Join(t.TempDir(), "tgauth.db"),
		"TGAUTH_TELEGRAM_TOKEN":   token,
		"TGAUTH_TELEGRAM_API_URL": tg.URL,
		"TGAUTH_BOT_METRICS_ADDR": "127.0.0.1:0",
	})
	addr := strings.TrimSuffix(strings.TrimPrefix(metricsURL(t, logs), "http://"), "/metrics")
	err := run(t.Context(), []string{"--dry-run"}, func(string) string { return "" }, []string{
		"TGAUTH_DATABASE_PATH=" + filepath.Join(t.TempDir(), "other.db"),
		"TGAUTH_BOT_METRICS_ADDR=" + addr,
	}, &accounttest.LogBuffer{})
	if err == nil || !strings.Contains(err.Error(), "bot.metrics_addr") {
		t.Fatalf("a second bot on metrics address %s = %v, want an error naming bot.metrics_addr", addr, err)
	}
}
