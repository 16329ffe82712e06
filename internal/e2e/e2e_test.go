package e2e

import (
	"bytes"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"tgauth/internal/telegramtest"
)

// The whole reset flow, on the dispatcher's default 200ms poll: a code
// asked for over HTTP reaches the chat, and setting a password with it
// ends every session and swaps the password.
func TestResetFlow(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startBot(botOptions{})
	ctx := waitCtx(t)
	const chat = 100001

	s.register(ctx, "bob", chat)
	old := s.login(ctx, "bob", oldPassword)
	s.forgot(ctx, "bob")
	code := resetCode(t, s.awaitText(ctx, chat, "Your password reset code for “bob” is").Text)

	r := s.expect(ctx, http.MethodPost, "/v1/auth/confirm_new_password", "", map[string]string{
		"username": "bob", "verification_code": code, "new_password": newPassword,
	}, http.StatusOK)
	if got := r.str("status"); got != "success" {
		t.Errorf("confirm_new_password status = %q, want success", got)
	}
	s.awaitText(ctx, chat, "The password of “bob” was reset with a code")

	s.expectProblem(ctx, http.MethodGet, "/v1/me", old, nil, http.StatusUnauthorized, "invalid_token")
	s.expectProblem(ctx, http.MethodPost, "/v1/login", "", map[string]string{"username": "bob", "password": oldPassword},
		http.StatusUnauthorized, "invalid_credentials")
	tok := s.login(ctx, "bob", newPassword)
	me := s.expect(ctx, http.MethodGet, "/v1/me", tok, nil, http.StatusOK)
	if me.str("username") != "bob" || me.Body["telegram_linked"] != true {
		t.Errorf("GET /v1/me = %s, want bob with telegram_linked true", me.Raw)
	}
	// The code was single use.
	s.expectProblem(ctx, http.MethodPost, "/v1/auth/confirm_new_password", "", map[string]string{
		"username": "bob", "verification_code": code, "new_password": "An0ther-Secret!",
	}, http.StatusBadRequest, "invalid_code")

	// Two sign-ins, the code, the reset: all delivered, and the code is no
	// longer in the database.
	s.awaitTexts(ctx, chat, "New sign-in to “bob”", 2)
	s.awaitOutboxSettled(ctx)
}

// Binding a chat with a deep link from POST /v1/telegram/link.
func TestDeepLinkBinding(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startBot(botOptions{pollInterval: 50 * time.Millisecond})
	ctx := waitCtx(t)
	const (
		chat  = 200001
		other = 200002
		email = "spongebob@bikinibottom.com"
	)

	at := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	s.expect(ctx, http.MethodPost, "/v1/auth/register", "", map[string]string{
		"email": email, "password": oldPassword, "first_name": "Sponge Bob", "last_name": "Squarepants",
		"toc_accepted_at": at, "privacy_policy_accepted_at": at,
	}, http.StatusCreated)
	access := s.expect(ctx, http.MethodPost, "/v2/auth/login", "", map[string]string{"email": email, "password": oldPassword},
		http.StatusOK).str("access")
	if me := s.expect(ctx, http.MethodGet, "/v1/me", access, nil, http.StatusOK); me.Body["telegram_linked"] != false {
		t.Fatalf("GET /v1/me before linking = %s, want telegram_linked false", me.Raw)
	}

	link := s.expect(ctx, http.MethodPost, "/v1/telegram/link", access,
		map[string]string{"password": oldPassword}, http.StatusOK).str("link")
	u, err := url.Parse(link)
	if err != nil || u.Host != "t.me" || u.Path != "/"+telegramtest.DefaultUsername || u.Query().Get("start") == "" {
		t.Fatalf("link = %q (%v), want https://t.me/%s?start=<code>", link, err, telegramtest.DefaultUsername)
	}
	code := u.Query().Get("start")

	s.tg.InjectMessage(chat, "/start "+code)
	s.awaitText(ctx, chat, "This chat is now linked to the account “"+email+"”")
	if me := s.expect(ctx, http.MethodGet, "/v1/me", access, nil, http.StatusOK); me.Body["telegram_linked"] != true {
		t.Errorf("GET /v1/me after linking = %s, want telegram_linked true", me.Raw)
	}

	// The link is spent: opened again, here or in another chat, it binds
	// nothing and says why.
	const badLink = "This link is used, expired or unknown, so no account was linked to this chat."
	s.tg.InjectMessage(other, "/start "+code)
	s.awaitText(ctx, other, badLink)
	s.tg.InjectMessage(chat, "/start "+code)
	s.awaitText(ctx, chat, badLink)
	s.tg.InjectMessage(other, "/whoami")
	s.awaitText(ctx, other, "No account is linked to this chat.")
	s.tg.InjectMessage(chat, "/whoami")
	s.awaitText(ctx, chat, "This chat is linked to "+email+".")
	// Updates are handled in order, so whatever the spent link queued is in
	// the outbox by now.
	if n, err := s.count(ctx, `SELECT count(*) FROM outbox WHERE kind = 'account_linked'`); err != nil || n != 1 {
		t.Errorf("account_linked notices queued = %d, %v; want 1", n, err)
	}
}

