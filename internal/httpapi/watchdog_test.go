package httpapi

import (
	"context"
	"encoding/base64"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"tgauth/internal/account"
	"tgauth/internal/accounttest"
	"tgauth/internal/token"
)

const goodPassword = "BigBob27!"

func TestRegister(t *testing.T) {
	tests := []struct {
		name        string
		path        string
		body        string
		contentType string
	}{
		{"form with slash", "/v1/register/", "username=bob&password=BigBob27%21&account=12345", "application/x-www-form-urlencoded"},
		{"form without slash", "/v1/register", "username=bob&password=BigBob27%21&account=12345", "application/x-www-form-urlencoded"},
		{"json string chat id", "/v1/register/", `{"username":"bob","password":"BigBob27!","account":"12345"}`, "application/json"},
		{"json number chat id", "/v1/register", `{"username":"bob","password":"BigBob27!","account":12345}`, "application/json; charset=utf-8"},
		{"json without content type", "/v1/register/", `{"username":"bob","password":"BigBob27!","account":12345}`, ""},
		{"multipart", "/v1/register/", "--X\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nbob\r\n--X\r\nContent-Disposition: form-data; name=\"password\"\r\n\r\nBigBob27!\r\n--X\r\nContent-Disposition: form-data; name=\"account\"\r\n\r\n12345\r\n--X--\r\n", "multipart/form-data; boundary=X"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			rec := e.do(request{method: http.MethodPost, path: tt.path, body: tt.body, contentType: tt.contentType})
			if rec.Code != http.StatusCreated {
				t.Fatalf("status = %d, want 201; body %s", rec.Code, rec.Body)
			}
			if ct := rec.Header().Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
				t.Errorf("Content-Type = %q", ct)
			}
			// The exact shape the Watchdog docs show.
			if got, want := rec.Body.String(), `{"message":"User bob was created","id":1,"chat_id":12345}`; got != want {
				t.Errorf("body = %s, want %s", got, want)
			}
			// The chat is only claimed: it is asked, and told nothing else.
			want := []accounttest.Queued{{ChatID: 12345, Kind: "confirm_chat", Notice: account.Notice{UserID: 1, Account: "bob", At: e.clock.Now()}}}
			if diff := cmp.Diff(want, e.outbox()); diff != "" {
				t.Errorf("outbox (-want +got):\n%s", diff)
			}
		})
	}
}

