package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"tgauth/internal/account"
	"tgauth/internal/accounttest"
	"tgauth/internal/app"
	"tgauth/internal/bot"
	"tgauth/internal/config"
	"tgauth/internal/httpapi"
	"tgauth/internal/telegramtest"
)

func init() { gin.SetMode(gin.ReleaseMode) }

const (
	// botToken looks like a real token; it must never reach a log.
	botToken    = "987654:AAE-e2eSecretToken_Kq7"
	oldPassword = "BigBob27!"
	newPassword = "N3w-Secret!42"
	// waitFor bounds every wait for something the bot or the API does.
	waitFor = time.Minute
)

// stack is the API process (store, service, router behind httptest) over
// a SQLite file in a temp dir, and the fake Telegram the bot talks to. The
// bot itself is started with startBot, so a test can act while it is down.
type stack struct {
	tb    testing.TB
	cfg   config.Config
	tg    *telegramtest.Server
	api   *httptest.Server
	store app.Store // the API's
	svc   *account.Service
	logs  *accounttest.LogBuffer
}

func newStack(tb testing.TB, tgOpts ...telegramtest.Option) *stack {
	tb.Helper()
	logs := &accounttest.LogBuffer{}
	// Registered first, so it runs last, after the bot has stopped.
	tb.Cleanup(func() {
		if strings.Contains(logs.String(), botToken) {
			tb.Errorf("the bot token reached the log:\n%s", logs)
		} else if tb.Failed() {
			tb.Logf("logs:\n%s", logs)
		}
	})
	tg := telegramtest.New(tb, botToken, tgOpts...)

	cfg := config.Defaults()
	cfg.Database.Path = filepath.Join(tb.TempDir(), "tgauth.db")
	cfg.RateLimit.Enabled = false
	cfg.Telegram.Token = botToken
	cfg.Telegram.APIURL = tg.URL
	cfg.Telegram.BotUsername = telegramtest.DefaultUsername
	log := app.NewLogger(logs, cfg.Log)

	ctx := context.Background()
	started, err := app.Start(ctx, cfg, log)
	if err != nil {
		tb.Fatal(err)
	}
	store, svc := started.Store, started.Service
	tb.Cleanup(func() { store.Close() })
	h, err := httpapi.New(svc, cfg.HTTP, cfg.RateLimit, log)
	if err != nil {
		tb.Fatal(err)
	}
	api := httptest.NewServer(h)
	tb.Cleanup(api.Close)
	return &stack{tb: tb, cfg: cfg, tg: tg, api: api, store: store, svc: svc, logs: logs}
}

// botOptions tune startBot. Zero values are what cmd/bot uses.
type botOptions struct {
	pollInterval   time.Duration // the dispatcher's; 0 is its default, 200ms
	pacer          *bot.Pacer    // nil: bot.NewPacer(bot.OverallRate, bot.PerChatGap, nil)
	dispatcherOnly bool          // no poller
	// transport carries the bot's calls to the fake; nil is the default.
	transport http.RoundTripper
}

// botProcess is the bot as cmd/bot wires it: its own store on the same
// file, its own account service, the callback key from the database, one
// pacer shared by the poller and the dispatcher.
type botProcess struct {
	s       *stack
	store   app.Store
	workers []func(context.Context) error
}

// newBot builds the bot without starting it.
func (s *stack) newBot(opts botOptions) *botProcess {
	s.tb.Helper()
	ctx := context.Background()
	log := app.NewLogger(s.logs, s.cfg.Log)
	// app.Start is cmd/bot's: the store at database.path, migrated
	// (which finds nothing left to do), the service and the keys.
	started, err := app.Start(ctx, s.cfg, log)
	if err != nil {
		s.tb.Fatal(err)
	}
	store, svc := started.Store, started.Service
	signer := bot.NewSigner(started.CallbackKey)
	pacer := opts.pacer
	if pacer == nil {
		pacer = bot.NewPacer(bot.OverallRate, bot.PerChatGap, nil)
	}
	client := bot.NewClient(s.cfg.Telegram.Token, s.cfg.Telegram.APIURL, &http.Client{Transport: opts.transport})
	p := &botProcess{s: s, store: store}
	if !opts.dispatcherOnly {
		poller := bot.NewPoller(client, svc, signer, log, bot.PollerOptions{Pace: pacer.Wait, Sent: pacer.Sent})
		p.workers = append(p.workers, poller.Run)
	}
	d := bot.NewDispatcher(store, client, signer, pacer, log, bot.DispatcherOptions{PollInterval: opts.pollInterval, Sealer: started.Sealer})
	p.workers = append(p.workers, d.Run)
	return p
}

