package httpapi

import (
	"net/http"
	"strings"
	"testing"
)

// Invalid UTF-8 anywhere in a body, raw or percent-encoded or as a JSON
// escape of half a surrogate pair, is a body that does not parse: the
// decoders would turn it into U+FFFD, and two different bodies would read
// as one. Every route that reads a body, of both dialects, refuses it.
func TestInvalidUTF8Refused(t *testing.T) {
	e := newEnv(t)
	e.register("bob", goodPassword, "1")
	tok := e.login("bob", goodPassword)
	bodies := []struct {
		name, contentType, body string
	}{
		{"json raw byte in a field", "application/json", "{\"username\":\"bob\xff\",\"email\":\"b\xffb@example.com\",\"password\":\"BigBob27!\"}"},
		{"json raw byte in another field", "application/json", "{\"other\":\"\xff\",\"username\":\"bob\",\"password\":\"BigBob27!\"}"},
		{"json raw byte in a key", "application/json", "{\"\xc3\":1,\"username\":\"bob\",\"password\":\"BigBob27!\"}"},
		{"json truncated sequence", "application/json", "{\"username\":\"bob\xe2\x82\",\"password\":\"BigBob27!\"}"},
		{"json overlong encoding", "application/json", "{\"username\":\"b\xc0\xafb\",\"password\":\"BigBob27!\"}"},
		{"json lone low surrogate", "application/json", `{"username":"bob\udc00","password":"BigBob27!"}`},
		{"json lone high surrogate", "application/json", `{"username":"bob\uD800x","password":"BigBob27!"}`},
		{"json high surrogate then another escape", "application/json", `{"username":"bob\ud800\u0041","password":"BigBob27!"}`},
		{"json without a content type", "", "{\"username\":\"bob\xff\",\"password\":\"BigBob27!\"}"},
		{"form raw byte", "application/x-www-form-urlencoded", "username=bob\xff&password=BigBob27%21"},
		{"form percent-encoded", "application/x-www-form-urlencoded", "username=bob%FF&password=BigBob27%21"},
		{"form percent-encoded key", "application/x-www-form-urlencoded", "%FF=1&username=bob&password=BigBob27%21"},
		{"form without a content type", "", "username=b%C3b&password=BigBob27%21"},
		{"multipart", "multipart/form-data; boundary=X", "--X\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nbob\xff\r\n--X--\r\n"},
	}
	var paths []string
	for _, r := range e.server.engine.Routes() {
		if r.Method == http.MethodPost && !strings.HasSuffix(r.Path, "/") && r.Path != "/v1/telegram/link" {
			paths = append(paths, r.Path)
		}
	}
	if len(paths) < 10 {
		t.Fatalf("only %d routes with a body: %q", len(paths), paths)
	}
	for _, path := range paths {
		for _, b := range bodies {
			t.Run(path+" "+b.name, func(t *testing.T) {
				rec := e.do(request{method: http.MethodPost, path: path, body: b.body, contentType: b.contentType, header: bearer(tok)})
				p := wantProblem(t, rec, http.StatusBadRequest, "malformed_body")
				if !strings.Contains(p.Detail, "UTF-8") {
					t.Errorf("detail = %q, want it to say UTF-8", p.Detail)
				}
			})
		}
	}
	if n := e.count(`SELECT count(*) FROM users`); n != 1 {
		t.Errorf("%d users, want only bob", n)
	}
	if n := e.count(`SELECT count(*) FROM sessions WHERE revoked_at IS NULL`); n != 1 {
		t.Errorf("%d live sessions, want only bob's one", n)
	}

	// Well-formed text is read, surrogate pairs and escaped backslashes
	// included: a wrong password, not a malformed body.
	for _, body := range []string{
		`{"username":"bob","password":"\ud83d\ude00 Wrong-1"}`,
		`{"username":"bob","password":"\\udc00 Wrong-1"}`,
		`{"username":"bob","password":"caf\u00e9 Wrong-1 ☕"}`,
	} {
		wantProblem(t, e.do(postJSON("/v1/login/", body, nil)), http.StatusUnauthorized, "invalid_credentials")
	}
	wantProblem(t, e.postForm("/v1/login/", "username", "bob", "password", "café Wrong-1"), http.StatusUnauthorized, "invalid_credentials")
}
