package httpapi

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"tgauth/internal/account"
	"tgauth/internal/accounttest"
	"tgauth/internal/token"
)

// The seed's register body, verbatim.
const seedRegister = `{
"email": "spongebob@bikinibottom.com",
"password": "BigBob27!",
"first_name": "Sponge Bob",
"last_name": "Squarepants",
"toc_accepted_at": "2024-07-01T12:34:56Z",
"privacy_policy_accepted_at": "2024-07-01T12:34:56Z"
}`

const spongebob = "spongebob@bikinibottom.com"

func postJSON(path, body string, header map[string]string) request {
	return request{method: http.MethodPost, path: path, body: body, contentType: "application/json", header: header}
}

// registerEmail registers the seed's user and fails the test otherwise.
func (e *env) registerEmail() {
	e.t.Helper()
	rec := e.do(postJSON("/v1/auth/register", seedRegister, map[string]string{"x-auth-token": "string"}))
	if rec.Code != http.StatusCreated {
		e.t.Fatalf("register: %d %s", rec.Code, rec.Body)
	}
}

// pair logs in through NOWATCH with kv fields and fails the test otherwise.
func (e *env) pair(path string, kv ...string) pairResponse {
	e.t.Helper()
	rec := e.postForm(path, kv...)
	if rec.Code != http.StatusOK {
		e.t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
	}
	var p pairResponse
	decode(e.t, rec, &p)
	return p
}

