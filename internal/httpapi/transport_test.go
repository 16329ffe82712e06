package httpapi

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"

	"tgauth/internal/config"
)

func TestTransportErrors(t *testing.T) {
	e := newEnv(t)
	big := `{"username":"` + strings.Repeat("a", 1<<20) + `"}`
	tests := []struct {
		name   string
		req    request
		status int
		code   string
	}{
		{"unknown path", request{method: http.MethodGet, path: "/v1/nope"}, http.StatusNotFound, "not_found"},
		{"root", request{method: http.MethodGet, path: "/"}, http.StatusNotFound, "not_found"},
		{"wrong method", request{method: http.MethodGet, path: "/v1/login/"}, http.StatusMethodNotAllowed, "method_not_allowed"},
		{"wrong method on me", request{method: http.MethodDelete, path: "/v1/me"}, http.StatusMethodNotAllowed, "method_not_allowed"},
		{"body too large", request{method: http.MethodPost, path: "/v1/login/", body: big, contentType: "application/json"}, http.StatusRequestEntityTooLarge, "body_too_large"},
		{"unsupported media type", request{method: http.MethodPost, path: "/v1/login/", body: "<x/>", contentType: "application/xml"}, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"bad content type", request{method: http.MethodPost, path: "/v1/login/", body: "a", contentType: ";;;"}, http.StatusUnsupportedMediaType, "unsupported_media_type"},
		{"malformed json", request{method: http.MethodPost, path: "/v1/login/", body: `{"username":`, contentType: "application/json"}, http.StatusBadRequest, "malformed_body"},
		{"json array", request{method: http.MethodPost, path: "/v1/login/", body: `["bob"]`, contentType: "application/json"}, http.StatusBadRequest, "malformed_body"},
		{"json null", request{method: http.MethodPost, path: "/v1/login/", body: `null`, contentType: "application/json"}, http.StatusBadRequest, "malformed_body"},
		{"json trailing data", request{method: http.MethodPost, path: "/v1/login/", body: `{"username":"bob"} {}`, contentType: "application/json"}, http.StatusBadRequest, "malformed_body"},
		{"malformed form", request{method: http.MethodPost, path: "/v1/login/", body: "username=%zz", contentType: "application/x-www-form-urlencoded"}, http.StatusBadRequest, "malformed_body"},
		{"malformed multipart", request{method: http.MethodPost, path: "/v1/login/", body: "--nope", contentType: "multipart/form-data; boundary=X"}, http.StatusBadRequest, "malformed_body"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := e.do(tt.req)
			p := wantProblem(t, rec, tt.status, tt.code)
			if p.Instance != tt.req.path {
				t.Errorf("instance = %q, want %q", p.Instance, tt.req.path)
			}
			if tt.status == http.StatusMethodNotAllowed && rec.Header().Get("Allow") == "" {
				t.Errorf("405 without an Allow header")
			}
		})
	}
}

// A body without Content-Length (chunked) is cut at the limit while read.
func TestBodyLimitStreamed(t *testing.T) {
	e := newEnv(t)
	req := httptest.NewRequest(http.MethodPost, "/v1/login/", io.MultiReader(strings.NewReader("username="), strings.NewReader(strings.Repeat("a", 2<<20))))
	req.ContentLength = -1
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	rec := httptest.NewRecorder()
	e.server.ServeHTTP(rec, req)
	wantProblem(t, rec, http.StatusRequestEntityTooLarge, "body_too_large")
}

func TestRequestID(t *testing.T) {
	e := newEnv(t)
	rec := e.do(request{method: http.MethodGet, path: "/healthz", header: map[string]string{requestIDHeader: "abc-123"}})
	if got := rec.Header().Get(requestIDHeader); got != "abc-123" {
		t.Errorf("request id = %q, want the caller's abc-123", got)
	}
	rec = e.do(request{method: http.MethodGet, path: "/healthz", header: map[string]string{requestIDHeader: "evil\" msg=forged"}})
	if got := rec.Header().Get(requestIDHeader); got == "" || strings.ContainsAny(got, "\" =") {
		t.Errorf("request id = %q, want a fresh one in place of an unsafe one", got)
	}
}

