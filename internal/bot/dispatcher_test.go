package bot

import (
	"context"
	"database/sql"
	"encoding/json"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"tgauth/internal/account"
	"tgauth/internal/accounttest"
	"tgauth/internal/store/sqlite"
	"tgauth/internal/telegramtest"
)

const dispatchToken = "123456:dispatcher-test-token-SECRET"

// dispatchEnv is a dispatcher over a real SQLite file and the fake
// Telegram, through the real Client.
type dispatchEnv struct {
	t     *testing.T
	path  string
	store *sqlite.Store
	tg    *telegramtest.Server
	logs  *logBuffer
	disp  *Dispatcher
}

func newDispatchEnv(t *testing.T, opts DispatcherOptions, tgOpts ...telegramtest.Option) *dispatchEnv {
	t.Helper()
	path := filepath.Join(t.TempDir(), "tgauth.db")
	st, err := sqlite.Open(t.Context(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.Migrate(t.Context()); err != nil {
		t.Fatal(err)
	}
	tg := telegramtest.New(t, dispatchToken, tgOpts...)
	logs := &logBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	client := NewClient(dispatchToken, tg.URL, &http.Client{})
	if opts.MinBackoff == 0 {
		opts.MinBackoff = 50 * time.Millisecond
	}
	if opts.PollInterval == 0 {
		opts.PollInterval = 20 * time.Millisecond
	}
	d := NewDispatcher(st, client, NewSigner([]byte("callback-key")), NewPacer(OverallRate, PerChatGap, nil), log, opts)
	e := &dispatchEnv{t: t, path: path, store: st, tg: tg, logs: logs, disp: d}
	t.Cleanup(func() {
		if strings.Contains(logs.String(), dispatchToken) || strings.Contains(logs.String(), "dispatcher-test-token") {
			t.Errorf("the bot token reached the log:\n%s", logs)
		}
	})
	return e
}

// run starts the dispatcher until the test ends.
func (e *dispatchEnv) run() {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- e.disp.Run(ctx) }()
	e.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			e.t.Errorf("Run = %v, want nil", err)
		}
	})
}

// queue writes a notice for chatID into the outbox.
func (e *dispatchEnv) queue(chatID int64, kind account.NoticeKind, n account.Notice) int64 {
	e.t.Helper()
	if n.Account == "" {
		n.Account = "bob"
	}
	if n.At.IsZero() {
		n.At = time.Now().UTC()
	}
	payload, err := json.Marshal(n)
	if err != nil {
		e.t.Fatal(err)
	}
	m := &account.OutboxMessage{ChatID: chatID, Kind: kind, Payload: payload, CreatedAt: n.At, NextAttemptAt: n.At}
	if err := e.store.InTx(e.t.Context(), func(tx account.Tx) error { return tx.InsertOutbox(e.t.Context(), m) }); err != nil {
		e.t.Fatal(err)
	}
	return m.ID
}

type rowState struct {
	sent, dead bool
	attempts   int
	lastError  string
	payload    string
	messageID  int
}

func (e *dispatchEnv) row(id int64) rowState {
	e.t.Helper()
	db := accounttest.OpenRead(e.t, e.path)
	var (
		r         rowState
		sent      sql.NullString
		dead      sql.NullString
		lastError sql.NullString
		msgID     sql.NullInt64
	)
	err := db.QueryRow(`SELECT sent_at, dead_at, attempts, last_error, payload, telegram_message_id FROM outbox WHERE id = ?`, id).
		Scan(&sent, &dead, &r.attempts, &lastError, &r.payload, &msgID)
	if err != nil {
		e.t.Fatal(err)
	}
	r.sent, r.dead, r.lastError, r.messageID = sent.Valid, dead.Valid, lastError.String, int(msgID.Int64)
	return r
}

// await polls the row until cond holds, bounded by the test's context.
func (e *dispatchEnv) await(id int64, what string, cond func(rowState) bool) rowState {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 20*time.Second)
	defer cancel()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		r := e.row(id)
		if cond(r) {
			return r
		}
		select {
		case <-ctx.Done():
			e.t.Fatalf("outbox row %d never became %s: %+v", id, what, r)
		case <-tick.C:
		}
	}
}

func (e *dispatchEnv) waitFor(chatID int64) telegramtest.Sent {
	e.t.Helper()
	ctx, cancel := context.WithTimeout(e.t.Context(), 20*time.Second)
	defer cancel()
	m, err := e.tg.WaitForMessage(ctx, chatID)
	if err != nil {
		e.t.Fatalf("no message to chat %d: %v", chatID, err)
	}
	return m
}

