package httpapi

import (
	"cmp"
	"encoding/json"
	"log/slog"
	"maps"
	"net"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"tgauth/internal/account"
	"tgauth/internal/accounttest"
	"tgauth/internal/clocktest"
	"tgauth/internal/config"
	"tgauth/internal/password"
	"tgauth/internal/store/sqlite"
	"tgauth/internal/token"
)

func init() { gin.SetMode(gin.ReleaseMode) }

// fastParams keep argon2id cheap in tests that are not about its cost.
var fastParams = accounttest.FastParams

// env is the whole API over a real SQLite file in a temp dir.
type env struct {
	t      testing.TB
	path   string
	store  *sqlite.Store
	clock  *clocktest.Clock
	issuer *token.Issuer
	svc    *account.Service
	server *Server
	logs   *accounttest.LogBuffer
}

type envOption func(*envConfig)

type envConfig struct {
	params password.Params // fastParams unless set
	http   config.HTTP
	limits config.RateLimit // off unless set
	svc    account.Options
	wrap   func(account.Store) account.Store
}

// withStore wraps the real store, to inject failures.
func withStore(wrap func(account.Store) account.Store) envOption {
	return func(c *envConfig) { c.wrap = wrap }
}

// withParams sets the argon2id cost, for benchmarks of the real one.
func withParams(p password.Params) envOption {
	return func(c *envConfig) { c.params = p }
}

// withLimits turns rate limits on.
func withLimits() envOption {
	return func(c *envConfig) { c.limits.Enabled = true }
}

// withService sets service options; the clock and TTLs stay the env's.
func withService(o account.Options) envOption {
	return func(c *envConfig) { c.svc = o }
}

func withHTTP(f func(*config.HTTP)) envOption {
	return func(c *envConfig) { f(&c.http) }
}

func newEnv(t testing.TB, opts ...envOption) *env {
	t.Helper()
	cfg := envConfig{params: fastParams, http: config.Defaults().HTTP}
	for _, o := range opts {
		o(&cfg)
	}
	svcOpts := cfg.svc
	svcOpts.AccessTTL, svcOpts.RefreshTTL = time.Hour, 24*time.Hour
	svcOpts.ForgotPasswordFloor = cmp.Or(svcOpts.ForgotPasswordFloor, time.Millisecond)
	a := accounttest.New(t, accounttest.Config{Params: cfg.params, Wrap: cfg.wrap, Options: svcOpts})
	logs := &accounttest.LogBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	srv, err := New(a.Service, cfg.http, cfg.limits, log)
	if err != nil {
		t.Fatal(err)
	}
	return &env{t: t, path: a.Path, store: a.Store, clock: a.Clock, issuer: a.Issuer, svc: a.Service, server: srv, logs: logs}
}

// request describes one call to the router.
type request struct {
	method, path string
	body         string
	contentType  string
	header       map[string]string
	from         string // the client's IP; httptest's 192.0.2.1 when ""
}

func form(kv ...string) (body, contentType string) {
	var b strings.Builder
	for i := 0; i < len(kv); i += 2 {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(kv[i] + "=" + urlEscape(kv[i+1]))
	}
	return b.String(), "application/x-www-form-urlencoded"
}

func urlEscape(s string) string {
	r := strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", "=", "%3D", " ", "+", "#", "%23")
	return r.Replace(s)
}

func (e *env) do(r request) *httptest.ResponseRecorder {
	req := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
	if r.contentType != "" {
		req.Header.Set("Content-Type", r.contentType)
	}
	for k, v := range r.header {
		req.Header.Set(k, v)
	}
	if r.from != "" {
		req.RemoteAddr = net.JoinHostPort(r.from, "40000")
	}
	rec := httptest.NewRecorder()
	e.server.ServeHTTP(rec, req)
	return rec
}

// postForm POSTs a form body.
func (e *env) postForm(path string, kv ...string) *httptest.ResponseRecorder {
	body, ct := form(kv...)
	return e.do(request{method: http.MethodPost, path: path, body: body, contentType: ct})
}

func bearer(tok string) map[string]string {
	return map[string]string{"Authorization": "Bearer " + tok}
}

// register creates a Watchdog user and, as its chat would by pressing Yes,
// confirms the chat; it fails the test otherwise.
func (e *env) register(username, pw string, chatID string) {
	e.t.Helper()
	u := e.registerPending(username, pw, chatID)
	e.confirmChat(u.ID, chatID)
}