// start runs the bot until the test ends. Stopping it then must be clean
// and quick, and it must have kept within the fake's rate limits.
func (p *botProcess) start() {
	tb := p.s.tb
	ctx, cancel := context.WithCancel(context.Background())
	errs := make(chan error, len(p.workers))
	var wg sync.WaitGroup
	for _, w := range p.workers {
		wg.Go(func() {
			if err := w(ctx); err != nil {
				errs <- err
			}
		})
	}
	tb.Cleanup(func() {
		cancel()
		done := make(chan struct{})
		go func() { wg.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			tb.Error("the bot did not stop within 30s of its context ending")
			return
		}
		close(errs)
		for err := range errs {
			tb.Errorf("bot worker returned %v, want nil", err)
		}
		p.store.Close()
		if n := p.s.tg.LimitViolations(); n > 0 {
			tb.Errorf("the fake Telegram refused %d send(s) for its rate limits", n)
		}
	})
}

// startBot builds the bot and starts it.
func (s *stack) startBot(opts botOptions) {
	s.tb.Helper()
	s.newBot(opts).start()
}

// slowSends is a transport on which every other sendMessage takes delay
// longer to reach Telegram, as on a network whose latency varies.
type slowSends struct {
	delay time.Duration
	mu    sync.Mutex
	n     int
}

func (s *slowSends) RoundTrip(r *http.Request) (*http.Response, error) {
	if strings.HasSuffix(r.URL.Path, "/sendMessage") {
		s.mu.Lock()
		s.n++
		slow := s.n%2 == 1
		s.mu.Unlock()
		if slow {
			t := time.NewTimer(s.delay)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return nil, r.Context().Err()
			}
		}
	}
	return http.DefaultTransport.RoundTrip(r)
}

// waitCtx bounds a test's waits.
func waitCtx(tb testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(tb.Context(), waitFor)
	tb.Cleanup(cancel)
	return ctx
}

// reply is an HTTP answer with its body decoded as a JSON object.
type reply struct {
	Status int
	Header http.Header
	Body   map[string]any
	Raw    string
}

func (r reply) str(key string) string {
	s, _ := r.Body[key].(string)
	return s
}

// call sends body (nil for none) as JSON with an optional bearer token.
func (s *stack) call(ctx context.Context, method, path, bearer string, body any) reply {
	s.tb.Helper()
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			s.tb.Fatal(err)
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.api.URL+path, rd)
	if err != nil {
		s.tb.Fatal(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	req.Header.Set("User-Agent", "tgauth-e2e/1.0")
	resp, err := s.api.Client().Do(req)
	if err != nil {
		s.tb.Fatalf("%s %s: %v", method, path, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		s.tb.Fatalf("%s %s: read body: %v", method, path, err)
	}
	r := reply{Status: resp.StatusCode, Header: resp.Header, Raw: string(raw)}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &r.Body); err != nil {
			s.tb.Fatalf("%s %s: body %q is not a JSON object: %v", method, path, raw, err)
		}
	}
	return r
}

// expect is call that fails the test unless the status is want, with
// application/json for a success and application/problem+json for an
// error.
func (s *stack) expect(ctx context.Context, method, path, bearer string, body any, want int) reply {
	s.tb.Helper()
	r := s.call(ctx, method, path, bearer, body)
	if r.Status != want {
		s.tb.Fatalf("%s %s = %d %s, want %d", method, path, r.Status, r.Raw, want)
	}
	wantCT := "application/json"
	if want >= 400 {
		wantCT = "application/problem+json"
	}
	if ct := r.Header.Get("Content-Type"); !strings.HasPrefix(ct, wantCT) {
		s.tb.Errorf("%s %s: Content-Type = %q, want %s", method, path, ct, wantCT)
	}
	return r
}

// expectProblem expects an error answer with the given problem code.
func (s *stack) expectProblem(ctx context.Context, method, path, bearer string, body any, status int, code string) {
	s.tb.Helper()
	r := s.expect(ctx, method, path, bearer, body, status)
	if got := r.str("code"); got != code {
		s.tb.Errorf("%s %s: problem code = %q, want %q (%s)", method, path, got, code, r.Raw)
	}
}

// register creates a Watchdog account linked to chatID, and confirms the
// chat as its Yes button does (the bot may be down; TestBotCommands
// presses the real button).
func (s *stack) register(ctx context.Context, username string, chatID int64) {
	s.tb.Helper()
	r := s.expect(ctx, http.MethodPost, "/v1/register", "", map[string]any{
		"username": username, "password": oldPassword, "account": chatID,
	}, http.StatusCreated)
	id, _ := r.Body["id"].(float64)
	if _, err := s.svc.AnswerChatClaim(ctx, chatID, int64(id), true); err != nil {
		s.tb.Fatalf("confirm the chat of %s: %v", username, err)
	}
}

// login logs in over the Watchdog route and returns the access token.
func (s *stack) login(ctx context.Context, username, password string) string {
	s.tb.Helper()
	r := s.expect(ctx, http.MethodPost, "/v1/login", "", map[string]string{
		"username": username, "password": password,
	}, http.StatusOK)
	tok := r.str("token")
	if tok == "" {
		s.tb.Fatalf("login of %s answered %s: no token", username, r.Raw)
	}
	return tok
}