func TestDispatchResetCode(t *testing.T) {
	e := newDispatchEnv(t, DispatcherOptions{})
	e.run()
	start := time.Now()
	exp := time.Now().Add(10 * time.Minute).UTC()
	id := e.queue(77, account.NoticeResetCode, account.Notice{Code: "493027", ExpiresAt: exp})
	m := e.waitFor(77)
	if d := time.Since(start); d > time.Second {
		t.Errorf("reset code took %v to reach Telegram, want under 1s", d)
	}
	for _, want := range []string{"493027", "“bob”", exp.Format("2006-01-02 15:04 UTC"), "ignore"} {
		if !strings.Contains(m.Text, want) {
			t.Errorf("text %q lacks %q", m.Text, want)
		}
	}
	r := e.await(id, "sent", func(r rowState) bool { return r.sent })
	if r.messageID != m.MessageID || strings.Contains(r.payload, "493027") {
		t.Errorf("row = %+v, want message id %d and the code scrubbed", r, m.MessageID)
	}
	if strings.Contains(e.logs.String(), "493027") {
		t.Errorf("the code reached the log:\n%s", e.logs)
	}
}

func TestDispatchNewSignInHasNotMeButton(t *testing.T) {
	e := newDispatchEnv(t, DispatcherOptions{})
	e.run()
	e.queue(5, account.NoticeNewSignIn, account.Notice{SessionID: "sess-123", IP: "203.0.113.9", UserAgent: "curl/8"})
	m := e.waitFor(5)
	if !strings.Contains(m.Text, "203.0.113.9") || !strings.Contains(m.Text, "(curl)") {
		t.Errorf("text = %q, want the IP and the device its agent names", m.Text)
	}
	var kb struct {
		InlineKeyboard [][]struct {
			Text         string `json:"text"`
			CallbackData string `json:"callback_data"`
		} `json:"inline_keyboard"`
	}
	if err := json.Unmarshal([]byte(m.ReplyMarkup), &kb); err != nil || len(kb.InlineKeyboard) != 1 {
		t.Fatalf("reply markup = %s (%v)", m.ReplyMarkup, err)
	}
	action, arg, ok := NewSigner([]byte("callback-key")).Verify(5, kb.InlineKeyboard[0][0].CallbackData)
	if !ok || action != ActionNotMe || arg != "sess-123" {
		t.Errorf("button data verifies as %q %q %v", action, arg, ok)
	}
}

func TestDispatchHonoursRetryAfter(t *testing.T) {
	e := newDispatchEnv(t, DispatcherOptions{})
	e.tg.FailNext("sendMessage", telegramtest.TooManyRequests(1))
	e.run()
	start := time.Now()
	id := e.queue(9, account.NoticeSignedOut, account.Notice{})
	e.waitFor(9)
	if d := time.Since(start); d < time.Second {
		t.Errorf("delivered %v after a 429 with retry_after 1, want at least 1s", d)
	}
	if r := e.await(id, "sent", func(r rowState) bool { return r.sent }); r.attempts != 0 {
		t.Errorf("attempts = %d: a 429 is not a failure", r.attempts)
	}
}

func TestDispatchRetriesServerErrors(t *testing.T) {
	e := newDispatchEnv(t, DispatcherOptions{})
	e.tg.FailNext("sendMessage", telegramtest.ServerError())
	e.tg.FailNext("sendMessage", telegramtest.BadGateway())
	e.run()
	id := e.queue(9, account.NoticeSignedOut, account.Notice{})
	e.waitFor(9)
	if r := e.await(id, "sent", func(r rowState) bool { return r.sent }); r.attempts != 2 {
		t.Errorf("attempts = %d, want 2 failed tries before success", r.attempts)
	}
}

func TestDispatchTimeoutIsRetried(t *testing.T) {
	e := newDispatchEnv(t, DispatcherOptions{})
	e.disp.sender = timeoutSender{e.disp.sender}
	e.tg.FailNext("sendMessage", telegramtest.Hang())
	e.run()
	id := e.queue(9, account.NoticeSignedOut, account.Notice{})
	e.waitFor(9)
	e.await(id, "sent", func(r rowState) bool { return r.sent && r.attempts == 1 })
}

// timeoutSender gives each send 300ms, so a hung call fails fast.
type timeoutSender struct{ Sender }

func (s timeoutSender) Send(ctx context.Context, m Message) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	return s.Sender.Send(ctx, m)
}

