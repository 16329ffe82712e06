package playground_test

import (
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"tgauth/internal/app"
	"tgauth/internal/chromiumtest"
	"tgauth/internal/config"
	"tgauth/internal/httpapi"
	"tgauth/internal/playground"
)

func init() { gin.SetMode(gin.TestMode) }

// stack is the API and the playground (with the real bot) on one SQLite
// file, as README has a newcomer run them.
type stack struct {
	api, page string
}

func startStack(t *testing.T) stack {
	t.Helper()
	cfg := config.Defaults()
	cfg.Database.Path = filepath.Join(t.TempDir(), "tgauth.db")
	cfg.Telegram.BotUsername = playground.Username
	log := slog.New(slog.DiscardHandler)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- playground.Run(ctx, cfg, ln, log) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("playground.Run: %v", err)
		}
	})

	env, err := app.Start(t.Context(), cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { env.Store.Close() })
	h, err := httpapi.New(env.Service, cfg.HTTP, config.RateLimit{}, log)
	if err != nil {
		t.Fatal(err)
	}
	api := httptest.NewServer(h)
	t.Cleanup(api.Close)
	return stack{api: api.URL, page: "http://" + ln.Addr().String()}
}

func (s stack) post(t *testing.T, path string, body map[string]string) {
	t.Helper()
	form := url.Values{}
	for k, v := range body {
		form.Set(k, v)
	}
	resp, err := http.PostForm(s.api+path, form)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		var p map[string]any
		json.NewDecoder(resp.Body).Decode(&p)
		t.Fatalf("POST %s = %d %v", path, resp.StatusCode, p)
	}
}

// link logs in as username and asks for a deep link to Telegram.
func (s stack) link(t *testing.T, username, password string) string {
	t.Helper()
	resp, err := http.PostForm(s.api+"/v1/login", url.Values{"username": {username}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	var tok struct{ Token string }
	json.NewDecoder(resp.Body).Decode(&tok)
	resp.Body.Close()
	req, _ := http.NewRequest(http.MethodPost, s.api+"/v1/telegram/link", strings.NewReader(url.Values{"password": {password}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer "+tok.Token)
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var l struct{ Link string }
	json.NewDecoder(resp.Body).Decode(&l)
	if resp.StatusCode != http.StatusOK || l.Link == "" {
		t.Fatalf("POST /v1/telegram/link = %d %+v", resp.StatusCode, l)
	}
	return l.Link
}

// A newcomer's reset, every Telegram step clicked in the page in headless
// chromium: the chat is linked by its buttons, the code is read off the
// page and sets a new password, and the page logs no error.
func TestResetThroughThePage(t *testing.T) {
	s := startStack(t)
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	t.Cleanup(cancel)
	b := chromiumtest.Start(ctx, t)
	page, err := b.NewPage(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := page.Navigate(ctx, s.page+"/#100001"); err != nil {
		t.Fatal(err)
	}

	var notice string
	if err := page.Eval(ctx, `(async () => {
		await waitFor(() => document.querySelector('header strong'));
		return document.querySelector('header').textContent;
	})()`, &notice); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(notice, "This is not Telegram") {
		t.Errorf("page header = %q, want it to say it is not Telegram", notice)
	}

	// /start, pressed as a button: the bot answers in the chat.
	var answer string
	if err := page.Eval(ctx, `(async () => {
		document.querySelector('[data-cmd="/start"]').click();
		const m = await waitFor(() => document.querySelectorAll('.msg.bot')[0]);
		return m.textContent;
	})()`, &answer); err != nil {
		t.Fatalf("/start: %v", err)
	}
	if !strings.Contains(answer, "100001") {
		t.Errorf("answer to /start = %q, want the chat id", answer)
	}

	s.post(t, "/v1/register", map[string]string{"username": "bob", "password": "Str0ng-Pass!", "account": "100001"})
	var linked string
	if err := page.Eval(ctx, `(async () => {
		const yes = await waitFor(() => [...document.querySelectorAll('.msg.bot button')].find(b => b.textContent === 'Yes, link it'));
		yes.click();
		const m = await waitFor(() => [...document.querySelectorAll('.msg.bot')].find(m => m.textContent.includes('now linked')));
		await waitFor(() => document.getElementById('toast').style.display === 'block');
		return m.textContent + ' | ' + document.getElementById('toast').textContent;
	})()`, &linked); err != nil {
		t.Fatalf("Yes, link it: %v", err)
	}
	if !strings.Contains(linked, "bob") || !strings.HasSuffix(linked, "| Linked.") {
		t.Errorf("after Yes = %q, want the edit naming bob and the toast Linked.", linked)
	}

	s.post(t, "/v1/auth/forgot_password", map[string]string{"username": "bob"})
	var code string
	if err := page.Eval(ctx, `(async () => {
		const m = await waitFor(() => [...document.querySelectorAll('.msg.bot')].find(m => m.textContent.includes('password reset code for')));
		return [...m.querySelectorAll('code')].map(c => c.textContent).find(c => /^[0-9]{6}$/.test(c)) || m.textContent;
	})()`, &code); err != nil {
		t.Fatalf("reset code: %v", err)
	}
	if !regexp.MustCompile(`^[0-9]{6}$`).MatchString(code) {
		t.Fatalf("code read off the page = %q, want 6 digits in monospace", code)
	}
	s.post(t, "/v1/auth/confirm_new_password", map[string]string{"username": "bob", "verification_code": code, "new_password": "N3w-Secret!x"})

	// A deep link pasted in the page opens as Telegram opens it: /start
	// with the link's code, which links the chat to the account.
	link := s.link(t, "bob", "N3w-Secret!x")
	var linkedByLink string
	if err := page.Eval(ctx, `(async () => {
		document.getElementById('text').value = `+strconv.Quote(link)+`;
		document.querySelector('#say button').click();
		const m = await waitFor(() => [...document.querySelectorAll('.msg.user')].find(m => m.textContent.startsWith('/start ')));
		return m.textContent;
	})()`, &linkedByLink); err != nil {
		t.Fatalf("deep link: %v", err)
	}
	if _, code, _ := strings.Cut(link, "?start="); !strings.HasPrefix(linkedByLink, "/start "+code) {
		t.Errorf("the pasted link %q was sent as %q, want /start %s", link, linkedByLink, code)
	}

	for _, msg := range page.Problems() {
		t.Errorf("the page logged an error: %s", msg)
	}
}
