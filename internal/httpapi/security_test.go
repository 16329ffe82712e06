package httpapi

import (
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tgauth/internal/account"
	"tgauth/internal/accounttest"
	"tgauth/internal/config"
)

// answersAlike fails the test unless known and unknown carry the same
// status, headers and body, but for the request id.
func answersAlike(t *testing.T, known, unknown *httptest.ResponseRecorder) {
	t.Helper()
	if known.Code != unknown.Code {
		t.Errorf("status: known account %d, unknown %d", known.Code, unknown.Code)
	}
	hk, hu := known.Header().Clone(), unknown.Header().Clone()
	hk.Del(requestIDHeader)
	hu.Del(requestIDHeader)
	if diff := cmp.Diff(hk, hu); diff != "" {
		t.Errorf("headers differ (-known +unknown):\n%s", diff)
	}
	var bk, bu map[string]any
	decode(t, known, &bk)
	decode(t, unknown, &bu)
	delete(bk, "request_id")
	delete(bu, "request_id")
	if diff := cmp.Diff(bk, bu); diff != "" {
		t.Errorf("bodies differ (-known +unknown):\n%s", diff)
	}
}

// Every route that names an account answers an unknown one as it answers
// a known one, in status, headers and body, in the cases the dialect tests
// do not already compare: both login dialects by username, admin login,
// a locked account, a code resent too soon, a code never sent.
func TestNoUserEnumeration(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(e *env) // before the known request
		path    string
		known   []string
		unknown []string
	}{
		{
			name: "NOWATCH login by username, wrong password", path: "/v2/auth/login",
			known:   []string{"username", "bob", "password", "Wrong-pass1"},
			unknown: []string{"username", "nobody", "password", "Wrong-pass1"},
		},
		{
			name: "admin login, wrong password", path: "/v2/auth/login/admin",
			known:   []string{"email", spongebob, "password", "Wrong-pass1"},
			unknown: []string{"email", "nobody@example.com", "password", "Wrong-pass1"},
		},
		{
			name: "Watchdog login, locked account with its right password", path: "/v1/login/",
			setup: func(e *env) {
				for range account.MaxFailedLogins {
					e.postForm("/v1/login/", "username", "bob", "password", "Wrong-pass1")
				}
			},
			known:   []string{"username", "bob", "password", goodPassword},
			unknown: []string{"username", "nobody", "password", goodPassword},
		},
		{
			name: "NOWATCH login, locked account with its right password", path: "/v1/auth/login",
			setup: func(e *env) {
				for range account.MaxFailedLogins {
					e.postForm("/v1/auth/login", "email", spongebob, "password", "Wrong-pass1")
				}
			},
			known:   []string{"email", spongebob, "password", goodPassword},
			unknown: []string{"email", "nobody@example.com", "password", goodPassword},
		},
		{
			name: "forgot password, a code sent less than a minute ago", path: "/v1/auth/forgot_password",
			setup: func(e *env) {
				e.postForm("/v1/auth/forgot_password", "username", "bob")
				e.clock.Advance(account.CodeResendInterval / 2)
			},
			known:   []string{"username", "bob"},
			unknown: []string{"username", "nobody"},
		},
		{
			name: "confirm, no code ever sent", path: "/v1/auth/confirm_new_password",
			known:   []string{"email", spongebob, "verification_code", "123456", "new_password", "N3w-Secret!"},
			unknown: []string{"email", "nobody@example.com", "verification_code", "123456", "new_password", "N3w-Secret!"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.registerEmail()
			e.register("bob", goodPassword, "55")
			if _, err := e.server.accounts.CreateUser(context.Background(), account.CreateUserParams{Email: "admin@example.com", Password: "Adm1n-Secret!", Admin: true}); err != nil {
				t.Fatal(err)
			}
			if tt.setup != nil {
				tt.setup(e)
			}
			known := e.postForm(tt.path, tt.known...)
			unknown := e.postForm(tt.path, tt.unknown...)
			if known.Code >= 500 {
				t.Fatalf("known: %d %s", known.Code, known.Body)
			}
			answersAlike(t, known, unknown)
		})
	}
}

