package e2e

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"tgauth/internal/account"
	"tgauth/internal/store/postgres"
	"tgauth/internal/telegramtest"
)

// postgresURL is the server the PostgreSQL tests use. Without one they
// skip, except in CI (CI=true), where .ci/run starts one and a skip would
// hide a failure.
func postgresURL(t *testing.T) string {
	t.Helper()
	u := os.Getenv("TGAUTH_TEST_POSTGRES_URL")
	if u == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("CI=true but TGAUTH_TEST_POSTGRES_URL is unset: .ci/run starts a PostgreSQL for this test")
		}
		t.Skip("TGAUTH_TEST_POSTGRES_URL is unset (bash .ci/postgres start DIR prints one)")
	}
	return u
}

// freshDatabase creates an empty database on the server at base for this
// test alone, dropped at its end, and returns its URL.
func freshDatabase(t *testing.T, base string) string {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Fatalf("connect to TGAUTH_TEST_POSTGRES_URL: %v", err)
	}
	defer conn.Close(context.WithoutCancel(ctx))
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	name := "tgauth_e2e_" + hex.EncodeToString(b)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("drop database %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(base)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

var botRunningRE = regexp.MustCompile(`msg="(bot running)"`)

const replicaToken = "424242:replicas-test-token"

// replicas is two API and two bot processes on one PostgreSQL database
// and the fake Telegram.
type replicas struct {
	dbURL string
	tg    *telegramtest.Server
	apis  [2]*apiClient
	bots  [2]*proc
}

func startReplicas(ctx context.Context, t *testing.T) *replicas {
	t.Helper()
	r := &replicas{dbURL: freshDatabase(t, postgresURL(t))}
	r.tg = telegramtest.New(t, replicaToken, telegramtest.WithUsername("replicas_bot"))
	apiBin, botBin := buildCommand(t, "api"), buildCommand(t, "bot")
	env := func(extra ...string) []string {
		return baseEnv(append([]string{
			"TGAUTH_DATABASE_URL=" + r.dbURL,
			"TGAUTH_RATELIMIT_ENABLED=false",
			"TGAUTH_TELEGRAM_TOKEN=" + replicaToken,
			"TGAUTH_TELEGRAM_API_URL=" + r.tg.URL,
			"TGAUTH_TELEGRAM_BOT_USERNAME=replicas_bot",
			"TGAUTH_OUTBOX_LEASE=3s",
		}, extra...)...)
	}
	// All four start at once on an empty database: migrations and the
	// generated secrets must come out the same for all.
	var apis [2]*proc
	for i := range 2 {
		apis[i] = startProc(t, apiBin, env("TGAUTH_HTTP_ADDR=127.0.0.1:0"))
		r.bots[i] = startProc(t, botBin, env())
	}
	for i := range 2 {
		r.apis[i] = newAPIClient(t, "http://"+apis[i].await(ctx, listeningRE))
		r.bots[i].await(ctx, botRunningRE)
	}
	return r
}

// TestReplicasOnPostgres runs 2 APIs and 2 bots on one PostgreSQL: a
// client alternates between the APIs through every step of an account's
// life, and 1,000 notices reach Telegram at least once within its limits
// while one bot is killed mid-burst.
func TestReplicasOnPostgres(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	r := startReplicas(ctx, t)
	t.Run("account", func(t *testing.T) { r.accountAcrossReplicas(ctx, t) })
	t.Run("burst", func(t *testing.T) { r.burstWithBotKilled(ctx, t) })
}

func (r *replicas) accountAcrossReplicas(ctx context.Context, t *testing.T) {
	a, b := r.apis[0], r.apis[1]
	const (
		email = "pat@example.com"
		chat  = int64(5150)
		pass1 = "BigBob27!"
		pass2 = "N3w-Secret!9"
	)
	a.must(ctx, t, "/v1/auth/register", "", map[string]string{
		"email": email, "password": pass1, "first_name": "Pat", "last_name": "Doe",
		"toc_accepted_at": time.Now().UTC().Format(time.RFC3339), "privacy_policy_accepted_at": time.Now().UTC().Format(time.RFC3339),
	}, http.StatusCreated)
	if status, m, _ := b.post(ctx, "/v1/auth/register", "", map[string]string{
		"email": "PAT@example.com", "password": pass1, "first_name": "P", "last_name": "D",
		"toc_accepted_at": time.Now().UTC().Format(time.RFC3339), "privacy_policy_accepted_at": time.Now().UTC().Format(time.RFC3339),
	}); status != http.StatusConflict {
		t.Errorf("the same email on the other replica = %d %v, want 409", status, m)
	}

	// Tokens issued by one replica are good on the other: one secret,
	// generated once, in the database.
	pair := b.must(ctx, t, "/v2/auth/login", "", map[string]string{"email": email, "password": pass1}, http.StatusOK)
	access, refresh := pair["access"].(string), pair["refresh"].(string)
	r.me(ctx, t, a, access, http.StatusOK)

	// Link the chat through the bot: whichever bot holds the poller.
	link := a.must(ctx, t, "/v1/telegram/link", access, map[string]string{"password": pass1}, http.StatusOK)["link"].(string)
	code := link[strings.Index(link, "start=")+len("start="):]
	r.tg.InjectMessage(chat, "/start "+code)
	r.awaitText(ctx, t, chat, "now linked")

	// Rotation on one replica, reuse detected on the other.
	pair2 := a.must(ctx, t, "/v1/auth/refresh", "", map[string]string{"refresh": refresh}, http.StatusOK)
	b.must(ctx, t, "/v1/auth/refresh", "", map[string]string{"refresh": pair2["refresh"].(string)}, http.StatusOK)
	if status, m, _ := a.post(ctx, "/v1/auth/refresh", "", map[string]string{"refresh": refresh}); status != http.StatusUnauthorized {
		t.Fatalf("reuse of a spent refresh token = %d %v, want 401", status, m)
	}
	r.revoked(ctx, t, b, pair2["access"].(string)) // reuse revoked the session
	r.awaitText(ctx, t, chat, "used twice")

	// Sign-out on one replica ends the session on the other.
	pair = a.must(ctx, t, "/v2/auth/login", "", map[string]string{"email": email, "password": pass1}, http.StatusOK)
	b.must(ctx, t, "/v1/auth/sign-out", pair["access"].(string), map[string]string{"email": email}, http.StatusOK)
	r.revoked(ctx, t, a, pair["access"].(string))

	// Reset: the code asked on one replica, sent by a bot, confirmed on
	// the other; one wrong try counts on both.
	b.must(ctx, t, "/v1/auth/forgot_password", "", map[string]string{"email": email}, http.StatusOK)
	code = resetCode(t, r.awaitText(ctx, t, chat, "password reset code").Text)
	wrong := "000000"
	if code == wrong {
		wrong = "111111"
	}
	if status, m, _ := a.post(ctx, "/v1/auth/confirm_new_password", "", map[string]string{
		"email": email, "verification_code": wrong, "new_password": pass2}); status < 400 || status >= 500 {
		t.Fatalf("confirm with a wrong code = %d %v, want a 4xx", status, m)
	}
	b.must(ctx, t, "/v1/auth/confirm_new_password", "", map[string]string{
		"email": email, "verification_code": code, "new_password": pass2}, http.StatusOK)
	if status, _, _ := a.post(ctx, "/v2/auth/login", "", map[string]string{"email": email, "password": pass1}); status != http.StatusUnauthorized {
		t.Errorf("the old password after the reset = %d, want 401", status)
	}
	a.must(ctx, t, "/v2/auth/login", "", map[string]string{"email": email, "password": pass2}, http.StatusOK)
}

// revocationSeen bounds how long a replica may take to refuse a session
// revoked through another: a session cache's lifetime, with room to spare.
const revocationSeen = 5 * time.Second

// revoked waits until GET /v1/me with token is refused by c, failing the
// test if that takes longer than revocationSeen.
func (r *replicas) revoked(ctx context.Context, t *testing.T, c *apiClient, token string) {
	t.Helper()
	deadline := time.Now().Add(revocationSeen)
	for r.meStatus(ctx, t, c, token) != http.StatusUnauthorized {
		if time.Now().After(deadline) {
			t.Fatalf("GET %s/v1/me still accepts a revoked session after %v", c.base, revocationSeen)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// me checks GET /v1/me's status with token.
func (r *replicas) me(ctx context.Context, t *testing.T, c *apiClient, token string, want int) {
	t.Helper()
	if got := r.meStatus(ctx, t, c, token); got != want {
		t.Fatalf("GET %s/v1/me = %d, want %d", c.base, got, want)
	}
}

func (r *replicas) meStatus(ctx context.Context, t *testing.T, c *apiClient, token string) int {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.base+"/v1/me", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := c.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// awaitText waits for a message to chat holding substr and returns it.
func (r *replicas) awaitText(ctx context.Context, t *testing.T, chat int64, substr string) telegramtest.Sent {
	t.Helper()
	for {
		for _, m := range r.tg.SentTo(chat) {
			if strings.Contains(m.Text, substr) {
				return m
			}
		}
		select {
		case <-ctx.Done():
			t.Fatalf("no message to chat %d holds %q; it got %q", chat, substr, texts(r.tg.SentTo(chat)))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// burstWithBotKilled queues 1,000 notices to 100 chats, kills one bot
// once some went out, and checks that every notice reached Telegram at
// least once, none broke a limit, and every row is settled.
func (r *replicas) burstWithBotKilled(ctx context.Context, t *testing.T) {
	const (
		chats   = 100
		perChat = 10
		total   = chats * perChat
	)
	store, err := postgres.Open(ctx, r.dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	start := len(r.tg.Sent())
	now := time.Now().UTC()
	err = store.InTx(ctx, func(tx account.Tx) error {
		for i := range total {
			payload, err := json.Marshal(account.Notice{Account: fmt.Sprintf("burst-%04d", i), At: now})
			if err != nil {
				return err
			}
			m := &account.OutboxMessage{ChatID: int64(900000 + i%chats), Kind: account.NoticeSignedOut,
				Payload: payload, CreatedAt: now, NextAttemptAt: now}
			if err := tx.InsertOutbox(ctx, m); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.tg.WaitForSent(ctx, start+total/4); err != nil {
		t.Fatal(err)
	}
	r.bots[0].kill()
	killedAt := len(r.tg.Sent()) - start

	// Every row settled, by the bot left (the killed one's claims lapse).
	for {
		due, _, err := store.OutboxStats(ctx, time.Now().Add(time.Hour))
		if err != nil {
			t.Fatal(err)
		}
		if due == 0 {
			break
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d notices still unsent", due)
		case <-time.After(200 * time.Millisecond):
		}
	}
	seen := make(map[string]int, total)
	for _, m := range r.tg.Sent()[start:] {
		if i := strings.Index(m.Text, "burst-"); i >= 0 {
			seen[m.Text[i:i+len("burst-0000")]]++
		}
	}
	dups := 0
	for i := range total {
		n := seen[fmt.Sprintf("burst-%04d", i)]
		if n == 0 {
			t.Errorf("notice burst-%04d never reached Telegram", i)
		}
		dups += max(n-1, 0)
	}
	if v := r.tg.LimitViolations(); v != 0 {
		t.Errorf("Telegram refused %d sends for breaking its limits (accepted sends: %s)", v, paceReport(r.tg.Sent()[start:]))
	}
	t.Logf("%d notices to %d chats: bot 1 killed after %d had gone out; all delivered, %d duplicates; %s",
		total, chats, killedAt, dups, paceReport(r.tg.Sent()[start:]))
}

// paceReport describes how close accepted sends came to Telegram's limits:
// the shortest gap between two sends to one chat, and the most sends in
// any one second.
func paceReport(sent []telegramtest.Sent) string {
	last := map[int64]time.Time{}
	minGap := time.Hour
	most := 0
	for i, m := range sent {
		if t, ok := last[m.ChatID]; ok {
			minGap = min(minGap, m.At.Sub(t))
		}
		last[m.ChatID] = m.At
		j := i
		for j < len(sent) && sent[j].At.Sub(m.At) < time.Second {
			j++
		}
		most = max(most, j-i)
	}
	return fmt.Sprintf("shortest gap in a chat %v, at most %d in a second", minGap, most)
}