// confirmChat answers Yes for chatID to the question the registration of
// userID sent it.
func (e *env) confirmChat(userID int64, chatID string) {
	e.t.Helper()
	chat, err := strconv.ParseInt(chatID, 10, 64)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.svc.AnswerChatClaim(e.t.Context(), chat, userID, true); err != nil {
		e.t.Fatalf("confirm chat %s of user %d: %v", chatID, userID, err)
	}
}

// registerPending creates a Watchdog user whose chat has not answered.
func (e *env) registerPending(username, pw string, chatID string) registerResponse {
	e.t.Helper()
	rec := e.postForm("/v1/register/", "username", username, "password", pw, "account", chatID)
	if rec.Code != http.StatusCreated {
		e.t.Fatalf("register %s: status %d, body %s", username, rec.Code, rec.Body)
	}
	var u registerResponse
	decode(e.t, rec, &u)
	return u
}

// login returns a Watchdog access token and fails the test otherwise.
func (e *env) login(username, pw string) string {
	e.t.Helper()
	rec := e.postForm("/v1/login/", "username", username, "password", pw)
	if rec.Code != http.StatusOK {
		e.t.Fatalf("login %s: status %d, body %s", username, rec.Code, rec.Body)
	}
	var got tokenResponse
	decode(e.t, rec, &got)
	return got.Token
}

func decode(t testing.TB, rec *httptest.ResponseRecorder, v any) {
	t.Helper()
	if err := json.Unmarshal(rec.Body.Bytes(), v); err != nil {
		t.Fatalf("decode %q: %v", rec.Body, err)
	}
}

// wantProblem checks that rec is a problem+json with status and code, and
// returns it.
func wantProblem(t *testing.T, rec *httptest.ResponseRecorder, status int, code string) problem {
	t.Helper()
	if rec.Code != status {
		t.Fatalf("status = %d, want %d; body %s", rec.Code, status, rec.Body)
	}
	if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json", ct)
	}
	var p problem
	decode(t, rec, &p)
	if p.Code != code || p.Status != status || p.Type != "urn:tgauth:problem:"+code || p.Title == "" {
		t.Errorf("problem = %+v, want status %d code %q", p, status, code)
	}
	if p.RequestID == "" || p.RequestID != rec.Header().Get(requestIDHeader) {
		t.Errorf("problem request_id = %q, header %q", p.RequestID, rec.Header().Get(requestIDHeader))
	}
	return p
}

// count runs a counting query on the database file itself.
func (e *env) count(query string, args ...any) int {
	e.t.Helper()
	return accounttest.Count(e.t, e.path, query, args...)
}

// outbox returns the queued messages, oldest first.
func (e *env) outbox() []accounttest.Queued {
	e.t.Helper()
	return accounttest.Outbox(e.t, e.path)
}

// kinds returns the kinds of the queued messages, oldest first.
func (e *env) kinds() []string {
	e.t.Helper()
	var kinds []string
	for _, r := range e.outbox() {
		kinds = append(kinds, string(r.Kind))
	}
	return kinds
}

// with returns h with the extra header k: v, h unchanged.
func withHeader(h map[string]string, k, v string) map[string]string {
	out := map[string]string{k: v}
	maps.Copy(out, h)
	return out
}

func getReq(path string, header map[string]string) request {
	return request{method: http.MethodGet, path: path, header: header}
}

// The seeds' people and values, shared by the contract and other tests.
const (
	spongebobEmail  = "spongebob@bikinibottom.com"
	garryEmail      = "garryTheSnail@bikinibottom.com"
	krabsEmail      = "mrkrabs@krustykrab.com"
	krabsPassword   = "M0ney-M0ney!"
	changedPassword = "Krabby-Patty42"
	spongebobChat   = "123456789"
	tocAcceptedAt   = "2024-07-01T12:34:56Z"
	testClientToken = "krusty-krab-client"
)

func formPost(path string, header map[string]string, kv ...string) request {
	body, ct := form(kv...)
	return request{method: http.MethodPost, path: path, body: body, contentType: ct, header: header}
}

func jsonPost(t *testing.T, path string, header map[string]string, body map[string]any) request {
	t.Helper()
	b, err := json.Marshal(body)
	if err != nil {
		t.Fatal(err)
	}
	return request{method: http.MethodPost, path: path, body: string(b), contentType: "application/json", header: header}
}