func TestHealth(t *testing.T) {
	e := newEnv(t)
	for path, want := range map[string]string{"/healthz": `{"status":"ok"}`, "/readyz": `{"status":"ready"}`} {
		rec := e.do(request{method: http.MethodGet, path: path})
		if rec.Code != http.StatusOK || rec.Body.String() != want {
			t.Errorf("GET %s = %d %s, want 200 %s", path, rec.Code, rec.Body, want)
		}
	}
	e.store.Close()
	wantProblem(t, e.do(request{method: http.MethodGet, path: "/readyz"}), http.StatusServiceUnavailable, "not_ready")
}

// The access log has a line per request and never a password or token.
func TestAccessLogKeepsSecretsOut(t *testing.T) {
	e := newEnv(t)
	e.register("bob", goodPassword, "1")
	tok := e.login("bob", goodPassword)
	e.do(request{method: http.MethodGet, path: "/v1/me?token=" + tok, header: bearer(tok)})
	e.postForm("/v1/change-password/", "old_password", goodPassword, "new_password", "N3w-Secret!")
	logs := e.logs.String()
	for _, secret := range []string{goodPassword, "BigBob27", tok, strings.Split(tok, ".")[2], "N3w-Secret"} {
		if strings.Contains(logs, secret) {
			t.Errorf("log contains %q:\n%s", secret, logs)
		}
	}
	for _, want := range []string{"route=/v1/register/ status=201", "route=/v1/login/ status=200", "route=/v1/me status=200", "route=/v1/change-password/ status=401"} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
}

// A forged X-Forwarded-For changes nothing unless the peer is a trusted
// proxy.
func TestClientIPTrustsOnlyConfiguredProxies(t *testing.T) {
	tests := []struct {
		name    string
		proxies []string
		want    string
	}{
		{"no trusted proxies", nil, "192.0.2.1"},
		{"peer is a trusted proxy", []string{"192.0.2.0/24"}, "203.0.113.9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, withHTTP(func(h *config.HTTP) { h.TrustedProxies = tt.proxies }))
			e.register("bob", goodPassword, "1")
			body, ct := form("username", "bob", "password", goodPassword)
			req := httptest.NewRequest(http.MethodPost, "/v1/login/", strings.NewReader(body))
			req.RemoteAddr = "192.0.2.1:4000"
			req.Header.Set("Content-Type", ct)
			req.Header.Set("X-Forwarded-For", "203.0.113.9")
			rec := httptest.NewRecorder()
			e.server.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				t.Fatalf("login: %d %s", rec.Code, rec.Body)
			}
			if n := e.count(`SELECT count(*) FROM sessions WHERE ip = ?`, tt.want); n != 1 {
				t.Errorf("sessions with ip %s = %d, want 1", tt.want, n)
			}
		})
	}
}

func TestPanicBecomesProblem(t *testing.T) {
	e := newEnv(t)
	e.server.engine.GET("/panic", e.server.handle(func(*gin.Context) error { panic("boom") }))
	p := wantProblem(t, e.do(request{method: http.MethodGet, path: "/panic"}), http.StatusInternalServerError, "internal_error")
	if !strings.Contains(e.logs.String(), "boom") || !strings.Contains(e.logs.String(), p.RequestID) {
		t.Errorf("panic not logged with its request id:\n%s", e.logs)
	}
}

// Uptime probes send HEAD: /healthz and /readyz answer it as GET, status
// and headers, without a body, over a real connection.
func TestHeadProbes(t *testing.T) {
	e := newEnv(t)
	srv := httptest.NewServer(e.server)
	t.Cleanup(srv.Close)
	head := func(path string) (int, int, string) {
		t.Helper()
		resp, err := http.Head(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, len(body), resp.Header.Get(requestIDHeader)
	}
	for _, path := range []string{"/healthz", "/readyz", "/healthz/"} {
		if code, n, id := head(path); code != http.StatusOK || n != 0 || id == "" {
			t.Errorf("HEAD %s = %d, %d bytes, request id %q; want 200, no body, an id", path, code, n, id)
		}
	}
	e.store.Close()
	if code, n, _ := head("/readyz"); code != http.StatusServiceUnavailable || n != 0 {
		t.Errorf("HEAD /readyz with the database gone = %d, %d bytes; want 503, no body", code, n)
	}
}
