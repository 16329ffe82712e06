package httpapi

import (
	"net/http"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// lookAlikes of spongebob@bikinibottom.com and of bob: each reads as its
// ASCII twin on a screen.
var lookAlikeEmails = []struct{ name, email string }{
	{"cyrillic e", "spong\u0435bob@bikinibottom.com"},
	{"greek o", "sp\u03bfngebob@bikinibottom.com"},
	{"kelvin sign", "\u212Arabs@bikinibottom.com"},
	{"fullwidth letters", "\uff53\uff50ongebob@bikinibottom.com"},
	{"long s", "\u017Fpongebob@bikinibottom.com"},
	{"dotless i", "b\u0131kini@bikinibottom.com"},
	{"dotted capital I", "B\u0130KINI@bikinibottom.com"},
	{"decomposed accent", "jose\u0301@bikinibottom.com"},
	{"cyrillic domain", "spongebob@bikinib\u043ettom.com"},
	{"unicode domain", "spongebob@b\u00fccher.de"},
}

// A look-alike email is refused at registration as invalid input, in
// each body form; at login it is an unknown account like any other, with
// the same answer as one.
func TestLookAlikeEmails(t *testing.T) {
	e := newEnv(t)
	e.registerEmail()
	e.postForm("/v1/auth/register", "email", "krabs@bikinibottom.com", "password", goodPassword,
		"first_name", "Eugene", "toc_accepted_at", "2024-07-01T12:34:56Z", "privacy_policy_accepted_at", "2024-07-01T12:34:56Z")
	unknown := wantProblem(t, e.postForm("/v1/auth/login", "email", "nobody@bikinibottom.com", "password", goodPassword), http.StatusUnauthorized, "invalid_credentials")
	unknown.Instance, unknown.RequestID = "", ""
	for _, tt := range lookAlikeEmails {
		t.Run(tt.name, func(t *testing.T) {
			for _, asForm := range []bool{true, false} {
				r := postJSON("/v1/auth/register", `{"email":"`+tt.email+`","password":"`+goodPassword+`","first_name":"Sponge Bob",`+
					`"toc_accepted_at":"2024-07-01T12:34:56Z","privacy_policy_accepted_at":"2024-07-01T12:34:56Z"}`, nil)
				if asForm {
					r.body, r.contentType = form("email", tt.email, "password", goodPassword, "first_name", "Sponge Bob",
						"toc_accepted_at", "2024-07-01T12:34:56Z", "privacy_policy_accepted_at", "2024-07-01T12:34:56Z")
				}
				p := wantProblem(t, e.do(r), http.StatusBadRequest, "validation_failed")
				if len(p.Errors) != 1 || p.Errors[0].Field != "email" {
					t.Errorf("register %q errors = %+v, want one for email", tt.email, p.Errors)
				}
			}
			for _, path := range []string{"/v1/auth/login", "/v2/auth/login"} {
				p := wantProblem(t, e.postForm(path, "email", tt.email, "password", goodPassword), http.StatusUnauthorized, "invalid_credentials")
				p.Instance, p.RequestID = "", ""
				if diff := cmp.Diff(unknown, p); diff != "" {
					t.Errorf("login %s %q (-unknown account +look-alike):\n%s", path, tt.email, diff)
				}
			}
		})
	}
	if n := e.count(`SELECT count(*) FROM users`); n != 2 {
		t.Errorf("%d users, want spongebob and krabs only", n)
	}
	if n := e.count(`SELECT count(*) FROM sessions`); n != 0 {
		t.Errorf("%d sessions, want none", n)
	}

	// Addresses of one script, and IDN domains in punycode, are fine.
	for _, email := range []string{"jos\u00e9@bikinibottom.com", "\u0438\u0432\u0430\u043d@xn--80a1acny.xn--p1ai", "\u5c71\u7530\u305f\u308d\u3046@example.jp", "bob+tag@xn--bcher-kva.de"} {
		rec := e.postForm("/v1/auth/register", "email", email, "password", goodPassword, "first_name", "Someone",
			"toc_accepted_at", "2024-07-01T12:34:56Z", "privacy_policy_accepted_at", "2024-07-01T12:34:56Z")
		if rec.Code != http.StatusCreated {
			t.Errorf("register %q = %d %s, want 201", email, rec.Code, rec.Body)
		}
	}
}

// The Watchdog dialect names accounts by ASCII usernames: a look-alike is
// refused at registration and unknown at login, both dialects alike.
func TestLookAlikeUsernames(t *testing.T) {
	e := newEnv(t)
	e.register("bob", goodPassword, "1")
	unknown := wantProblem(t, e.postForm("/v1/login/", "username", "nobody", "password", goodPassword), http.StatusUnauthorized, "invalid_credentials")
	unknown.Instance, unknown.RequestID = "", ""
	for _, name := range []string{"b\u043eb", "\u212Aate", "\uff42ob", "b\u0131ll"} {
		p := wantProblem(t, e.postForm("/v1/register/", "username", name, "password", goodPassword, "account", "2"), http.StatusBadRequest, "validation_failed")
		if diff := cmp.Diff([]fieldError{{Field: "username", Message: "may contain only letters A-Z, digits, '_', '.' and '-'"}}, p.Errors); diff != "" {
			t.Errorf("register %q errors (-want +got):\n%s", name, diff)
		}
		for _, path := range []string{"/v1/login/", "/v2/auth/login"} {
			p := wantProblem(t, e.postForm(path, "username", name, "password", goodPassword), http.StatusUnauthorized, "invalid_credentials")
			p.Instance, p.RequestID = "", ""
			if diff := cmp.Diff(unknown, p); diff != "" {
				t.Errorf("login %s %q (-unknown +look-alike):\n%s", path, name, diff)
			}
		}
	}
	if n := e.count(`SELECT count(*) FROM sessions`); n != 0 {
		t.Errorf("%d sessions, want none", n)
	}
}