// Not a password, code, token, link code or key reaches the log, at
// DEBUG level, over a whole flow of both dialects, nor a password hash.
func TestNoSecretsInLogs(t *testing.T) {
	const clientToken = "client-t0ken-secret"
	e := newEnv(t,
		withService(account.Options{BotUsername: "tgauth_bot"}),
		withHTTP(func(h *config.HTTP) { h.ClientTokens = []string{clientToken} }))
	logs := &accounttest.LogBuffer{}
	e.server.log = slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug, AddSource: true}))
	secrets := []string{clientToken, goodPassword}
	keep := func(s ...string) {
		for _, v := range s {
			if v == "" {
				t.Fatal("an empty secret")
			}
			secrets = append(secrets, v)
			// A JWT's signature alone is secret too.
			if parts := strings.Split(v, "."); len(parts) == 3 {
				secrets = append(secrets, parts[2])
			}
		}
	}
	client := map[string]string{"x-auth-token": clientToken}
	mustOK := func(rec *httptest.ResponseRecorder) *httptest.ResponseRecorder {
		t.Helper()
		if rec.Code/100 != 2 {
			t.Fatalf("%d %s", rec.Code, rec.Body)
		}
		return rec
	}
	postClient := func(path string, kv ...string) *httptest.ResponseRecorder {
		body, ct := form(kv...)
		h := map[string]string{"x-auth-token": clientToken}
		return e.do(request{method: http.MethodPost, path: path, body: body, contentType: ct, header: h})
	}
	withBearer := func(tok string) map[string]string {
		return map[string]string{"x-auth-token": clientToken, "Authorization": "Bearer " + tok}
	}

	// Watchdog: register, login, me, change password.
	mustOK(postClient("/v1/register/", "username", "bob", "password", goodPassword, "account", "55"))
	e.confirmChat(1, "55")
	var wd tokenResponse
	decode(t, mustOK(postClient("/v1/login/", "username", "bob", "password", goodPassword)), &wd)
	tok := wd.Token
	keep(tok)
	mustOK(e.do(request{method: http.MethodGet, path: "/v1/me", header: withBearer(tok)}))
	body, ct := form("old_password", goodPassword, "new_password", "N3w-Secret!")
	mustOK(e.do(request{method: http.MethodPost, path: "/v1/change-password/", header: withBearer(tok), body: body, contentType: ct}))
	keep("N3w-Secret!")
	// A wrong password and a failed change, for the error paths.
	postClient("/v1/login/", "username", "bob", "password", "Wr0ng-Secret!")
	body, ct = form("old_password", "Wr0ng-Old!1", "new_password", "Wr0ng-New!1")
	e.do(request{method: http.MethodPost, path: "/v1/change-password/", header: withBearer(tok), body: body, contentType: ct})
	keep("Wr0ng-Secret!", "Wr0ng-Old!1", "Wr0ng-New!1")

	// NOWATCH: register, login, refresh, link, forgot, confirm, sign out.
	mustOK(e.do(postJSON("/v1/auth/register", seedRegister, client)))
	var pair pairResponse
	decode(t, mustOK(e.do(postJSON("/v1/auth/login", `{"email":"`+spongebob+`","password":"`+goodPassword+`"}`, client))), &pair)
	keep(pair.Access, pair.Refresh)
	var pair2 pairResponse
	decode(t, mustOK(e.do(postJSON("/v2/auth/login", `{"username":"bob","password":"N3w-Secret!"}`, client))), &pair2)
	keep(pair2.Access, pair2.Refresh)
	var rotated pairResponse
	decode(t, mustOK(postClient("/v1/auth/refresh", "refresh", pair.Refresh)), &rotated)
	keep(rotated.Access, rotated.Refresh)
	// The spent refresh token again: a reuse, which is logged nowhere
	// but the outbox.
	postClient("/v1/auth/refresh", "refresh", pair.Refresh)

	var link linkResponse
	decode(t, mustOK(e.do(postJSON("/v1/telegram/link", `{"password":"N3w-Secret!"}`, withBearer(pair2.Access)))), &link)
	u, err := url.Parse(link.Link)
	if err != nil {
		t.Fatal(err)
	}
	keep(u.Query().Get("start"))

	mustOK(postClient("/v1/auth/forgot_password", "username", "bob"))
	code := e.resetCode()
	keep(code, wrongCode(code))
	postClient("/v1/auth/confirm_new_password", "username", "bob", "verification_code", wrongCode(code), "new_password", "N3wer-Secret!")
	mustOK(postClient("/v1/auth/confirm_new_password", "username", "bob", "verification_code", code, "new_password", "N3wer-Secret!"))
	keep("N3wer-Secret!")
	// The reuse ended spongebob's session: a new one to sign out of.
	var pair3 pairResponse
	decode(t, mustOK(postClient("/v1/auth/login", "email", spongebob, "password", goodPassword)), &pair3)
	keep(pair3.Access, pair3.Refresh)
	mustOK(e.do(postJSON("/v1/auth/sign-out", `{"email":"`+spongebob+`"}`, withBearer(pair3.Access))))

	jwtSecret, created, err := account.InitSecret(context.Background(), e.store, "jwt_secret", e.clock.Now())
	if err != nil || created {
		t.Fatalf("InitSecret = %v, created %v; want the stored secret", err, created)
	}
	keep(string(jwtSecret))

	got := logs.String()
	if n := strings.Count(got, "msg=\"http request\""); n < 15 {
		t.Fatalf("%d access log lines, want one per request:\n%s", n, got)
	}
	for _, s := range secrets {
		if strings.Contains(got, s) {
			t.Errorf("the log contains the secret %q", s)
		}
	}
	for _, s := range []string{"$argon2id$", url.QueryEscape(goodPassword)} {
		if strings.Contains(got, s) {
			t.Errorf("the log contains %q", s)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", got)
	}
}