func TestRegisterEmail(t *testing.T) {
	e := newEnv(t)
	rec := e.do(postJSON("/v1/auth/register", seedRegister, map[string]string{"x-auth-token": "string"}))
	if rec.Code != http.StatusCreated || rec.Body.String() != `{"status":"success"}` {
		t.Fatalf("register = %d %s, want 201 {\"status\":\"success\"}", rec.Code, rec.Body)
	}
	tok := e.pair("/v1/auth/login", "email", "SpongeBob@BikiniBottom.com", "password", goodPassword).Access
	rec = e.do(request{method: http.MethodGet, path: "/v1/me", header: bearer(tok)})
	want := `{"id":1,"username":null,"email":"spongebob@bikinibottom.com","first_name":"Sponge Bob","last_name":"Squarepants","role":"user","telegram_linked":false,"created_at":"2026-11-25T12:00:00Z"}`
	if rec.Body.String() != want {
		t.Errorf("me = %s, want %s", rec.Body, want)
	}
	if n := len(e.outbox()); n != 0 {
		t.Errorf("outbox rows = %d for a user without a chat, want 0", n)
	}
	// Taken, in any case.
	body := strings.Replace(seedRegister, "spongebob@", "SPONGEBOB@", 1)
	p := wantProblem(t, e.do(postJSON("/v1/auth/register/", body, nil)), http.StatusConflict, "already_exists")
	if diff := cmp.Diff([]fieldError{{Field: "email", Message: "is already taken"}}, p.Errors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestRegisterEmailInvalid(t *testing.T) {
	valid := map[string]string{
		"email": spongebob, "password": goodPassword, "first_name": "Sponge Bob", "last_name": "Squarepants",
		"toc_accepted_at": "2024-07-01T12:34:56Z", "privacy_policy_accepted_at": "2024-07-01T12:34:56+02:00",
	}
	tests := []struct {
		name   string
		change map[string]string
		want   []fieldError
	}{
		{"everything missing", map[string]string{"email": "", "password": "", "first_name": "", "last_name": "", "toc_accepted_at": "", "privacy_policy_accepted_at": ""}, []fieldError{
			{Field: "email", Message: "is required"},
			{Field: "password", Message: "is required"},
			{Field: "first_name", Message: "is required"},
			{Field: "toc_accepted_at", Message: "is required"},
			{Field: "privacy_policy_accepted_at", Message: "is required"},
		}},
		{"not an email", map[string]string{"email": "Bob <bob@example.com>"}, []fieldError{{Field: "email", Message: "must be an email address like name@example.com"}}},
		{"email with an invisible character", map[string]string{"email": "spongebob\u200b@bikinibottom.com"}, []fieldError{{Field: "email", Message: "must be an email address like name@example.com"}}},
		{"email without a dot in the domain", map[string]string{"email": "bob@localhost"}, []fieldError{{Field: "email", Message: "must be an email address like name@example.com"}}},
		{"email too long", map[string]string{"email": strings.Repeat("a", 250) + "@b.co"}, []fieldError{{Field: "email", Message: "must be at most 254 characters"}}},
		{"password is the email", map[string]string{"email": "Bob.Smith1!@Example.com", "password": "bob.smith1!@example.com"}, []fieldError{
			{Field: "password", Message: "must contain an uppercase letter"},
			{Field: "password", Message: "must not be the same as your email or username"},
		}},
		{"name too long", map[string]string{"last_name": strings.Repeat("é", 101)}, []fieldError{{Field: "last_name", Message: "must be at most 100 characters"}}},
		{"name with control characters", map[string]string{"first_name": "Bob\x00"}, []fieldError{{Field: "first_name", Message: "must be text without control characters"}}},
		{"acceptance in the future", map[string]string{"toc_accepted_at": "2026-11-25T12:06:00Z"}, []fieldError{{Field: "toc_accepted_at", Message: "must not be in the future"}}},
		{"acceptance not RFC 3339", map[string]string{"privacy_policy_accepted_at": "01/07/2024"}, []fieldError{{Field: "privacy_policy_accepted_at", Message: "must be an RFC 3339 time like 2024-07-01T12:34:56Z"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			var kv []string
			for k, v := range valid {
				if c, ok := tt.change[k]; ok {
					v = c
				}
				kv = append(kv, k, v)
			}
			p := wantProblem(t, e.postForm("/v1/auth/register", kv...), http.StatusBadRequest, "validation_failed")
			if diff := cmp.Diff(tt.want, p.Errors); diff != "" {
				t.Errorf("errors (-want +got):\n%s", diff)
			}
			if n := e.count(`SELECT count(*) FROM users`); n != 0 {
				t.Errorf("users = %d, want 0", n)
			}
		})
	}
	// Within the allowed clock skew, "now" on a fast client is accepted.
	e := newEnv(t)
	rec := e.postForm("/v1/auth/register", "email", spongebob, "password", goodPassword, "first_name", "S",
		"toc_accepted_at", "2026-11-25T12:04:00Z", "privacy_policy_accepted_at", "2026-11-25T12:00:00.123456789Z")
	if rec.Code != http.StatusCreated {
		t.Errorf("register with times near now: %d %s", rec.Code, rec.Body)
	}
}

func TestLoginPair(t *testing.T) {
	e := newEnv(t)
	e.registerEmail()
	for _, path := range []string{"/v1/auth/login", "/v2/auth/login", "/v2/auth/login/"} {
		rec := e.do(postJSON(path, `{"email":"spongebob@bikinibottom.com","password":"BigBob27!"}`, nil))
		if rec.Code != http.StatusOK {
			t.Fatalf("%s: %d %s", path, rec.Code, rec.Body)
		}
		var got map[string]any
		decode(t, rec, &got)
		if len(got) != 3 || got["expiresIn"] != 3600.0 {
			t.Errorf("%s body = %s, want exactly access, refresh, expiresIn 3600", path, rec.Body)
		}
		var p pairResponse
		decode(t, rec, &p)
		a, err := e.issuer.Parse(p.Access, token.Access)
		if err != nil {
			t.Fatalf("access: %v", err)
		}
		r, err := e.issuer.Parse(p.Refresh, token.Refresh)
		if err != nil {
			t.Fatalf("refresh: %v", err)
		}
		if a.SessionID != r.SessionID || r.Generation != 0 || !r.ExpiresAt.Equal(e.clock.Now().Add(24*time.Hour)) {
			t.Errorf("access %+v, refresh %+v", a, r)
		}
	}
	wrong := e.do(postJSON("/v1/auth/login", `{"email":"spongebob@bikinibottom.com","password":"BigBob28!"}`, nil))
	unknown := e.do(postJSON("/v1/auth/login", `{"email":"garryTheSnail@bikinibottom.com","password":"BigBob27!"}`, nil))
	pw, pu := wantProblem(t, wrong, http.StatusUnauthorized, "invalid_credentials"), wantProblem(t, unknown, http.StatusUnauthorized, "invalid_credentials")
	pw.RequestID, pu.RequestID = "", ""
	if diff := cmp.Diff(pw, pu); diff != "" {
		t.Errorf("wrong password and unknown email differ (-wrong +unknown):\n%s", diff)
	}
	p := wantProblem(t, e.postForm("/v1/auth/login"), http.StatusBadRequest, "validation_failed")
	want := []fieldError{{Field: "email", Message: "is required"}, {Field: "password", Message: "is required"}}
	if diff := cmp.Diff(want, p.Errors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
}

func TestNewSignInNotice(t *testing.T) {
	e := newEnv(t)
	e.register("bob", goodPassword, "99")
	rec := e.do(request{method: http.MethodPost, path: "/v2/auth/login", body: "username=bob&password=BigBob27%21",
		contentType: "application/x-www-form-urlencoded", header: map[string]string{"User-Agent": "tgauth-test/1.0"}})
	if rec.Code != http.StatusOK {
		t.Fatalf("login by username: %d %s", rec.Code, rec.Body)
	}
	var p pairResponse
	decode(t, rec, &p)
	c, _ := e.issuer.Parse(p.Access, token.Access)
	rows := e.outbox()
	want := accounttest.Queued{ChatID: 99, Kind: "new_sign_in", Notice: account.Notice{
		UserID: 1, Account: "bob", At: e.clock.Now(), SessionID: c.SessionID, IP: "192.0.2.1", UserAgent: "tgauth-test/1.0",
	}}
	if diff := cmp.Diff(want, rows[len(rows)-1]); diff != "" {
		t.Errorf("notice (-want +got):\n%s", diff)
	}
}

func TestAdminLogin(t *testing.T) {
	e := newEnv(t)
	e.registerEmail()
	ctx := context.Background()
	if _, err := e.server.accounts.CreateUser(ctx, account.CreateUserParams{Email: "admin@example.com", Password: "Adm1n-Secret!", Admin: true}); err != nil {
		t.Fatal(err)
	}
	// A right password of a non-admin: 403, and no session opened.
	wantProblem(t, e.postForm("/v2/auth/login/admin", "email", spongebob, "password", goodPassword), http.StatusForbidden, "forbidden")
	// A wrong one: the same 401 as anywhere.
	wantProblem(t, e.postForm("/v2/auth/login/admin", "email", spongebob, "password", "Wrong-pass1"), http.StatusUnauthorized, "invalid_credentials")
	if n := e.count(`SELECT count(*) FROM sessions`); n != 0 {
		t.Errorf("sessions = %d after refused admin logins, want 0", n)
	}
	p := e.pair("/v2/auth/login/admin", "email", "admin@example.com", "password", "Adm1n-Secret!")
	c, err := e.issuer.Parse(p.Access, token.Access)
	if err != nil || c.Role != "admin" {
		t.Errorf("admin access claims = %+v, %v; want role admin", c, err)
	}
}

func TestRefreshRotation(t *testing.T) {
	e := newEnv(t)
	e.register("bob", goodPassword, "7")
	first := e.pair("/v1/auth/login", "username", "bob", "password", goodPassword)

	rec := e.do(postJSON("/v1/auth/refresh", `{"refresh":"`+first.Refresh+`"}`, nil))
	if rec.Code != http.StatusOK {
		t.Fatalf("refresh: %d %s", rec.Code, rec.Body)
	}
	var second pairResponse
	decode(t, rec, &second)
	r, err := e.issuer.Parse(second.Refresh, token.Refresh)
	if err != nil || r.Generation != 1 {
		t.Fatalf("rotated refresh = %+v, %v; want generation 1", r, err)
	}
	// Both access tokens name the live session.
	for _, tok := range []string{first.Access, second.Access} {
		if rec := e.do(request{method: http.MethodGet, path: "/v1/me", header: bearer(tok)}); rec.Code != http.StatusOK {
			t.Fatalf("me: %d %s", rec.Code, rec.Body)
		}
	}
	third := e.pair("/v1/auth/refresh/", "refresh", second.Refresh)

	// The first refresh token again: a reuse. The whole session dies.
	wantProblem(t, e.postForm("/v1/auth/refresh", "refresh", first.Refresh), http.StatusUnauthorized, "invalid_token")
	for _, tok := range []string{first.Access, third.Access} {
		wantProblem(t, e.do(request{method: http.MethodGet, path: "/v1/me", header: bearer(tok)}), http.StatusUnauthorized, "invalid_token")
	}
	wantProblem(t, e.postForm("/v1/auth/refresh", "refresh", third.Refresh), http.StatusUnauthorized, "invalid_token")
	if n := e.count(`SELECT count(*) FROM sessions WHERE revoke_reason = 'refresh_reused'`); n != 1 {
		t.Errorf("sessions revoked for reuse = %d, want 1", n)
	}
	kinds := e.kinds()
	if kinds[len(kinds)-1] != "refresh_reused" {
		t.Errorf("outbox kinds = %v, want a refresh_reused notice last", kinds)
	}
	// A new login is unaffected.
	e.pair("/v1/auth/login", "username", "bob", "password", goodPassword)
}

func TestRefreshRefused(t *testing.T) {
	e := newEnv(t)
	e.registerEmail()
	p := e.pair("/v1/auth/login", "email", spongebob, "password", goodPassword)
	wantProblem(t, e.postForm("/v1/auth/refresh", "refresh", p.Access), http.StatusUnauthorized, "invalid_token")
	wantProblem(t, e.do(request{method: http.MethodGet, path: "/v1/me", header: bearer(p.Refresh)}), http.StatusUnauthorized, "invalid_token")
	wantProblem(t, e.postForm("/v1/auth/refresh", "refresh", "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJ0eXAiOiJyZWZyZXNoIiwic3ViIjoiMTIzNCIsImV4cCI6MTYwMDA5MjAwMH0.signature"), http.StatusUnauthorized, "invalid_token")
	pr := wantProblem(t, e.postForm("/v1/auth/refresh"), http.StatusBadRequest, "validation_failed")
	if diff := cmp.Diff([]fieldError{{Field: "refresh", Message: "is required"}}, pr.Errors); diff != "" {
		t.Errorf("errors (-want +got):\n%s", diff)
	}
	e.clock.Advance(24 * time.Hour)
	wantProblem(t, e.postForm("/v1/auth/refresh", "refresh", p.Refresh), http.StatusUnauthorized, "invalid_token")
}

func TestSignOut(t *testing.T) {
	e := newEnv(t)
	e.registerEmail()
	a := e.pair("/v1/auth/login", "email", spongebob, "password", goodPassword)
	b := e.pair("/v2/auth/login", "email", spongebob, "password", goodPassword)
	signOut := func(tok, body string) *httptest.ResponseRecorder {
		h := map[string]string{"x-auth-token": "string"}
		if tok != "" {
			h["Authorization"] = "Bearer " + tok
		}
		return e.do(postJSON("/v1/auth/sign-out", body, h))
	}
	wantProblem(t, signOut("", `{"email":"spongebob@bikinibottom.com"}`), http.StatusUnauthorized, "missing_token")
	wantProblem(t, signOut(a.Access, `{"email":"someone@else.com"}`), http.StatusForbidden, "forbidden")
	wantProblem(t, signOut(a.Access, `{}`), http.StatusBadRequest, "validation_failed")
	if n := e.count(`SELECT count(*) FROM sessions WHERE revoked_at IS NULL`); n != 2 {
		t.Fatalf("live sessions = %d after refused sign-outs, want 2", n)
	}

	rec := signOut(a.Access, `{"email":"SpongeBob@bikinibottom.com"}`)
	if rec.Code != http.StatusOK || rec.Body.String() != `{"status":"success"}` {
		t.Fatalf("sign-out: %d %s", rec.Code, rec.Body)
	}
	for _, tok := range []string{a.Access, b.Access} {
		wantProblem(t, e.do(request{method: http.MethodGet, path: "/v1/me", header: bearer(tok)}), http.StatusUnauthorized, "invalid_token")
	}
	for _, tok := range []string{a.Refresh, b.Refresh} {
		wantProblem(t, e.postForm("/v1/auth/refresh", "refresh", tok), http.StatusUnauthorized, "invalid_token")
	}
	wantProblem(t, signOut(a.Access, `{"email":"spongebob@bikinibottom.com"}`), http.StatusUnauthorized, "invalid_token")
}

// A Watchdog account has a username and no email: it signs out by its
// username, with its own token, and by no one else's name.
func TestSignOutByUsername(t *testing.T) {
	e := newEnv(t)
	e.register("bob", goodPassword, "1")
	e.register("patrick", goodPassword, "2")
	e.registerEmail()
	tok := e.login("bob", goodPassword)
	pair := e.pair("/v2/auth/login", "username", "bob", "password", goodPassword)
	sponge := e.pair("/v1/auth/login", "email", spongebob, "password", goodPassword)
	if _, err := e.server.accounts.CreateUser(t.Context(), account.CreateUserParams{Email: "kate@bikinibottom.com", Username: "kate", Password: goodPassword}); err != nil {
		t.Fatal(err)
	}
	kate := e.pair("/v2/auth/login", "username", "kate", "password", goodPassword).Access
	signOut := func(tok string, kv ...string) *httptest.ResponseRecorder {
		body, ct := form(kv...)
		r := request{method: http.MethodPost, path: "/v1/auth/sign-out", body: body, contentType: ct}
		if tok != "" {
			r.header = bearer(tok)
		}
		return e.do(r)
	}
	for _, tt := range []struct {
		name string
		tok  string
		kv   []string
	}{
		{"another user's name", tok, []string{"username", "patrick"}},
		{"an unknown name", tok, []string{"username", "nobody"}},
		{"an email for a username account", tok, []string{"email", "bob@example.com"}},
		{"a username for an email account", sponge.Access, []string{"username", "bob"}},
		{"the right name, the wrong email", tok, []string{"username", "bob", "email", spongebob}},
		// The stores fold case in ASCII only: a Kelvin sign is not a k.
		{"a look-alike of the user's own name", kate, []string{"username", "\u212Aate"}},
		{"a look-alike of the user's own email", kate, []string{"username", "kate", "email", "\u212Aate@bikinibottom.com"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			wantProblem(t, signOut(tt.tok, tt.kv...), http.StatusForbidden, "forbidden")
		})
	}
	wantProblem(t, signOut("", "username", "bob"), http.StatusUnauthorized, "missing_token")
	if n := e.count(`SELECT count(*) FROM sessions WHERE revoked_at IS NULL`); n != 4 {
		t.Fatalf("live sessions = %d after refused sign-outs, want 4", n)
	}

	rec := signOut(tok, "username", "Bob")
	if rec.Code != http.StatusOK || rec.Body.String() != `{"status":"success"}` {
		t.Fatalf("sign-out by username: %d %s", rec.Code, rec.Body)
	}
	for _, tok := range []string{tok, pair.Access} {
		wantProblem(t, e.do(request{method: http.MethodGet, path: "/v1/me", header: bearer(tok)}), http.StatusUnauthorized, "invalid_token")
	}
	if rec := e.do(request{method: http.MethodGet, path: "/v1/me", header: bearer(sponge.Access)}); rec.Code != http.StatusOK {
		t.Errorf("another user's session after bob signed out: %d %s", rec.Code, rec.Body)
	}
}

// resetCode returns the code of the newest reset_code notice, as the bot
// would send it.
func (e *env) resetCode() string {
	e.t.Helper()
	rows := e.outbox()
	for i := len(rows) - 1; i >= 0; i-- {
		if rows[i].Kind == "reset_code" {
			return rows[i].Notice.Code
		}
	}
	e.t.Fatal("no reset_code in the outbox")
	return ""
}

func (e *env) countKind(kind string) int {
	return e.count(`SELECT count(*) FROM outbox WHERE kind = ?`, kind)
}

func TestResetFlow(t *testing.T) {
	e := newEnv(t)
	e.register("bob", goodPassword, "55")
	old := e.pair("/v1/auth/login", "username", "bob", "password", goodPassword)

	rec := e.postForm("/v1/auth/forgot_password", "username", "BOB")
	if rec.Code != http.StatusOK || rec.Body.String() != `{"status":"success"}` {
		t.Fatalf("forgot: %d %s", rec.Code, rec.Body)
	}
	rows := e.outbox()
	n := rows[len(rows)-1]
	if n.Kind != "reset_code" || n.ChatID != 55 || !regexp.MustCompile(`^\d{6}$`).MatchString(n.Notice.Code) ||
		!n.Notice.ExpiresAt.Equal(e.clock.Now().Add(10*time.Minute)) || n.Notice.Account != "bob" {
		t.Fatalf("reset notice = %+v", n)
	}
	if e.count(`SELECT count(*) FROM verification_codes WHERE code_hash = ?`, n.Notice.Code) != 0 {
		t.Error("the code is stored in clear")
	}
	code := n.Notice.Code

	// Policy first: a weak new password spends nothing.
	wantProblem(t, e.postForm("/v1/auth/confirm_new_password", "username", "bob", "verification_code", code, "new_password", "weak"), http.StatusBadRequest, "validation_failed")
	rec = e.do(postJSON("/v1/auth/confirm_new_password", `{"username":"bob","verification_code":"`+code+`","new_password":"N3w-Secret!"}`, nil))
	if rec.Code != http.StatusOK || rec.Body.String() != `{"status":"success"}` {
		t.Fatalf("confirm: %d %s", rec.Code, rec.Body)
	}
	// Every session ended; the new password works, the old does not.
	wantProblem(t, e.do(request{method: http.MethodGet, path: "/v1/me", header: bearer(old.Access)}), http.StatusUnauthorized, "invalid_token")
	wantProblem(t, e.postForm("/v1/auth/refresh", "refresh", old.Refresh), http.StatusUnauthorized, "invalid_token")
	wantProblem(t, e.postForm("/v1/login/", "username", "bob", "password", goodPassword), http.StatusUnauthorized, "invalid_credentials")
	e.login("bob", "N3w-Secret!")
	if e.countKind("password_reset") != 1 {
		t.Errorf("kinds = %v, want one password_reset notice", e.kinds())
	}
	// One use.
	wantProblem(t, e.postForm("/v1/auth/confirm_new_password", "username", "bob", "verification_code", code, "new_password", "N3wer-Secret!"), http.StatusBadRequest, "invalid_code")
}

func TestResetCodeRules(t *testing.T) {
	confirm := func(e *env, code, pw string) *httptest.ResponseRecorder {
		return e.postForm("/v1/auth/confirm_new_password", "username", "bob", "verification_code", code, "new_password", pw)
	}
	setup := func(t *testing.T) (*env, string) {
		e := newEnv(t)
		e.register("bob", goodPassword, "55")
		if rec := e.postForm("/v1/auth/forgot_password", "username", "bob"); rec.Code != http.StatusOK {
			t.Fatalf("forgot: %d %s", rec.Code, rec.Body)
		}
		return e, e.resetCode()
	}

	t.Run("five wrong tries burn it", func(t *testing.T) {
		e, code := setup(t)
		for range account.MaxCodeAttempts {
			wantProblem(t, confirm(e, wrongCode(code), "N3w-Secret!"), http.StatusBadRequest, "invalid_code")
		}
		wantProblem(t, confirm(e, code, "N3w-Secret!"), http.StatusBadRequest, "invalid_code")
		e.login("bob", goodPassword)
	})
	t.Run("four wrong tries do not", func(t *testing.T) {
		e, code := setup(t)
		for range account.MaxCodeAttempts - 1 {
			wantProblem(t, confirm(e, wrongCode(code), "N3w-Secret!"), http.StatusBadRequest, "invalid_code")
		}
		if rec := confirm(e, code, "N3w-Secret!"); rec.Code != http.StatusOK {
			t.Fatalf("confirm: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("expires after 10 minutes", func(t *testing.T) {
		e, code := setup(t)
		e.clock.Advance(account.CodeTTL)
		wantProblem(t, confirm(e, code, "N3w-Secret!"), http.StatusBadRequest, "invalid_code")
	})
	t.Run("valid just before expiry", func(t *testing.T) {
		e, code := setup(t)
		e.clock.Advance(account.CodeTTL - time.Second)
		if rec := confirm(e, code, "N3w-Secret!"); rec.Code != http.StatusOK {
			t.Fatalf("confirm: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("a newer code replaces the older", func(t *testing.T) {
		e, first := setup(t)
		e.clock.Advance(account.CodeResendInterval)
		e.postForm("/v1/auth/forgot_password", "username", "bob")
		second := e.resetCode()
		if e.countKind("reset_code") != 2 {
			t.Fatalf("kinds = %v, want two reset codes", e.kinds())
		}
		if first != second {
			wantProblem(t, confirm(e, first, "N3w-Secret!"), http.StatusBadRequest, "invalid_code")
		}
		if rec := confirm(e, second, "N3w-Secret!"); rec.Code != http.StatusOK {
			t.Fatalf("confirm: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("one send per minute", func(t *testing.T) {
		e, code := setup(t)
		e.clock.Advance(account.CodeResendInterval - time.Second)
		if rec := e.postForm("/v1/auth/forgot_password", "username", "bob"); rec.Code != http.StatusOK {
			t.Fatalf("forgot: %d %s", rec.Code, rec.Body)
		}
		if e.countKind("reset_code") != 1 {
			t.Fatalf("kinds = %v, want one reset code", e.kinds())
		}
		if rec := confirm(e, code, "N3w-Secret!"); rec.Code != http.StatusOK {
			t.Fatalf("the first code no longer works: %d %s", rec.Code, rec.Body)
		}
	})
	t.Run("lifts a lockout", func(t *testing.T) {
		e, code := setup(t)
		for range account.MaxFailedLogins {
			e.postForm("/v1/login/", "username", "bob", "password", "Wrong-pass1")
		}
		if rec := confirm(e, code, "N3w-Secret!"); rec.Code != http.StatusOK {
			t.Fatalf("confirm: %d %s", rec.Code, rec.Body)
		}
		e.login("bob", "N3w-Secret!")
	})
	t.Run("bad input", func(t *testing.T) {
		e, _ := setup(t)
		p := wantProblem(t, e.postForm("/v1/auth/confirm_new_password", "email", spongebob, "verification_code", "12ab"), http.StatusBadRequest, "validation_failed")
		want := []fieldError{{Field: "verification_code", Message: "must be 6 digits, or 12 for a code asked for in the chat"}, {Field: "new_password", Message: "is required"}}
		if diff := cmp.Diff(want, p.Errors); diff != "" {
			t.Errorf("errors (-want +got):\n%s", diff)
		}
	})
}

// forgot_password and confirm_new_password answer alike whether or not
// the account exists or has a chat.
func TestResetDoesNotEnumerate(t *testing.T) {
	e := newEnv(t)
	e.registerEmail() // no chat
	e.register("bob", goodPassword, "55")
	var bodies []string
	for _, kv := range [][]string{{"email", spongebob}, {"email", "nobody@example.com"}, {"username", "bob"}, {"username", "nobody"}} {
		rec := e.postForm("/v1/auth/forgot_password", kv...)
		bodies = append(bodies, rec.Body.String())
		if rec.Code != http.StatusOK {
			t.Errorf("forgot %v: %d", kv, rec.Code)
		}
	}
	for _, b := range bodies[1:] {
		if b != bodies[0] {
			t.Errorf("forgot bodies differ: %q vs %q", b, bodies[0])
		}
	}
	if e.countKind("reset_code") != 1 {
		t.Errorf("kinds = %v, want one code (bob's)", e.kinds())
	}
	wrong := wrongCode(e.resetCode())
	known := wantProblem(t, e.postForm("/v1/auth/confirm_new_password", "username", "bob", "verification_code", wrong, "new_password", "N3w-Secret!"), http.StatusBadRequest, "invalid_code")
	unknown := wantProblem(t, e.postForm("/v1/auth/confirm_new_password", "username", "nobody", "verification_code", wrong, "new_password", "N3w-Secret!"), http.StatusBadRequest, "invalid_code")
	known.RequestID, unknown.RequestID = "", ""
	if diff := cmp.Diff(known, unknown); diff != "" {
		t.Errorf("confirm answers differ (-known +unknown):\n%s", diff)
	}
}

func TestForgotPasswordFloor(t *testing.T) {
	e := newEnv(t, withService(account.Options{ForgotPasswordFloor: 50 * time.Millisecond}))
	start := time.Now()
	if rec := e.postForm("/v1/auth/forgot_password", "email", "nobody@example.com"); rec.Code != http.StatusOK {
		t.Fatalf("forgot: %d %s", rec.Code, rec.Body)
	}
	if d := time.Since(start); d < 50*time.Millisecond {
		t.Errorf("forgot_password for an unknown account answered in %v, under its 50ms floor", d)
	}
}

func TestRateLimits(t *testing.T) {
	t.Run("login per account", func(t *testing.T) {
		e := newEnv(t, withLimits())
		e.registerEmail()
		var rec *httptest.ResponseRecorder
		for range 11 {
			rec = e.postForm("/v1/auth/login", "email", spongebob, "password", "Wrong-pass1")
		}
		wantProblem(t, rec, http.StatusTooManyRequests, "rate_limited")
		if got := rec.Header().Get("Retry-After"); got != "6" {
			t.Errorf("Retry-After = %q, want 6", got)
		}
		// Another account from the same IP is still served.
		wantProblem(t, e.postForm("/v1/auth/login", "email", "other@example.com", "password", "Wrong-pass1"), http.StatusUnauthorized, "invalid_credentials")
		// The Watchdog login shares the account's bucket.
		wantProblem(t, e.postForm("/v1/login/", "username", "SPONGEBOB@bikinibottom.com", "password", "x"), http.StatusTooManyRequests, "rate_limited")
	})
	t.Run("login per IP", func(t *testing.T) {
		e := newEnv(t, withLimits())
		var rec *httptest.ResponseRecorder
		for i := range 21 {
			rec = e.postForm("/v1/auth/login", "email", "user"+strings.Repeat("x", i)+"@example.com", "password", "Wrong-pass1")
		}
		wantProblem(t, rec, http.StatusTooManyRequests, "rate_limited")
	})
	t.Run("forgot password per account", func(t *testing.T) {
		e := newEnv(t, withLimits())
		var rec *httptest.ResponseRecorder
		for range 4 {
			rec = e.postForm("/v1/auth/forgot_password", "email", "nobody@example.com")
		}
		wantProblem(t, rec, http.StatusTooManyRequests, "rate_limited")
		if got := rec.Header().Get("Retry-After"); got != "60" {
			t.Errorf("Retry-After = %q, want 60", got)
		}
	})
	t.Run("confirm per account", func(t *testing.T) {
		e := newEnv(t, withLimits())
		var rec *httptest.ResponseRecorder
		for range 6 {
			rec = e.postForm("/v1/auth/confirm_new_password", "email", "nobody@example.com", "verification_code", "123456", "new_password", "N3w-Secret!")
		}
		wantProblem(t, rec, http.StatusTooManyRequests, "rate_limited")
	})
	t.Run("register per IP", func(t *testing.T) {
		e := newEnv(t, withLimits())
		var rec *httptest.ResponseRecorder
		for i := range 11 {
			rec = e.postForm("/v1/register/", "username", "user"+strings.Repeat("x", i), "password", "weak", "account", "1")
		}
		wantProblem(t, rec, http.StatusTooManyRequests, "rate_limited")
	})
	t.Run("off", func(t *testing.T) {
		e := newEnv(t)
		for range 30 {
			wantProblem(t, e.postForm("/v1/auth/login", "email", spongebob, "password", "Wrong-pass1"), http.StatusUnauthorized, "invalid_credentials")
		}
	})
}

func TestTelegramLink(t *testing.T) {
	e := newEnv(t)
	e.registerEmail()
	tok := e.pair("/v1/auth/login", "email", spongebob, "password", goodPassword).Access
	wantProblem(t, e.do(request{method: http.MethodPost, path: "/v1/telegram/link", header: bearer(tok)}), http.StatusServiceUnavailable, "not_configured")
	wantProblem(t, e.do(request{method: http.MethodPost, path: "/v1/telegram/link"}), http.StatusUnauthorized, "missing_token")

	e = newEnv(t, withService(account.Options{BotUsername: "tgauth_bot"}))
	e.registerEmail()
	tok = e.pair("/v1/auth/login", "email", spongebob, "password", goodPassword).Access
	rec := e.do(request{method: http.MethodPost, path: "/v1/telegram/link/", header: bearer(tok),
		body: `{"password":"` + goodPassword + `"}`, contentType: "application/json"})
	if rec.Code != http.StatusOK {
		t.Fatalf("link: %d %s", rec.Code, rec.Body)
	}
	var got linkResponse
	decode(t, rec, &got)
	m := regexp.MustCompile(`^https://t\.me/tgauth_bot\?start=([A-Za-z0-9_-]{1,64})$`).FindStringSubmatch(got.Link)
	if m == nil || !got.ExpiresAt.Equal(e.clock.Now().Add(account.LinkCodeTTL)) {
		t.Fatalf("link = %+v", got)
	}
	if e.count(`SELECT count(*) FROM link_codes WHERE user_id = 1`) != 1 || e.count(`SELECT count(*) FROM link_codes WHERE code_hash = ?`, m[1]) != 0 {
		t.Error("want one link code, kept hashed")
	}
}

// wrongCode returns a well-formed code other than code.
func wrongCode(code string) string {
	if code == "000000" {
		return "000001"
	}
	return "000000"
}