// "Not me" under a new-sign-in notice ends every session of the account.
func TestNotMe(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startBot(botOptions{pollInterval: 50 * time.Millisecond})
	ctx := waitCtx(t)
	const chat = 300001

	s.register(ctx, "patrick", chat)
	access1 := s.login(ctx, "patrick", oldPassword)
	pair := s.expect(ctx, http.MethodPost, "/v2/auth/login", "", map[string]string{"username": "patrick", "password": oldPassword},
		http.StatusOK)
	access2, refresh := pair.str("access"), pair.str("refresh")
	for _, tok := range []string{access1, access2} {
		s.expect(ctx, http.MethodGet, "/v1/me", tok, nil, http.StatusOK)
	}

	notices := s.awaitTexts(ctx, chat, "New sign-in to “patrick”", 2)
	for _, n := range notices {
		if !strings.Contains(n.Text, "from 127.0.0.1 (an unknown device)") {
			t.Errorf("sign-in notice %q does not say where the sign-in came from", n.Text)
		}
	}
	if got, want := s.press(ctx, notices[1], "Not me: sign out everywhere"), "Signed out everywhere."; got != want {
		t.Errorf("the callback was answered %q, want %q", got, want)
	}

	// The press was answered after the sessions were revoked.
	for _, tok := range []string{access1, access2} {
		s.expectProblem(ctx, http.MethodGet, "/v1/me", tok, nil, http.StatusUnauthorized, "invalid_token")
	}
	s.expectProblem(ctx, http.MethodPost, "/v1/auth/refresh", "", map[string]string{"refresh": refresh},
		http.StatusUnauthorized, "invalid_token")
	s.awaitText(ctx, chat, "Every session of “patrick” was signed out")

	// The notice pressed now says what happened, without its button.
	err := pollUntil(ctx, func() (bool, error) {
		for _, e := range s.tg.Edits() {
			if e.ChatID == chat && e.MessageID == notices[1].MessageID &&
				strings.HasSuffix(e.Text, "Signed out everywhere: every session of patrick has ended.") && e.ReplyMarkup == "" {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		t.Errorf("the pressed notice was not edited: %v; edits: %+v", err, s.tg.Edits())
	}
}

// Notices queued while the bot is down go out, in order per chat, once it
// starts.
func TestNoticesQueuedWhileBotDown(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	ctx := waitCtx(t)
	const sandy, gary = 400001, 400002

	s.register(ctx, "sandy", sandy)
	tok := s.login(ctx, "sandy", oldPassword)
	s.expect(ctx, http.MethodPost, "/v1/change-password", tok, map[string]string{
		"old_password": oldPassword, "new_password": newPassword,
	}, http.StatusOK)
	s.forgot(ctx, "sandy")
	s.register(ctx, "gary", gary)
	s.login(ctx, "gary", oldPassword)
	s.forgot(ctx, "gary")

	want := map[int64][]string{
		sandy: {
			"The account “sandy” was registered",
			"New sign-in to “sandy”",
			"The password of “sandy” was changed",
			"Your password reset code for “sandy” is",
		},
		gary: {
			"The account “gary” was registered",
			"New sign-in to “gary”",
			"Your password reset code for “gary” is",
		},
	}
	total := len(want[sandy]) + len(want[gary])
	if n, err := s.count(ctx, `SELECT count(*) FROM outbox WHERE sent_at IS NULL AND dead_at IS NULL`); err != nil || n != total {
		t.Fatalf("outbox rows waiting before the bot starts = %d, %v; want %d", n, err, total)
	}
	if n := len(s.tg.Sent()); n != 0 {
		t.Fatalf("%d messages sent with no bot running", n)
	}

	s.startBot(botOptions{})
	if _, err := s.tg.WaitForSent(ctx, total); err != nil {
		t.Fatalf("%v; sent: %q", err, texts(s.tg.Sent()))
	}
	s.awaitOutboxSettled(ctx)
	if n := len(s.tg.Sent()); n != total {
		t.Errorf("%d messages sent, want %d: %q", n, total, texts(s.tg.Sent()))
	}
	for chat, prefixes := range want {
		got := s.tg.SentTo(chat)
		if len(got) != len(prefixes) {
			t.Errorf("chat %d got %q, want %d messages", chat, texts(got), len(prefixes))
			continue
		}
		for i, p := range prefixes {
			if !strings.HasPrefix(got[i].Text, p) {
				t.Errorf("chat %d message %d = %q, want it to start %q", chat, i, got[i].Text, p)
			}
		}
		resetCode(t, got[len(got)-1].Text)
	}
}

// Every command once through the whole stack; internal/bot tests each in
// depth.
func TestBotCommands(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startBot(botOptions{pollInterval: 50 * time.Millisecond})
	ctx := waitCtx(t)
	const chat = 500001

	// /start tells the chat its id, the one to register with.
	s.tg.InjectMessage(chat, "/start")
	m := s.awaitText(ctx, chat, "This chat's id is ")
	id := regexp.MustCompile(`id is ([0-9]+)\.`).FindStringSubmatch(m.Text)
	if id == nil || id[1] != "500001" {
		t.Fatalf("/start answered %q, want the chat id 500001", m.Text)
	}
	s.expect(ctx, http.MethodPost, "/v1/register", "", map[string]string{
		"username": "carol", "password": oldPassword, "account": id[1],
	}, http.StatusCreated)
	// The chat is only claimed until it says yes.
	prompt := s.awaitText(ctx, chat, "The account “carol” was registered")
	if got, want := s.press(ctx, prompt, "Yes, link it"), "Linked."; got != want {
		t.Errorf("pressing Yes was answered %q, want %q", got, want)
	}
	tok := s.login(ctx, "carol", oldPassword)

	steps := []struct{ send, want string }{
		{"/help", "Commands:\n/start"},
		{"/whoami", "This chat is linked to carol."},
		{"/reset", "A reset code for carol is on its way."},
	}
	for _, st := range steps {
		s.tg.InjectMessage(chat, st.send)
		s.awaitText(ctx, chat, st.want)
	}
	code := resetCode(t, s.awaitText(ctx, chat, "Your password reset code for “carol” is").Text)
	// The code reached the chat, and a copy of the database and its WAL
	// holds it nowhere: it was sealed in the outbox, under a key in a file
	// of its own (owner-only, like the database).
	for _, suffix := range []string{"", "-wal"} {
		b, err := os.ReadFile(s.cfg.Database.Path + suffix)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(code)) {
			t.Errorf("tgauth.db%s holds the reset code %s", suffix, code)
		}
	}
	if fi, err := os.Stat(s.cfg.Database.Path + ".key"); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("seal key file: %v, %v; want mode 0600", fi, err)
	}

	s.tg.InjectMessage(chat, "/unlink")
	confirm := s.awaitText(ctx, chat, "Unlink carol from this chat?")
	if got, want := s.press(ctx, confirm, "Unlink carol"), "Unlinked."; got != want {
		t.Errorf("pressing Unlink was answered %q, want %q", got, want)
	}
	s.tg.InjectMessage(chat, "/whoami")
	s.awaitText(ctx, chat, "No account is linked to this chat.")
	if me := s.expect(ctx, http.MethodGet, "/v1/me", tok, nil, http.StatusOK); me.Body["telegram_linked"] != false {
		t.Errorf("GET /v1/me after /unlink = %s, want telegram_linked false", me.Raw)
	}
}

// Replies keep Telegram's one message a second per chat, counted as
// Telegram counts it: from when it took the previous message, which is
// some time after the bot sent it.
// So a reply records its send with the Pacer once Telegram answered
// (PollerOptions.Sent), as the dispatcher does: without it, one reply
// slower on the wire than the next reached Telegram under 1s after it.
func TestRepliesKeepChatGap(t *testing.T) {
	t.Parallel()
	s := newStack(t)
	s.startBot(botOptions{pollInterval: 50 * time.Millisecond, transport: &slowSends{delay: 100 * time.Millisecond}})
	ctx := waitCtx(t)
	const chat, n = 600001, 3

	for range n {
		s.tg.InjectMessage(chat, "/help")
	}
	got := s.awaitTexts(ctx, chat, "Commands:", n)
	for i := 1; i < n; i++ {
		if gap := got[i].At.Sub(got[i-1].At); gap < time.Second {
			t.Errorf("reply %d reached Telegram %v after the one before, want at least 1s", i, gap)
		}
	}
	if v := s.tg.LimitViolations(); v > 0 {
		t.Errorf("%d sends refused with 429 by the fake Telegram, want none", v)
	}
}
