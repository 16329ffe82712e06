package httpapi

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"tgauth/internal/password"
)

// BenchmarkLogin is a whole Watchdog login through the router: body
// parsing, user lookup, one argon2id verify at the real cost, the session
// insert (one fsync'd transaction) and the JWT.
func BenchmarkLogin(b *testing.B) {
	e := newEnv(b, withParams(password.DefaultParams))
	e.register("bob", goodPassword, "1")
	body, ct := form("username", "bob", "password", goodPassword)
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/login/", strings.NewReader(body))
		req.Header.Set("Content-Type", ct)
		rec := httptest.NewRecorder()
		e.server.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("login: %d %s", rec.Code, rec.Body)
		}
	}
}

// BenchmarkAuthenticatedRequest is GET /v1/me: JWT verify, the session
// check and the user read, run from parallel clients.
func BenchmarkAuthenticatedRequest(b *testing.B) {
	e := newEnv(b)
	e.register("bob", goodPassword, "1")
	auth := "Bearer " + e.login("bob", goodPassword)
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			req := httptest.NewRequest(http.MethodGet, "/v1/me", nil)
			req.Header.Set("Authorization", auth)
			rec := httptest.NewRecorder()
			e.server.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK {
				b.Fatalf("me: %d %s", rec.Code, rec.Body)
			}
		}
	})
}

// BenchmarkRefresh is a refresh rotation through the router: JWT verify,
// one write transaction (session read, generation bump, fsync'd commit)
// and a new pair signed. Each iteration spends the previous refresh token.
func BenchmarkRefresh(b *testing.B) {
	e := newEnv(b)
	e.registerEmail()
	refresh := e.pair("/v1/auth/login", "email", spongebob, "password", goodPassword).Refresh
	b.ReportAllocs()
	for b.Loop() {
		req := httptest.NewRequest(http.MethodPost, "/v1/auth/refresh", strings.NewReader(`{"refresh":"`+refresh+`"}`))
		req.Header.Set("Content-Type", "application/json")
		rec := httptest.NewRecorder()
		e.server.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("refresh: %d %s", rec.Code, rec.Body)
		}
		var p pairResponse
		decode(b, rec, &p)
		refresh = p.Refresh
	}
}
