package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gin-gonic/gin"
	"github.com/google/go-cmp/cmp"

	"tgauth/internal/account"
)

// fuzzFieldNames are the fields FuzzReadFields asks for: those of the
// register route, whose chat id may come as a JSON number.
var fuzzFieldNames = []string{"username", "password", "account"}

// FuzzReadFields feeds random bodies under random content types to
// readFields, then to a real route. readFields never panics, fails only
// with an error that maps to a 4xx, and a body it accepts yields exactly
// the named strings and numbers (JSON) or first values (forms) that an
// independent parse finds. The route never answers 5xx.
func FuzzReadFields(f *testing.F) {
	seeds := []struct {
		contentType, body string
	}{
		{"application/json", `{"username":"bob","password":"BigBob27!","account":12345}`},
		{"application/json; charset=utf-8", `{"username":"b\u00f6b","account":"-1","other":{}}`},
		{"application/problem+json", `{"username":null,"account":1.5e3}`},
		{"application/json", `{"username":["bob"],"account":true}`},
		{"application/json", `{"username":"a"} {}`},
		{"application/json", ``},
		{"", `  {"username":"bob"}  `},
		{"", `username=bob&password=BigBob27%21&account=1`},
		{"", ``},
		{"application/x-www-form-urlencoded", `username=%zz`},
		{"application/x-www-form-urlencoded", `username=a;b`},
		{"application/x-www-form-urlencoded", `username=first&username=second&account=+1+`},
		{"multipart/form-data; boundary=X", "--X\r\nContent-Disposition: form-data; name=\"username\"\r\n\r\nbob\r\n--X--\r\n"},
		{"multipart/form-data", "--X\r\n"},
		{"text/plain", `username=bob`},
		{"application/json", `{"username":"\ud83d\ude00","password":"\\udc00","account":"\udc00"}`},
		{"application/x-www-form-urlencoded", "username=b%C3&password=%E2%98%95"},
		{";;;", `{}`},
	}
	for _, s := range seeds {
		f.Add(s.contentType, []byte(s.body))
	}
	e := newEnv(f)
	e.server.log = slog.New(slog.DiscardHandler) // a line per exec adds up
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		got, err := readFieldsOf(contentType, body)
		if err != nil {
			if p := problemFor(err); p.Status < 400 || p.Status >= 500 {
				t.Fatalf("readFields(%q, %q) err = %v, a %d; want a 4xx", contentType, body, err, p.Status)
			}
		}
		want, wantErr := modelFields(contentType, body)
		if (err == nil) != (wantErr == nil) {
			t.Fatalf("readFields(%q, %q) = %q, %v; the model says %q, %v", contentType, body, got, err, want, wantErr)
		}
		if err == nil {
			if diff := cmp.Diff(want, got); diff != "" {
				t.Fatalf("readFields(%q, %q) fields (-model +got):\n%s", contentType, body, diff)
			}
		}
		gotVE, _ := errors.AsType[*account.ValidationError](err)
		wantVE, _ := errors.AsType[*account.ValidationError](wantErr)
		if diff := cmp.Diff(wantVE, gotVE); diff != "" {
			t.Fatalf("readFields(%q, %q) = %v; validation errors (-model +got):\n%s", contentType, body, err, diff)
		}

		// The same body through the router: a route that parses the
		// body and then needs a valid token, so it never writes.
		req := httptest.NewRequest(http.MethodPost, "/v1/auth/refresh", bytes.NewReader(body))
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		rec := httptest.NewRecorder()
		e.server.ServeHTTP(rec, req)
		if rec.Code < 400 || rec.Code >= 500 {
			t.Fatalf("POST /v1/auth/refresh (%q, %q) = %d %s, want a 4xx", contentType, body, rec.Code, rec.Body)
		}
		if ct := rec.Header().Get("Content-Type"); ct != "application/problem+json" {
			t.Fatalf("POST /v1/auth/refresh (%q, %q) Content-Type = %q", contentType, body, ct)
		}
	})
}

