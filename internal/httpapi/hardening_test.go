package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"tgauth/internal/account"
)

// The addresses of the tests below: the owner's home, where the account
// has signed in, and an attacker's.
const (
	home     = "198.51.100.10"
	home6    = "2001:db8:1:2::10"
	attacker = "203.0.113.66"
)

// loginFrom is a Watchdog login from ip.
func (e *env) loginFrom(ip, username, pw string) *httptest.ResponseRecorder {
	body, ct := form("username", username, "password", pw)
	return e.do(request{method: http.MethodPost, path: "/v1/login/", body: body, contentType: ct, from: ip})
}

// A link that can move the account's reset codes to another chat needs
// the current password: an access token alone is not enough. A wrong one
// counts toward the lockout.
func TestTelegramLinkNeedsPassword(t *testing.T) {
	e := newEnv(t, withService(account.Options{BotUsername: "tgauth_bot"}))
	e.register("bob", goodPassword, "55")
	tok := e.login("bob", goodPassword)
	link := func(body string) *httptest.ResponseRecorder {
		return e.do(postJSON("/v1/telegram/link", body, bearer(tok)))
	}
	wantProblem(t, link(`{}`), http.StatusBadRequest, "validation_failed")
	p := wantProblem(t, link(`{"password":"Wrong-Pass1!"}`), http.StatusForbidden, "wrong_password")
	if len(p.Errors) != 1 || p.Errors[0].Field != "password" {
		t.Errorf("errors = %+v, want one naming password", p.Errors)
	}
	if n := e.count(`SELECT failed_logins FROM users WHERE username = 'bob'`); n != 1 {
		t.Errorf("failed_logins after a wrong link password = %d, want 1", n)
	}
	if n := e.count(`SELECT count(*) FROM link_codes`); n != 0 {
		t.Errorf("link codes after refusals = %d, want 0", n)
	}
	if rec := link(`{"password":"` + goodPassword + `"}`); rec.Code != http.StatusOK {
		t.Fatalf("link with the password = %d %s", rec.Code, rec.Body)
	}
	if n := e.count(`SELECT count(*) FROM link_codes WHERE replaces_chat_id = 55`); n != 1 {
		t.Errorf("link codes that may replace chat 55 = %d, want 1", n)
	}
}

// A Watchdog registration only claims its chat: until the chat says yes,
// no reset code or notice goes there, and the profile says not linked.
func TestRegisteredChatIsOnlyClaimed(t *testing.T) {
	e := newEnv(t)
	e.registerPending("bob", goodPassword, "55")
	tok := e.login("bob", goodPassword)
	var prof profileResponse
	decode(t, e.do(getReq("/v1/me", bearer(tok))), &prof)
	if prof.TelegramLinked {
		t.Errorf("telegram_linked = true before the chat confirmed")
	}
	if rec := e.postForm("/v1/auth/forgot_password", "username", "bob"); rec.Code != http.StatusOK {
		t.Fatalf("forgot_password = %d %s", rec.Code, rec.Body)
	}
	if got := e.kinds(); len(got) != 1 || got[0] != string(account.NoticeConfirmChat) {
		t.Errorf("outbox kinds = %q, want only the question", got)
	}

	// Naming the chat again and again does not flood it with questions.
	for i := range 2 * account.MaxPendingClaims {
		e.registerPending(fmt.Sprintf("spam%d", i), goodPassword, "55")
	}
	if n := e.countKind(string(account.NoticeConfirmChat)); n != account.MaxPendingClaims {
		t.Errorf("questions to chat 55 = %d, want %d", n, account.MaxPendingClaims)
	}
	e.clock.Advance(24 * time.Hour)
	e.registerPending("nextday", goodPassword, "55")
	if n := e.countKind(string(account.NoticeConfirmChat)); n != account.MaxPendingClaims+1 {
		t.Errorf("questions to chat 55 a day later = %d, want %d", n, account.MaxPendingClaims+1)
	}
}