// forgot asks for a reset code for a Watchdog account.
func (s *stack) forgot(ctx context.Context, username string) {
	s.tb.Helper()
	s.expect(ctx, http.MethodPost, "/v1/auth/forgot_password", "", map[string]string{"username": username}, http.StatusOK)
}

// awaitTexts waits until chatID has been sent n messages containing substr
// and returns the first n, oldest first. It does not consume them: two
// calls may return the same message.
func (s *stack) awaitTexts(ctx context.Context, chatID int64, substr string, n int) []telegramtest.Sent {
	s.tb.Helper()
	for {
		all := s.tg.Sent()
		var got []telegramtest.Sent
		for _, m := range all {
			if m.ChatID == chatID && strings.Contains(m.Text, substr) {
				got = append(got, m)
			}
		}
		if len(got) >= n {
			return got[:n]
		}
		if _, err := s.tg.WaitForSent(ctx, len(all)+1); err != nil {
			s.tb.Fatalf("chat %d: want %d message(s) containing %q: %v\nthe chat got: %q",
				chatID, n, substr, err, texts(s.tg.SentTo(chatID)))
		}
	}
}

func (s *stack) awaitText(ctx context.Context, chatID int64, substr string) telegramtest.Sent {
	s.tb.Helper()
	return s.awaitTexts(ctx, chatID, substr, 1)[0]
}

func texts(msgs []telegramtest.Sent) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m.Text
	}
	return out
}

var codeRE = regexp.MustCompile(`\b([0-9]{6}|[0-9]{12})\b`)

// resetCode returns the one 6-digit number in a reset-code message.
func resetCode(tb testing.TB, text string) string {
	tb.Helper()
	codes := codeRE.FindAllString(text, -1)
	if len(codes) != 1 {
		tb.Fatalf("message %q holds %d six-digit numbers, want exactly one code", text, len(codes))
	}
	return codes[0]
}

// button is an inline keyboard button as sent to Telegram.
type button struct {
	Text string `json:"text"`
	Data string `json:"callback_data"`
}

// buttons returns a sent message's inline buttons, row after row.
func buttons(tb testing.TB, m telegramtest.Sent) []button {
	tb.Helper()
	if m.ReplyMarkup == "" {
		tb.Fatalf("message %q has no buttons", m.Text)
	}
	var kb struct {
		InlineKeyboard [][]button `json:"inline_keyboard"`
	}
	if err := json.Unmarshal([]byte(m.ReplyMarkup), &kb); err != nil {
		tb.Fatalf("reply_markup %s: %v", m.ReplyMarkup, err)
	}
	var out []button
	for _, row := range kb.InlineKeyboard {
		out = append(out, row...)
	}
	return out
}

// press presses the button of m whose text is text and returns the text
// the callback was answered with.
func (s *stack) press(ctx context.Context, m telegramtest.Sent, text string) string {
	s.tb.Helper()
	for _, b := range buttons(s.tb, m) {
		if b.Text != text {
			continue
		}
		id := s.tg.InjectCallback(m.ChatID, m.MessageID, b.Data)
		a, err := s.tg.WaitForAnswer(ctx, id)
		if err != nil {
			s.tb.Fatalf("press %q on %q: %v", text, m.Text, err)
		}
		return a.Text
	}
	s.tb.Fatalf("message %q has no button %q: %s", m.Text, text, m.ReplyMarkup)
	return ""
}

// pollUntil calls cond every 10ms until it holds or ctx ends; for state
// that nothing signals, like a row settled after its message went out.
func pollUntil(ctx context.Context, cond func() (bool, error)) error {
	for {
		ok, err := cond()
		if ok || err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return errors.New("condition never held: " + ctx.Err().Error())
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// count runs a counting query on the database file, read-only.
func (s *stack) count(ctx context.Context, query string) (int, error) {
	db, err := sql.Open("sqlite", accounttest.ReadDSN(s.cfg.Database.Path))
	if err != nil {
		return 0, err
	}
	defer db.Close()
	var n int
	err = db.QueryRowContext(ctx, query).Scan(&n)
	return n, err
}

// awaitOutboxSettled waits until every outbox row is sent or given up and
// no settled row still holds a reset code.
func (s *stack) awaitOutboxSettled(ctx context.Context) {
	s.tb.Helper()
	err := pollUntil(ctx, func() (bool, error) {
		n, err := s.count(ctx, `SELECT count(*) FROM outbox
			WHERE (sent_at IS NULL AND dead_at IS NULL) OR json_extract(payload, '$.code') IS NOT NULL`)
		return n == 0, err
	})
	if err != nil {
		s.tb.Fatalf("outbox: %v", err)
	}
	dead, err := s.count(ctx, `SELECT count(*) FROM outbox WHERE dead_at IS NOT NULL`)
	if err != nil || dead != 0 {
		s.tb.Errorf("outbox rows given up: %d, %v; want none", dead, err)
	}
}
