package bot

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"tgauth/internal/account"
	"tgauth/internal/accounttest"
	"tgauth/internal/clocktest"
	"tgauth/internal/telegramtest"
)

// testToken looks like a real token; its secret half must never show in
// a log.
const (
	testToken       = "123456:AAH-testTokenSecret_9zQ"
	testTokenSecret = "AAH-testTokenSecret_9zQ"
	testPassword    = "BigBob27!"
)

// accounts is a real account.Service over a migrated SQLite file in a
// temp dir.
type accounts struct {
	t     testing.TB
	path  string
	svc   *account.Service
	clock *clocktest.Clock
}

func newAccounts(t testing.TB) *accounts {
	t.Helper()
	a := accounttest.New(t, accounttest.Config{Options: account.Options{
		BotUsername:         telegramtest.DefaultUsername,
		CodeKey:             []byte("test code key"),
		ForgotPasswordFloor: time.Millisecond,
	}})
	return &accounts{t: t, path: a.Path, svc: a.Service, clock: a.Clock}
}

// register creates a Watchdog account linked to chatID, confirmed as the
// chat's Yes button does.
func (a *accounts) register(username string, chatID int64) *account.User {
	a.t.Helper()
	u := a.registerPending(username, chatID)
	u, err := a.svc.AnswerChatClaim(context.Background(), chatID, u.ID, true)
	if err != nil {
		a.t.Fatalf("confirm %s's chat: %v", username, err)
	}
	return u
}

// registerPending creates a Watchdog account that only claims chatID.
func (a *accounts) registerPending(username string, chatID int64) *account.User {
	a.t.Helper()
	u, err := a.svc.Register(context.Background(), account.RegisterParams{
		Username: username, Password: testPassword, ChatID: strconv.FormatInt(chatID, 10),
	})
	if err != nil {
		a.t.Fatalf("register %s: %v", username, err)
	}
	return u
}

// registerUnlinked creates an email account with no chat.
func (a *accounts) registerUnlinked(email string) *account.User {
	a.t.Helper()
	at := a.clock.Now().Format(time.RFC3339)
	u, err := a.svc.RegisterEmail(context.Background(), account.RegisterEmailParams{
		Email: email, Password: testPassword, FirstName: "Test",
		TOCAcceptedAt: at, PrivacyPolicyAcceptedAt: at,
	})
	if err != nil {
		a.t.Fatalf("register %s: %v", email, err)
	}
	return u
}

// linkCode returns a fresh deep-link code for userID.
func (a *accounts) linkCode(userID int64) string {
	a.t.Helper()
	l, err := a.svc.CreateLink(context.Background(), account.Principal{UserID: userID}, testPassword)
	if err != nil {
		a.t.Fatal(err)
	}
	_, code, ok := strings.Cut(l.URL, "?start=")
	if !ok {
		a.t.Fatalf("link %q has no start parameter", l.URL)
	}
	return code
}

// chatNames returns the names of the accounts linked to chatID.
func (a *accounts) chatNames(chatID int64) []string {
	a.t.Helper()
	users, err := a.svc.ChatAccounts(context.Background(), chatID)
	if err != nil {
		a.t.Fatal(err)
	}
	var names []string
	for _, u := range users {
		names = append(names, u.Name())
	}
	return names
}

// count runs a counting query on the database file itself.
func (a *accounts) count(query string, args ...any) int {
	a.t.Helper()
	return accounttest.Count(a.t, a.path, query, args...)
}

// queued is one outbox row.
type queued = accounttest.Queued

// outbox returns the outbox rows, oldest first.
func (a *accounts) outbox() []queued {
	a.t.Helper()
	return accounttest.Outbox(a.t, a.path)
}

// outboxFor returns the rows of kind queued for chatID.
func (a *accounts) outboxFor(chatID int64, kind account.NoticeKind) []queued {
	a.t.Helper()
	var out []queued
	for _, q := range a.outbox() {
		if q.ChatID == chatID && q.Kind == kind {
			out = append(out, q)
		}
	}
	return out
}

// logBuffer collects log output from several goroutines.
type logBuffer = accounttest.LogBuffer