// Wrong reset codes are bounded per account across codes and addresses,
// with rate limits off: the 20th in a day pauses 6-digit codes and tells
// the chat, whose own /reset code still works.
func TestResetCodeGuessesBounded(t *testing.T) {
	e := newEnv(t)
	e.register("bob", goodPassword, "55")
	confirm := func(code, from string) *httptest.ResponseRecorder {
		body, ct := form("username", "bob", "verification_code", code, "new_password", "N3w-Secret!x")
		return e.do(request{method: http.MethodPost, path: "/v1/auth/confirm_new_password", body: body, contentType: ct, from: from})
	}
	forgot := func() {
		t.Helper()
		if rec := e.postForm("/v1/auth/forgot_password", "username", "bob"); rec.Code != http.StatusOK {
			t.Fatalf("forgot_password = %d %s", rec.Code, rec.Body)
		}
	}
	start := e.clock.Now()
	for i := range account.MaxCodeFailures - 1 {
		if i%account.MaxCodeAttempts == 0 {
			e.clock.Advance(account.CodeResendInterval)
			forgot() // a fresh code every few guesses, as a guesser would ask
		}
		from := attacker
		if i%2 == 1 {
			from = "203.0.113.67" // another address changes nothing
		}
		wantProblem(t, confirm("000000", from), http.StatusBadRequest, "invalid_code")
	}
	if n := e.countKind(string(account.NoticeResetPaused)); n != 0 {
		t.Fatalf("reset_paused after %d wrong codes = %d, want 0", account.MaxCodeFailures-1, n)
	}
	e.clock.Advance(account.CodeResendInterval)
	forgot()
	live := e.resetCode() // the owner's, sent before the bound is reached
	wantProblem(t, confirm(wrongCode(live), attacker), http.StatusBadRequest, "invalid_code")

	rows := e.outbox()
	last := rows[len(rows)-1]
	if last.Kind != account.NoticeResetPaused || last.ChatID != 55 {
		t.Fatalf("last outbox row = %+v, want reset_paused to chat 55", last)
	}
	if !last.Notice.LockedUntil.Equal(start.Add(account.CodeResendInterval).Add(account.CodeFailureWindow)) {
		t.Errorf("paused until %v, want a day after the first wrong code", last.Notice.LockedUntil)
	}
	// Now even the right 6-digit code is refused, and none is sent.
	wantProblem(t, confirm(live, home), http.StatusBadRequest, "invalid_code")
	codes := e.countKind(string(account.NoticeResetCode))
	e.clock.Advance(account.CodeResendInterval)
	forgot()
	if n := e.countKind(string(account.NoticeResetCode)); n != codes {
		t.Errorf("reset codes sent while paused: %d, want none", n-codes)
	}
	if n := e.countKind(string(account.NoticeResetPaused)); n != 1 {
		t.Errorf("reset_paused notices = %d, want exactly 1", n)
	}

	// The chat's own code: 12 digits, not paused, not burned by guesses.
	if _, _, err := e.svc.ResetFromChat(t.Context(), 55, 1); err != nil {
		t.Fatal(err)
	}
	chatCode := e.resetCode()
	if len(chatCode) != account.ChatCodeDigits {
		t.Fatalf("chat code %q, want %d digits", chatCode, account.ChatCodeDigits)
	}
	for range account.MaxCodeAttempts + 1 {
		wantProblem(t, confirm("000000000000", attacker), http.StatusBadRequest, "invalid_code")
	}
	if rec := confirm(chatCode, home); rec.Code != http.StatusOK {
		t.Fatalf("the chat's code = %d %s, want 200", rec.Code, rec.Body)
	}

	// A day after the first wrong code, the API sends codes again.
	e.clock.Set(start.Add(account.CodeFailureWindow + 3*account.CodeResendInterval))
	codes = e.countKind(string(account.NoticeResetCode))
	forgot()
	if n := e.countKind(string(account.NoticeResetCode)); n != codes+1 {
		t.Errorf("reset codes sent a day later: %d, want 1", n-codes)
	}
}