func TestRegisterInvalid(t *testing.T) {
	long := strings.Repeat("a", 65)
	tests := []struct {
		name string
		kv   []string
		want []fieldError
	}{
		{"all missing", nil, []fieldError{
			{Field: "username", Message: "is required"},
			{Field: "password", Message: "is required"},
			{Field: "account", Message: "is required"},
		}},
		{"all empty", []string{"username", "", "password", "", "account", ""}, []fieldError{
			{Field: "username", Message: "is required"},
			{Field: "password", Message: "is required"},
			{Field: "account", Message: "is required"},
		}},
		{"username too long", []string{"username", long, "password", goodPassword, "account", "1"}, []fieldError{
			{Field: "username", Message: "must be at most 64 characters"},
		}},
		{"username too short and odd characters", []string{"username", "b ", "password", goodPassword, "account", "1"}, []fieldError{
			{Field: "username", Message: "must be at least 3 characters"},
			{Field: "username", Message: "may contain only letters A-Z, digits, '_', '.' and '-'"},
		}},
		{"chat id not an integer", []string{"username", "bob", "password", goodPassword, "account", "12ab"}, []fieldError{
			{Field: "account", Message: "must be an integer (the Telegram chat id the bot's /start shows)"},
		}},
		{"chat id oversized", []string{"username", "bob", "password", goodPassword, "account", strings.Repeat("9", 40)}, []fieldError{
			{Field: "account", Message: "must be an integer (the Telegram chat id the bot's /start shows)"},
		}},
		{"group chat id", []string{"username", "bob", "password", goodPassword, "account", "-100123"}, []fieldError{
			{Field: "account", Message: "must be a positive integer: only a private chat with the bot can be linked"},
		}},
		{"password policy, each rule its own entry", []string{"username", "bob", "password", "short", "account", "1"}, []fieldError{
			{Field: "password", Message: "must be at least 8 characters"},
			{Field: "password", Message: "must contain an uppercase letter"},
			{Field: "password", Message: "must contain a digit"},
			{Field: "password", Message: "must contain a special character (one of ^$*.[]{}()?-“!@#%&/,><’:;|_~+, as NOWATCH lists them; straight quotes count too)"},
		}},
		{"password equals username", []string{"username", "Bob.Builder-1!", "password", "bob.builder-1!", "account", "1"}, []fieldError{
			{Field: "username", Message: "may contain only letters A-Z, digits, '_', '.' and '-'"},
			{Field: "password", Message: "must contain an uppercase letter"},
			{Field: "password", Message: "must not be the same as your email or username"},
		}},
		{"common password", []string{"username", "bob", "password", "P@ssw0rd", "account", "1"}, []fieldError{
			{Field: "password", Message: "is a well-known common password"},
		}},
		{"password oversized", []string{"username", "bob", "password", "Aa1!" + strings.Repeat("x", 300), "account", "1"}, []fieldError{
			{Field: "password", Message: "must be at most 256 characters"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			rec := e.postForm("/v1/register/", tt.kv...)
			p := wantProblem(t, rec, http.StatusBadRequest, "validation_failed")
			if diff := cmp.Diff(tt.want, p.Errors); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if n := e.count(`SELECT count(*) FROM users`); n != 0 {
				t.Errorf("users = %d after a refused registration, want 0", n)
			}
		})
	}
}

func TestRegisterPasswordEqualToUsername(t *testing.T) {
	e := newEnv(t)
	rec := e.postForm("/v1/register/", "username", "Big.Bob_27", "password", "big.bob_27", "account", "1")
	p := wantProblem(t, rec, http.StatusBadRequest, "validation_failed")
	if !containsField(p.Errors, "password", "must not be the same as your email or username") {
		t.Errorf("errors = %+v, want the identity rule", p.Errors)
	}
}

func containsField(errs []fieldError, field, msg string) bool {
	for _, f := range errs {
		if f.Field == field && f.Message == msg {
			return true
		}
	}
	return false
}

func TestRegisterJSONWrongType(t *testing.T) {
	e := newEnv(t)
	rec := e.do(request{method: http.MethodPost, path: "/v1/register/", contentType: "application/json",
		body: `{"username":["bob"],"password":"BigBob27!","account":true,"other":{}}`})
	p := wantProblem(t, rec, http.StatusBadRequest, "validation_failed")
	want := []fieldError{{Field: "username", Message: "must be a string"}, {Field: "account", Message: "must be a string"}}
	if diff := cmp.Diff(want, p.Errors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestRegisterTakenUsername(t *testing.T) {
	e := newEnv(t)
	e.register("bob", goodPassword, "1")
	for _, name := range []string{"bob", "BOB", "Bob"} {
		rec := e.postForm("/v1/register", "username", name, "password", goodPassword, "account", "2")
		p := wantProblem(t, rec, http.StatusConflict, "already_exists")
		if diff := cmp.Diff([]fieldError{{Field: "username", Message: "is already taken"}}, p.Errors); diff != "" {
			t.Errorf("register %q errors (-want +got):\n%s", name, diff)
		}
	}
	if n := e.count(`SELECT count(*) FROM users`); n != 1 {
		t.Errorf("users = %d, want 1", n)
	}
	if n := len(e.outbox()); n != 1 {
		t.Errorf("outbox rows = %d, want 1 (only the first registration's)", n)
	}
}

// failingOutbox is a store whose transactions fail at the outbox insert: a
// registration that breaks midway.
type failingOutbox struct{ account.Store }

func (f failingOutbox) InTx(ctx context.Context, fn func(account.Tx) error) error {
	return f.Store.InTx(ctx, func(tx account.Tx) error { return fn(failingOutboxTx{tx}) })
}

type failingOutboxTx struct{ account.Tx }

func (failingOutboxTx) InsertOutbox(context.Context, *account.OutboxMessage) error {
	return errors.New("disk full")
}

func TestRegisterFailingMidwayLeavesNothing(t *testing.T) {
	e := newEnv(t, withStore(func(s account.Store) account.Store { return failingOutbox{s} }))
	rec := e.postForm("/v1/register/", "username", "bob", "password", goodPassword, "account", "12345")
	p := wantProblem(t, rec, http.StatusInternalServerError, "internal_error")
	if strings.Contains(p.Detail, "disk full") {
		t.Errorf("detail %q leaks the cause", p.Detail)
	}
	if n := e.count(`SELECT count(*) FROM users`); n != 0 {
		t.Errorf("users = %d, want 0: the user row outlived its failed transaction", n)
	}
	if n := e.count(`SELECT count(*) FROM outbox`); n != 0 {
		t.Errorf("outbox = %d, want 0", n)
	}
	if !strings.Contains(e.logs.String(), "disk full") || !strings.Contains(e.logs.String(), p.RequestID) {
		t.Errorf("the cause and request id should be logged; logs:\n%s", e.logs)
	}
}

func TestLogin(t *testing.T) {
	e := newEnv(t)
	e.register("bob", goodPassword, "1")
	for _, path := range []string{"/v1/login/", "/v1/login"} {
		for _, name := range []string{"bob", "BOB"} {
			tok := e.login(name, goodPassword)
			c, err := e.issuer.Parse(tok, token.Access)
			if err != nil {
				t.Fatalf("login %s %s: token does not parse: %v", path, name, err)
			}
			if c.UserID != 1 || c.Role != "user" || c.SessionID == "" || !c.ExpiresAt.Equal(e.clock.Now().Add(time.Hour)) {
				t.Errorf("claims = %+v", c)
			}
		}
	}
	if n := e.count(`SELECT count(*) FROM sessions WHERE user_id = 1 AND revoked_at IS NULL`); n != 4 {
		t.Errorf("live sessions = %d, want one per login (4)", n)
	}
}

func TestLoginJSON(t *testing.T) {
	e := newEnv(t)
	e.register("bob", goodPassword, "1")
	rec := e.do(request{method: http.MethodPost, path: "/v1/login", contentType: "application/json",
		body: `{"username":"bob","password":"BigBob27!"}`})
	if rec.Code != http.StatusOK {
		t.Fatalf("status = %d; body %s", rec.Code, rec.Body)
	}
	var got map[string]string
	decode(t, rec, &got)
	if len(got) != 1 || got["token"] == "" {
		t.Errorf("body = %s, want exactly {\"token\": ...}", rec.Body)
	}
}

func TestLoginRefusedAlike(t *testing.T) {
	e := newEnv(t)
	e.register("bob", goodPassword, "1")
	wrong := e.postForm("/v1/login/", "username", "bob", "password", "BigBob28!")
	unknown := e.postForm("/v1/login/", "username", "alice", "password", goodPassword)
	pw := wantProblem(t, wrong, http.StatusUnauthorized, "invalid_credentials")
	pu := wantProblem(t, unknown, http.StatusUnauthorized, "invalid_credentials")
	pw.RequestID, pu.RequestID = "", ""
	if diff := cmp.Diff(pw, pu); diff != "" {
		t.Errorf("wrong password and unknown user answer differently (-wrong +unknown):\n%s", diff)
	}
	if wrong.Header().Get("WWW-Authenticate") != unknown.Header().Get("WWW-Authenticate") {
		t.Errorf("WWW-Authenticate differs")
	}
	if n := e.count(`SELECT count(*) FROM sessions`); n != 0 {
		t.Errorf("sessions = %d after refused logins, want 0", n)
	}
}

func TestLoginInvalidInput(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name string
		kv   []string
		want []fieldError
	}{
		{"missing", nil, []fieldError{{Field: "username", Message: "is required"}, {Field: "password", Message: "is required"}}},
		{"oversized", []string{"username", strings.Repeat("b", 65), "password", strings.Repeat("p", 257)}, []fieldError{
			{Field: "username", Message: "must be at most 64 characters"},
			{Field: "password", Message: "must be at most 256 characters"},
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := wantProblem(t, e.postForm("/v1/login/", tt.kv...), http.StatusBadRequest, "validation_failed")
			if diff := cmp.Diff(tt.want, p.Errors); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoginLockout(t *testing.T) {
	e := newEnv(t)
	e.register("bob", goodPassword, "77")
	for i := range account.MaxFailedLogins {
		rec := e.postForm("/v1/login/", "username", "bob", "password", "Wrong-pass1")
		wantProblem(t, rec, http.StatusUnauthorized, "invalid_credentials")
		if i < account.MaxFailedLogins-1 && e.count(`SELECT count(*) FROM users WHERE locked_until IS NOT NULL`) != 0 {
			t.Fatalf("locked after %d failures", i+1)
		}
	}
	// Locked: the right password gets the same answer as a wrong one.
	rec := e.postForm("/v1/login/", "username", "bob", "password", goodPassword)
	wantProblem(t, rec, http.StatusUnauthorized, "invalid_credentials")
	rows := e.outbox()
	if len(rows) != 2 || rows[1].Kind != "account_locked" || rows[1].ChatID != 77 ||
		!rows[1].Notice.LockedUntil.Equal(e.clock.Now().Add(account.LockDuration)) {
		t.Fatalf("outbox = %+v, want account_linked then account_locked until +15m", rows)
	}
	e.clock.Advance(account.LockDuration)
	e.login("bob", goodPassword)
	if n := e.count(`SELECT failed_logins FROM users`); n != 0 {
		t.Errorf("failed_logins = %d after a good login, want 0", n)
	}
}

func TestLoginSuccessResetsFailures(t *testing.T) {
	e := newEnv(t)
	e.register("bob", goodPassword, "1")
	for range account.MaxFailedLogins - 1 {
		e.postForm("/v1/login/", "username", "bob", "password", "Wrong-pass1")
	}
	e.login("bob", goodPassword)
	e.postForm("/v1/login/", "username", "bob", "password", "Wrong-pass1")
	e.login("bob", goodPassword) // would be locked had the run not been reset
}

func TestChangePassword(t *testing.T) {
	e := newEnv(t)
	e.register("bob", goodPassword, "42")
	tok := e.login("bob", goodPassword)
	other := e.login("bob", goodPassword)

	rec := e.do(request{method: http.MethodPost, path: "/v1/change-password/", header: bearer(tok),
		contentType: "application/x-www-form-urlencoded", body: "old_password=BigBob27%21&new_password=N3w-Secret%21"})
	if rec.Code != http.StatusOK || rec.Body.String() != `{"message":"Password changed successfully"}` {
		t.Fatalf("change password: %d %s", rec.Code, rec.Body)
	}
	// The session that changed it lives on; every other one is revoked.
	if rec := e.do(request{method: http.MethodGet, path: "/v1/me", header: bearer(tok)}); rec.Code != http.StatusOK {
		t.Errorf("own session after change: %d %s", rec.Code, rec.Body)
	}
	wantProblem(t, e.do(request{method: http.MethodGet, path: "/v1/me", header: bearer(other)}), http.StatusUnauthorized, "invalid_token")
	if n := e.count(`SELECT count(*) FROM sessions WHERE revoke_reason = 'password_changed'`); n != 1 {
		t.Errorf("revoked sessions = %d, want 1", n)
	}
	wantProblem(t, e.postForm("/v1/login/", "username", "bob", "password", goodPassword), http.StatusUnauthorized, "invalid_credentials")
	e.login("bob", "N3w-Secret!")

	want := []string{"confirm_chat", "new_sign_in", "new_sign_in", "password_changed", "new_sign_in"}
	if diff := cmp.Diff(want, e.kinds()); diff != "" {
		t.Errorf("outbox kinds (-want +got):\n%s", diff)
	}
	if r := e.outbox()[3]; r.ChatID != 42 || r.Notice.Account != "bob" || r.Notice.UserID != 1 {
		t.Errorf("password_changed notice = %+v", r)
	}
}

func TestChangePasswordRefused(t *testing.T) {
	e := newEnv(t)
	e.register("bob", goodPassword, "42")
	tok := e.login("bob", goodPassword)
	change := func(kv ...string) *request {
		body, ct := form(kv...)
		return &request{method: http.MethodPost, path: "/v1/change-password", header: bearer(tok), body: body, contentType: ct}
	}

	p := wantProblem(t, e.do(*change("old_password", "Wrong-pass1", "new_password", "N3w-Secret!")), http.StatusForbidden, "wrong_password")
	if diff := cmp.Diff([]fieldError{{Field: "old_password", Message: "does not match the current password"}}, p.Errors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	if n := e.count(`SELECT failed_logins FROM users`); n != 1 {
		t.Errorf("failed_logins = %d, want 1: a wrong old password counts", n)
	}

	p = wantProblem(t, e.do(*change()), http.StatusBadRequest, "validation_failed")
	want := []fieldError{{Field: "old_password", Message: "is required"}, {Field: "new_password", Message: "is required"}}
	if diff := cmp.Diff(want, p.Errors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}

	p = wantProblem(t, e.do(*change("old_password", goodPassword, "new_password", goodPassword)), http.StatusBadRequest, "validation_failed")
	if diff := cmp.Diff([]fieldError{{Field: "new_password", Message: "must differ from the old password"}}, p.Errors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}

	p = wantProblem(t, e.do(*change("old_password", goodPassword, "new_password", "weak")), http.StatusBadRequest, "validation_failed")
	if len(p.Errors) != 4 {
		t.Errorf("errors = %+v, want the four broken rules of %q", p.Errors, "weak")
	}

	// Nothing changed: the old password still works; no password notice.
	e.login("bob", goodPassword)
	if diff := cmp.Diff([]string{"confirm_chat", "new_sign_in", "new_sign_in"}, e.kinds()); diff != "" {
		t.Errorf("outbox kinds (-want +got):\n%s", diff)
	}
}

func TestChangePasswordNeedsToken(t *testing.T) {
	e := newEnv(t)
	body, ct := form("old_password", goodPassword, "new_password", "N3w-Secret!")
	rec := e.do(request{method: http.MethodPost, path: "/v1/change-password/", body: body, contentType: ct})
	wantProblem(t, rec, http.StatusUnauthorized, "missing_token")
	if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer realm="tgauth"` {
		t.Errorf("WWW-Authenticate = %q", got)
	}
}

func TestBadTokens(t *testing.T) {
	e := newEnv(t)
	e.register("bob", goodPassword, "1")
	good := e.login("bob", goodPassword)
	claims, err := e.issuer.Parse(good, token.Access)
	if err != nil {
		t.Fatal(err)
	}
	otherIssuer, err := token.NewIssuer([]byte(strings.Repeat("k", 32)), "tgauth", e.clock.Now)
	if err != nil {
		t.Fatal(err)
	}
	wronglySigned, err := otherIssuer.Issue(claims)
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(good, ".")
	algNone := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`)) + "." + parts[1] + "."
	unknownSession := claims
	unknownSession.SessionID = "no-such-session"
	unknownSessionTok, err := e.issuer.Issue(unknownSession)
	if err != nil {
		t.Fatal(err)
	}
	otherUser := claims
	otherUser.UserID = 2
	otherUserTok, err := e.issuer.Issue(otherUser)
	if err != nil {
		t.Fatal(err)
	}
	refresh := claims
	refresh.Type = token.Refresh
	refresh.Generation = 1
	refreshTok, err := e.issuer.Issue(refresh)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name, header string
	}{
		{"not bearer", "Basic Ym9iOnB3"},
		{"empty bearer", "Bearer "},
		{"malformed", "Bearer not.a.jwt"},
		{"garbage", "Bearer " + strings.Repeat("A", 5000)},
		{"wrongly signed", "Bearer " + wronglySigned},
		{"alg none", "Bearer " + algNone},
		{"tampered", "Bearer " + parts[0] + "." + parts[1] + "x." + parts[2]},
		{"unknown session", "Bearer " + unknownSessionTok},
		{"session of another user", "Bearer " + otherUserTok},
		{"refresh token as access", "Bearer " + refreshTok},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.do(request{method: http.MethodGet, path: "/v1/me", header: map[string]string{"Authorization": tt.header}})
			wantProblem(t, rec, http.StatusUnauthorized, "invalid_token")
			if got := rec.Header().Get("WWW-Authenticate"); got != `Bearer realm="tgauth", error="invalid_token"` {
				t.Errorf("WWW-Authenticate = %q", got)
			}
		})
	}

	// The good token works until it expires.
	if rec := e.do(request{method: http.MethodGet, path: "/v1/me", header: bearer(good)}); rec.Code != http.StatusOK {
		t.Fatalf("good token: %d %s", rec.Code, rec.Body)
	}
	e.clock.Advance(time.Hour)
	wantProblem(t, e.do(request{method: http.MethodGet, path: "/v1/me", header: bearer(good)}), http.StatusUnauthorized, "invalid_token")
}

func TestRevokedSessionRefusedAtOnce(t *testing.T) {
	e := newEnv(t)
	e.register("bob", goodPassword, "1")
	tok := e.login("bob", goodPassword)
	other := e.login("bob", goodPassword)
	_, err := e.server.accounts.Authenticate(context.Background(), tok)
	if err != nil {
		t.Fatal(err)
	}
	body, ct := form("old_password", goodPassword, "new_password", "N3w-Secret!")
	if rec := e.do(request{method: http.MethodPost, path: "/v1/change-password", header: bearer(other), body: body, contentType: ct}); rec.Code != http.StatusOK {
		t.Fatalf("change: %d %s", rec.Code, rec.Body)
	}
	// tok's session was revoked by the change: it is refused although the
	// JWT itself is valid for another hour.
	body, ct = form("old_password", "N3w-Secret!", "new_password", "N3wer-Secret!")
	rec := e.do(request{method: http.MethodPost, path: "/v1/change-password", header: bearer(tok), body: body, contentType: ct})
	wantProblem(t, rec, http.StatusUnauthorized, "invalid_token")
}

func TestMe(t *testing.T) {
	e := newEnv(t)
	e.register("bob", goodPassword, "5")
	tok := e.login("bob", goodPassword)
	for _, path := range []string{"/v1/me", "/v1/me/"} {
		rec := e.do(request{method: http.MethodGet, path: path, header: bearer(tok)})
		want := `{"id":1,"username":"bob","email":null,"first_name":null,"last_name":null,"role":"user","telegram_linked":true,"created_at":"2026-11-25T12:00:00Z"}`
		if rec.Code != http.StatusOK || rec.Body.String() != want {
			t.Errorf("GET %s = %d %s, want 200 %s", path, rec.Code, rec.Body, want)
		}
	}
}