// readFieldsOf runs readFields on a request with body and contentType in
// a bare gin context.
func readFieldsOf(contentType string, body []byte) (fields, error) {
	c, _ := gin.CreateTestContext(httptest.NewRecorder())
	c.Request = httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
	if contentType != "" {
		c.Request.Header.Set("Content-Type", contentType)
	}
	return readFields(c, fuzzFieldNames...)
}

// errModel is the model's error for input readFields must refuse with a
// transport error (its kind is not modelled).
var errModel = errors.New("refused")

// modelFields restates readFields with other parsers: encoding/json into
// any values, net/url, mime/multipart's reader. It returns a
// *account.ValidationError where readFields should.
func modelFields(contentType string, body []byte) (fields, error) {
	mediaType, params := "", map[string]string(nil)
	if contentType != "" {
		var err error
		if mediaType, params, err = mime.ParseMediaType(contentType); err != nil {
			return nil, errModel
		}
	}
	if !utf8.Valid(body) {
		return nil, errModel
	}
	trimmed := bytes.TrimSpace(body)
	isJSON := mediaType == "application/json" || strings.HasSuffix(mediaType, "+json") ||
		mediaType == "" && len(trimmed) > 0 && trimmed[0] == '{'
	switch {
	case isJSON:
		return modelJSON(trimmed)
	case mediaType == "" || mediaType == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil || !modelUTF8(vals) {
			return nil, errModel
		}
		return firstValues(vals), nil
	case mediaType == "multipart/form-data":
		if params["boundary"] == "" {
			return nil, errModel
		}
		form, err := multipart.NewReader(bytes.NewReader(body), params["boundary"]).ReadForm(int64(len(body)) + 1)
		if err != nil {
			return nil, errModel
		}
		defer form.RemoveAll()
		if !modelUTF8(form.Value) {
			return nil, errModel
		}
		return firstValues(form.Value), nil
	default:
		return nil, errModel
	}
}

func modelJSON(body []byte) (fields, error) {
	if len(body) == 0 {
		return fields{}, nil
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, errModel
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errModel
	}
	if modelLoneSurrogate(body) {
		return nil, errModel
	}
	f := fields{}
	var ve account.ValidationError
	for _, name := range fuzzFieldNames {
		v, ok := obj[name]
		if !ok {
			continue
		}
		switch v := v.(type) {
		case string:
			f[name] = v
		case json.Number:
			f[name] = v.String()
		case nil:
		default:
			ve.Add(account.Field(name), "must be a string")
		}
	}
	if err := ve.Err(); err != nil {
		return nil, err
	}
	return f, nil
}

func firstValues(vals map[string][]string) fields {
	f := fields{}
	for _, name := range fuzzFieldNames {
		if v := vals[name]; len(v) > 0 {
			f[name] = v[0]
		}
	}
	return f
}

func modelUTF8(vals map[string][]string) bool {
	for k, vs := range vals {
		if !utf8.ValidString(k + strings.Join(vs, "")) {
			return false
		}
	}
	return true
}

// jsonEscape matches one escape of a JSON text, leftmost first, so an
// escaped backslash is consumed whole and never starts a \u.
var jsonEscape = regexp.MustCompile(`\\(?:u([0-9a-fA-F]{4})|.)`)

// modelLoneSurrogate finds a \u surrogate escape that is not a high one
// right before a low one.
func modelLoneSurrogate(body []byte) bool {
	ms := jsonEscape.FindAllSubmatchIndex(body, -1)
	for i := 0; i < len(ms); i++ {
		m := ms[i]
		if m[2] < 0 {
			continue
		}
		v, _ := strconv.ParseUint(string(body[m[2]:m[3]]), 16, 16)
		switch {
		case v >= 0xDC00 && v <= 0xDFFF:
			return true
		case v >= 0xD800 && v <= 0xDBFF:
			if i+1 == len(ms) || ms[i+1][0] != m[1] || ms[i+1][2] < 0 {
				return true
			}
			w, _ := strconv.ParseUint(string(body[ms[i+1][2]:ms[i+1][3]]), 16, 16)
			if w < 0xDC00 || w > 0xDFFF {
				return true
			}
			i++
		}
	}
	return false
}