func TestDispatchGivesUpOnBlockedChatsWithoutHoldingOthers(t *testing.T) {
	e := newDispatchEnv(t, DispatcherOptions{})
	e.tg.BlockChat(1)
	e.tg.ForgetChat(2)
	e.run()
	blocked := e.queue(1, account.NoticeResetCode, account.Notice{Code: "111111", ExpiresAt: time.Now().Add(time.Hour)})
	missing := e.queue(2, account.NoticeSignedOut, account.Notice{})
	ok := e.queue(3, account.NoticeSignedOut, account.Notice{})
	e.waitFor(3)
	e.await(ok, "sent", func(r rowState) bool { return r.sent })
	rb := e.await(blocked, "dead", func(r rowState) bool { return r.dead })
	rm := e.await(missing, "dead", func(r rowState) bool { return r.dead })
	if !strings.Contains(rb.lastError, "blocked") || !strings.Contains(rm.lastError, "chat not found") {
		t.Errorf("reasons = %q, %q", rb.lastError, rm.lastError)
	}
	if strings.Contains(rb.payload, "111111") {
		t.Error("a dead reset code keeps its code")
	}
}

func TestDispatchDropsExpiredResetCode(t *testing.T) {
	e := newDispatchEnv(t, DispatcherOptions{})
	id := e.queue(4, account.NoticeResetCode, account.Notice{Code: "222222", ExpiresAt: time.Now().Add(-time.Second)})
	e.run()
	r := e.await(id, "dead", func(r rowState) bool { return r.dead })
	if !strings.Contains(r.lastError, "expired") || strings.Contains(r.payload, "222222") {
		t.Errorf("row = %+v", r)
	}
	if n := len(e.tg.SentTo(4)); n != 0 {
		t.Errorf("an expired code was sent %d times", n)
	}
}

// Telegram's limits hold under a burst: 40 chats at once, five messages
// to one of them.
func TestDispatchKeepsTelegramLimits(t *testing.T) {
	e := newDispatchEnv(t, DispatcherOptions{})
	var ids []int64
	for chat := int64(100); chat < 140; chat++ {
		ids = append(ids, e.queue(chat, account.NoticeSignedOut, account.Notice{}))
	}
	for range 5 {
		ids = append(ids, e.queue(7, account.NoticeSignedOut, account.Notice{}))
	}
	e.run()
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	if _, err := e.tg.WaitForSent(ctx, len(ids)); err != nil {
		t.Fatal(err)
	}
	if v := e.tg.LimitViolations(); v != 0 {
		t.Errorf("Telegram refused %d sends for its limits", v)
	}
	sent := e.tg.SentTo(7)
	for i := 1; i < len(sent); i++ {
		if gap := sent[i].At.Sub(sent[i-1].At); gap < time.Second {
			t.Errorf("messages %d and %d to one chat %v apart", i-1, i, gap)
		}
	}
	for _, id := range ids {
		e.await(id, "sent", func(r rowState) bool { return r.sent })
	}
}

// A dispatcher that died holding a lease loses it when it lapses.
func TestDispatchTakesOverLapsedLease(t *testing.T) {
	e := newDispatchEnv(t, DispatcherOptions{Lease: 300 * time.Millisecond})
	id := e.queue(8, account.NoticeSignedOut, account.Notice{})
	claimed, err := e.store.ClaimOutbox(t.Context(), "crashed", time.Now(), 300*time.Millisecond, 10)
	if err != nil || len(claimed) != 1 {
		t.Fatalf("claim = %v, %v", claimed, err)
	}
	e.run()
	start := time.Now()
	e.waitFor(8)
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("sent %v after another's claim, before its lease lapsed", d)
	}
	e.await(id, "sent", func(r rowState) bool { return r.sent })
	if err := e.store.MarkSent(t.Context(), id, "crashed", 1, nil, time.Now()); err == nil {
		t.Error("the crashed claimant settled a row it no longer holds")
	}
}

// With Wake (PostgreSQL's LISTEN/NOTIFY), an idle dispatcher does not
// poll: it looks when woken, and when the next row falls due.
func TestDispatchWakesOnSignalAndWhenDue(t *testing.T) {
	wake := make(chan struct{}, 1)
	e := newDispatchEnv(t, DispatcherOptions{PollInterval: time.Hour, IdlePoll: time.Hour, Wake: wake})
	later := time.Now().Add(700 * time.Millisecond).UTC()
	id := e.queue(31, account.NoticeSignedOut, account.Notice{At: later})
	e.run()

	start := time.Now()
	e.waitFor(31)
	if d := time.Since(start); d > 3*time.Second {
		t.Errorf("the row due in 700ms went out after %v", d)
	}
	e.await(id, "sent", func(r rowState) bool { return r.sent })
	time.Sleep(100 * time.Millisecond) // the pass after a busy one finds nothing

	e.queue(32, account.NoticeSignedOut, account.Notice{})
	time.Sleep(300 * time.Millisecond)
	if n := len(e.tg.SentTo(32)); n != 0 {
		t.Fatalf("%d messages to chat 32 before the wake: the dispatcher polls", n)
	}
	wake <- struct{}{}
	e.waitFor(32)
}