// env is a bot under test: the real Client against the fake Bot API, and
// the real service.
type env struct {
	*accounts
	t      *testing.T
	tg     *telegramtest.Server
	client *Client
	signer *Signer
	logs   *logBuffer
	log    *slog.Logger
	// waitFor bounds each wait for the bot: 10s, longer in a synctest
	// bubble, whose clock jumps over backoffs.
	waitFor time.Duration
}

// newEnv starts a fake Bot API on a socket, without its flood limits
// (tests that are about them turn them on), over a fresh database.
func newEnv(t *testing.T, opts ...telegramtest.Option) *env {
	t.Helper()
	tg := telegramtest.New(t, testToken, append([]telegramtest.Option{telegramtest.WithoutRateLimits()}, opts...)...)
	return newEnvWith(t, newAccounts(t), tg, NewClient(testToken, tg.URL, &http.Client{}))
}

func newEnvWith(t *testing.T, a *accounts, tg *telegramtest.Server, client *Client) *env {
	logs := &logBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("bot log:\n%s", logs)
		}
	})
	return &env{
		accounts: a,
		t:        t,
		tg:       tg,
		client:   client,
		signer:   NewSigner([]byte("test signing key")),
		logs:     logs,
		log:      slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		waitFor:  10 * time.Second,
	}
}

// quick backoffs for tests that provoke errors.
var testPollerOptions = PollerOptions{MinBackoff: time.Millisecond, MaxBackoff: 20 * time.Millisecond}

// run starts a Poller in a goroutine; cleanup stops it and checks that Run
// returned nil. It returns a function that does the same at once.
func (e *env) run(opts PollerOptions) (stop func()) {
	e.t.Helper()
	p := NewPoller(e.client, e.svc, e.signer, e.log, opts)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				e.t.Errorf("Run = %v, want nil", err)
			}
		})
	}
	e.t.Cleanup(stop)
	return stop
}

// waitCtx bounds a wait within the test.
func (e *env) waitCtx() context.Context {
	ctx, cancel := context.WithTimeout(e.t.Context(), e.waitFor)
	e.t.Cleanup(cancel)
	return ctx
}

// say sends text from the user of private chat chatID and returns the
// bot's next message to that chat.
func (e *env) say(chatID int64, text string) telegramtest.Sent {
	e.t.Helper()
	e.tg.InjectMessage(chatID, text)
	return e.next(chatID)
}

// next returns the bot's next message to chatID.
func (e *env) next(chatID int64) telegramtest.Sent {
	e.t.Helper()
	m, err := e.tg.WaitForMessage(e.waitCtx(), chatID)
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// press presses the button with data on message messageID of chatID and
// returns the answer, once every update before it has been handled.
func (e *env) press(chatID int64, messageID int, data string) telegramtest.CallbackAnswer {
	e.t.Helper()
	id := e.tg.InjectCallback(chatID, messageID, data)
	a, err := e.tg.WaitForAnswer(e.waitCtx(), id)
	if err != nil {
		e.t.Fatal(err)
	}
	e.barrier()
	return a
}

// barrierChat is a chat used only to learn that the poller is done with
// every update queued before.
const barrierChat = 999_999

// barrier returns once the poller has handled every update injected so
// far: updates are handled in order, so a reply to a later one means the
// earlier ones are done (their edits included).
func (e *env) barrier() {
	e.t.Helper()
	e.say(barrierChat, "/help")
}

// button is an inline button as sent.
type button struct {
	Text string `json:"text"`
	Data string `json:"callback_data"`
}

// buttons returns the inline buttons of m, row by row, flattened.
func buttons(t *testing.T, m telegramtest.Sent) []button {
	t.Helper()
	if m.ReplyMarkup == "" {
		return nil
	}
	var kb struct {
		InlineKeyboard [][]button `json:"inline_keyboard"`
	}
	if err := json.Unmarshal([]byte(m.ReplyMarkup), &kb); err != nil {
		t.Fatalf("reply_markup %s: %v", m.ReplyMarkup, err)
	}
	var out []button
	for _, row := range kb.InlineKeyboard {
		out = append(out, row...)
	}
	return out
}
