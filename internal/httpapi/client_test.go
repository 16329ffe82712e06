package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"tgauth/internal/config"
)

// opsRoute reports whether path is an operator or documentation route,
// which answers without a client token.
func opsRoute(path string) bool {
	switch strings.TrimSuffix(path, "/") {
	case "/healthz", "/readyz", "/metrics", "/openapi.yaml", docsPath:
		return true
	}
	return strings.HasPrefix(path, docsPath+"/")
}

func TestClientTokens(t *testing.T) {
	e := newEnv(t, withHTTP(func(h *config.HTTP) { h.ClientTokens = []string{"client-one", "client-two"} }))
	tests := []struct {
		name   string
		header map[string]string
		status int
	}{
		{"missing", nil, http.StatusUnauthorized},
		{"wrong", map[string]string{"x-auth-token": "client-on"}, http.StatusUnauthorized},
		{"first", map[string]string{"x-auth-token": "client-one"}, http.StatusCreated},
		{"second", map[string]string{"X-Auth-Token": "client-two"}, http.StatusConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.do(postJSON("/v1/auth/register", seedRegister, tt.header))
			if tt.status == http.StatusUnauthorized {
				wantProblem(t, rec, tt.status, "invalid_client_token")
			} else if rec.Code != tt.status {
				t.Errorf("status = %d, want %d; %s", rec.Code, tt.status, rec.Body)
			}
		})
	}
}

// TestClientTokensGuardEveryAPIRoute walks every route the router has:
// with client tokens configured, each one but the operator and
// documentation routes refuses a request without a valid x-auth-token
// exactly as the NOWATCH routes do, even one with a good bearer token.
func TestClientTokensGuardEveryAPIRoute(t *testing.T) {
	const client = "client-one"
	e := newEnv(t, withHTTP(func(h *config.HTTP) { h.ClientTokens = []string{client} }))
	h := map[string]string{"x-auth-token": client}
	rec := e.do(postJSON("/v1/register/", `{"username":"bob","password":"`+goodPassword+`","account":1}`, h))
	if rec.Code != http.StatusCreated {
		t.Fatalf("register with a client token: %d %s", rec.Code, rec.Body)
	}
	rec = e.do(postJSON("/v1/login/", `{"username":"bob","password":"`+goodPassword+`"}`, h))
	if rec.Code != http.StatusOK {
		t.Fatalf("login with a client token: %d %s", rec.Code, rec.Body)
	}
	var tok tokenResponse
	decode(t, rec, &tok)

	refusal := func(t *testing.T, rec *httptest.ResponseRecorder) problem {
		t.Helper()
		p := wantProblem(t, rec, http.StatusUnauthorized, "invalid_client_token")
		p.Instance, p.RequestID = "", ""
		return p
	}
	want := refusal(t, e.do(postJSON("/v1/auth/register", seedRegister, nil)))

	guarded := 0
	for _, r := range e.server.engine.Routes() {
		if opsRoute(r.Path) {
			continue
		}
		guarded++
		for name, hdr := range map[string]map[string]string{
			"missing": bearer(tok.Token),
			"wrong":   withHeader(bearer(tok.Token), "x-auth-token", "wrong"),
		} {
			t.Run(r.Method+" "+r.Path+" "+name, func(t *testing.T) {
				rec := e.do(request{method: r.Method, path: r.Path, body: "{}", contentType: "application/json", header: hdr})
				if diff := cmp.Diff(want, refusal(t, rec)); diff != "" {
					t.Errorf("refusal (-NOWATCH +this route):\n%s", diff)
				}
			})
		}
	}
	if guarded < 20 {
		t.Errorf("only %d guarded routes: is the router's route list right?", guarded)
	}

	// With the client token, every dialect works.
	auth := withHeader(bearer(tok.Token), "x-auth-token", client)
	for _, r := range []request{
		{method: http.MethodGet, path: "/v1/me", header: auth},
		{method: http.MethodPost, path: "/v1/change-password/", body: `{"old_password":"` + goodPassword + `","new_password":"Krabby-Patty42"}`, contentType: "application/json", header: auth},
	} {
		if rec := e.do(r); rec.Code != http.StatusOK {
			t.Errorf("%s %s with a client token = %d %s, want 200", r.method, r.path, rec.Code, rec.Body)
		}
	}
	if rec := e.do(request{method: http.MethodPost, path: "/v1/telegram/link", header: auth}); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("telegram link with a client token = %d %s, want 503 not_configured", rec.Code, rec.Body)
	}
	if rec := e.do(postJSON("/v1/auth/register", seedRegister, h)); rec.Code != http.StatusCreated {
		t.Errorf("NOWATCH register with a client token = %d %s", rec.Code, rec.Body)
	}

	// Operator and documentation routes need none.
	for _, path := range []string{"/healthz", "/readyz", "/metrics", "/openapi.yaml", "/docs", "/docs/"} {
		if rec := e.do(request{method: http.MethodGet, path: path}); rec.Code != http.StatusOK {
			t.Errorf("GET %s without a client token = %d, want 200", path, rec.Code)
		}
	}
}