// Someone who knows only the username cannot lock the owner out: after
// the lock their failures are not even checked, while the owner's right
// password still signs in from a network the account knows.
func TestLockoutSparesKnownNetworks(t *testing.T) {
	e := newEnv(t)
	e.register("bob", goodPassword, "55")
	if rec := e.loginFrom(home, "bob", goodPassword); rec.Code != http.StatusOK {
		t.Fatalf("first login = %d", rec.Code)
	}
	if rec := e.loginFrom(home6, "bob", goodPassword); rec.Code != http.StatusOK {
		t.Fatalf("login over IPv6 = %d", rec.Code)
	}
	for range account.MaxFailedLogins {
		wantProblem(t, e.loginFrom(attacker, "bob", "Wrong-Pass1!"), http.StatusUnauthorized, "invalid_credentials")
	}
	if n := e.countKind(string(account.NoticeAccountLocked)); n != 1 {
		t.Fatalf("account_locked notices = %d, want 1", n)
	}
	// Locked for the attacker, even with the right password.
	wantProblem(t, e.loginFrom(attacker, "bob", goodPassword), http.StatusUnauthorized, "invalid_credentials")
	// Open for the owner: the same address, and another in the same /64.
	for _, ip := range []string{home, "2001:db8:1:2::beef"} {
		if rec := e.loginFrom(ip, "bob", goodPassword); rec.Code != http.StatusOK {
			t.Errorf("owner's login from %s while locked = %d %s, want 200", ip, rec.Code, rec.Body)
		}
	}
	// Signing in from home did not unlock it for the attacker.
	wantProblem(t, e.loginFrom(attacker, "bob", goodPassword), http.StatusUnauthorized, "invalid_credentials")
	wantProblem(t, e.loginFrom("2001:db8:1:3::10", "bob", goodPassword), http.StatusUnauthorized, "invalid_credentials")
}

// The per-account login bucket, spent by someone failing elsewhere, does
// not turn the owner's right password into 429 on a known network.
func TestAccountLimitSparesKnownNetworks(t *testing.T) {
	e := newEnv(t, withLimits())
	e.register("bob", goodPassword, "55")
	if rec := e.loginFrom(home, "bob", goodPassword); rec.Code != http.StatusOK {
		t.Fatalf("first login = %d", rec.Code)
	}
	for {
		rec := e.loginFrom(attacker, "bob", "Wrong-Pass1!")
		if rec.Code == http.StatusTooManyRequests {
			break
		}
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("wrong login = %d %s", rec.Code, rec.Body)
		}
	}
	wantProblem(t, e.loginFrom("203.0.113.67", "bob", goodPassword), http.StatusTooManyRequests, "rate_limited")
	if rec := e.loginFrom(home, "bob", goodPassword); rec.Code != http.StatusOK {
		t.Errorf("owner's login from home with the bucket spent = %d %s, want 200", rec.Code, rec.Body)
	}
}

// change-password counts a wrong old_password toward the lockout, and
// refuses even the right one while locked, but on a known network.
func TestChangePasswordStoppedByLockout(t *testing.T) {
	e := newEnv(t)
	e.register("bob", goodPassword, "55")
	var tok tokenResponse
	decode(t, e.loginFrom(home, "bob", goodPassword), &tok)
	change := func(from, old, next string) *httptest.ResponseRecorder {
		body, ct := form("old_password", old, "new_password", next)
		return e.do(request{method: http.MethodPost, path: "/v1/change-password/", body: body, contentType: ct,
			header: bearer(tok.Token), from: from})
	}
	for range account.MaxFailedLogins {
		wantProblem(t, change(attacker, "Wrong-Pass1!", "Stolen-Acct9!"), http.StatusForbidden, "wrong_password")
	}
	if n := e.countKind(string(account.NoticeAccountLocked)); n != 1 {
		t.Fatalf("account_locked notices after %d wrong old passwords = %d, want 1", account.MaxFailedLogins, n)
	}
	wantProblem(t, change(attacker, goodPassword, "Stolen-Acct9!"), http.StatusForbidden, "wrong_password")
	if rec := change(home, goodPassword, "N3w-Secret!x"); rec.Code != http.StatusOK {
		t.Errorf("owner's change from home while locked = %d %s, want 200", rec.Code, rec.Body)
	}
}
