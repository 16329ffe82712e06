package main

import (
	"context"
	"net"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tgauth/internal/account"
	"tgauth/internal/accounttest"
	"tgauth/internal/app"
	"tgauth/internal/config"
	"tgauth/internal/telegramtest"
)

const token = "424242:main-test-token-DO-NOT-LOG"

// startBot runs the bot command until the test ends and returns its log.
func startBot(t *testing.T, env map[string]string, args ...string) *accounttest.LogBuffer {
	t.Helper()
	var environ []string
	for k, v := range env {
		environ = append(environ, k+"="+v)
	}
	logs := &accounttest.LogBuffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- run(ctx, args, func(k string) string { return env[k] }, environ, logs) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("bot exited with %v, want a clean stop", err)
			}
		case <-time.After(30 * time.Second):
			t.Error("bot did not stop within 30s of its context ending")
		}
		if strings.Contains(logs.String(), token) {
			t.Errorf("the bot token reached the log:\n%s", logs)
		}
	})
	return logs
}

// forgot asks for a reset code for a user with a chat, through the same
// service the API uses, and returns the code from the outbox row.
func forgot(t *testing.T, dbPath string, chatID string) string {
	t.Helper()
	ctx := t.Context()
	cfg := config.Defaults()
	cfg.Database.Path = dbPath
	log := app.NewLogger(&accounttest.LogBuffer{}, cfg.Log)
	started, err := app.Start(ctx, cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	defer started.Store.Close()
	svc := started.Service
	u, err := svc.Register(ctx, account.RegisterParams{Username: "bob", Password: "BigBob27!", ChatID: chatID})
	if err != nil {
		t.Fatal(err)
	}
	// As the chat's Yes button does.
	if _, err := svc.AnswerChatClaim(ctx, u.ChatID, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if err := svc.ForgotPassword(ctx, account.Name{Username: "bob"}); err != nil {
		t.Fatal(err)
	}
	return accounttest.OutboxResetCode(t, dbPath)
}

func TestBotDeliversResetCode(t *testing.T) {
	tg := telegramtest.New(t, token)
	dbPath := filepath.Join(t.TempDir(), "tgauth.db")
	startBot(t, map[string]string{
		"TGAUTH_DATABASE_PATH":    dbPath,
		"TGAUTH_TELEGRAM_TOKEN":   token,
		"TGAUTH_TELEGRAM_API_URL": tg.URL,
	})
	code := forgot(t, dbPath, "31337")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	var got []string
	for range 2 { // the question whether to link, then the code
		m, err := tg.WaitForMessage(ctx, 31337)
		if err != nil {
			t.Fatalf("messages so far %q: %v", got, err)
		}
		got = append(got, m.Text)
	}
	if !strings.Contains(got[1], code) {
		t.Errorf("second message %q lacks the code %s", got[1], code)
	}
	// The poller answers too.
	tg.InjectMessage(31337, "/whoami")
	m, err := tg.WaitForMessage(ctx, 31337)
	if err != nil || !strings.Contains(m.Text, "bob") {
		t.Errorf("/whoami answered %q, %v", m.Text, err)
	}
}

func TestBotDryRun(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "tgauth.db")
	logs := startBot(t, map[string]string{"TGAUTH_DATABASE_PATH": dbPath}, "--dry-run")
	code := forgot(t, dbPath, "555")
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for !strings.Contains(logs.String(), "kind=reset_code") {
		select {
		case <-ctx.Done():
			t.Fatalf("dry run never logged the reset code's send:\n%s", logs)
		case <-time.After(10 * time.Millisecond):
		}
	}
	if strings.Contains(logs.String(), code) {
		t.Errorf("dry run logged the code:\n%s", logs)
	}
	if !strings.Contains(logs.String(), "marked sent, so it is consumed") {
		t.Errorf("dry run did not say on start what it does with the outbox:\n%s", logs)
	}
}

// Telegram unreachable: the bot starts anyway, keeps trying, and stops
// cleanly.
func TestBotStartsWhileTelegramIsDown(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	down := "http://" + ln.Addr().String()
	ln.Close()
	logs := startBot(t, map[string]string{
		"TGAUTH_DATABASE_PATH":    filepath.Join(t.TempDir(), "tgauth.db"),
		"TGAUTH_TELEGRAM_TOKEN":   token,
		"TGAUTH_TELEGRAM_API_URL": down,
	})
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	for !strings.Contains(logs.String(), "get updates failed") {
		select {
		case <-ctx.Done():
			t.Fatalf("no warning about Telegram being down:\n%s", logs)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

func TestBotNeedsToken(t *testing.T) {
	err := run(t.Context(), nil, func(string) string { return "" }, []string{"TGAUTH_DATABASE_PATH=" + filepath.Join(t.TempDir(), "x.db")}, &accounttest.LogBuffer{})
	if err == nil || !strings.Contains(err.Error(), "telegram.token") || !strings.Contains(err.Error(), "--dry-run") {
		t.Errorf("run without a token = %v, want an error naming telegram.token and --dry-run", err)
	}
}
