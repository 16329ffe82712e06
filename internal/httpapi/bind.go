package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"unicode/utf16"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"tgauth/internal/account"
)

// fields is a request body read as flat text fields: every route takes a
// few strings, sent as a JSON object or as a form (curl -d k=v). A JSON
// number is kept as its text, so a chat id may come either way. A field
// that was not sent reads as "".
type fields map[string]string

// nameOf is the account the body's email and username name.
func nameOf(f fields) account.Name {
	return account.Name{Email: f["email"], Username: f["username"]}
}

// readFields reads the named fields from the body, by its Content-Type; a
// body without one is JSON when it starts with '{', else a form. Other
// fields are ignored. It returns errBodyTooLarge, errUnsupportedMedia,
// errMalformedBody, errInvalidUTF8, or a *account.ValidationError for
// named JSON values that are neither strings nor numbers.
//
// The whole body must be UTF-8 text, in every field read or not: raw
// bytes, percent-encoded form bytes, and JSON \u escapes (a lone half of
// a surrogate pair is not text). The decoders would turn invalid UTF-8
// into U+FFFD, so different bodies would read as one and a stored name
// would not be the one sent.
func readFields(c *gin.Context, names ...string) (fields, error) {
	r := c.Request
	body, err := io.ReadAll(r.Body)
	if err != nil {
		if errors.As(err, new(*http.MaxBytesError)) {
			return nil, errBodyTooLarge
		}
		return nil, errMalformedBody
	}
	mediaType := ""
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mediaType, _, err = mime.ParseMediaType(ct)
		if err != nil {
			return nil, errUnsupportedMedia
		}
	}
	if !utf8.Valid(body) {
		return nil, errInvalidUTF8
	}
	trimmed := bytes.TrimSpace(body)
	switch {
	case mediaType == "application/json" || strings.HasSuffix(mediaType, "+json"):
		return jsonFields(trimmed, names)
	case mediaType == "" && len(trimmed) == 0:
		return fields{}, nil
	case mediaType == "" && trimmed[0] == '{':
		return jsonFields(trimmed, names)
	case mediaType == "" || mediaType == "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, errMalformedBody
		}
		if !validForm(vals) {
			return nil, errInvalidUTF8
		}
		return formFields(vals, names), nil
	case mediaType == "multipart/form-data":
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := r.ParseMultipartForm(int64(len(body)) + 1); err != nil {
			return nil, errMalformedBody
		}
		if !validForm(r.MultipartForm.Value) {
			return nil, errInvalidUTF8
		}
		return formFields(r.MultipartForm.Value, names), nil
	default:
		return nil, errUnsupportedMedia
	}
}

func formFields(vals map[string][]string, names []string) fields {
	f := make(fields, len(names))
	for _, name := range names {
		if v := vals[name]; len(v) > 0 {
			f[name] = v[0]
		}
	}
	return f
}

func jsonFields(body []byte, names []string) (fields, error) {
	if len(body) == 0 {
		return fields{}, nil
	}
	var raw map[string]json.RawMessage
	dec := json.NewDecoder(bytes.NewReader(body))
	if err := dec.Decode(&raw); err != nil || raw == nil {
		return nil, errMalformedBody
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errMalformedBody // something after the object
	}
	if loneSurrogate(body) {
		return nil, errInvalidUTF8
	}
	f := make(fields, len(names))
	var ve account.ValidationError
	for _, k := range names {
		v, ok := raw[k]
		if !ok {
			continue
		}
		switch v[0] {
		case '"':
			var s string
			if err := json.Unmarshal(v, &s); err != nil {
				return nil, errMalformedBody
			}
			f[k] = s
		case 'n': // null: as if absent
		case '-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9':
			f[k] = string(v)
		default:
			ve.Add(account.Field(k), "must be a string") // named as sent
		}
	}
	if err := ve.Err(); err != nil {
		return nil, err
	}
	return f, nil
}

// validForm reports whether every name and value of a decoded form is
// UTF-8.
func validForm(vals map[string][]string) bool {
	for k, vs := range vals {
		if !utf8.ValidString(k) {
			return false
		}
		for _, v := range vs {
			if !utf8.ValidString(v) {
				return false
			}
		}
	}
	return true
}

// loneSurrogate reports whether body, a JSON text that parsed, has a \u
// escape of a surrogate that is not half of a high-low pair: no
// character, which encoding/json would read as U+FFFD. In valid JSON
// every backslash starts an escape inside a string.
func loneSurrogate(body []byte) bool {
	for i := 0; i < len(body); i++ {
		if body[i] != '\\' {
			continue
		}
		i++ // the escaped character
		if body[i] != 'u' {
			continue
		}
		r := hex4(body[i+1:])
		i += 4
		if !utf16.IsSurrogate(r) {
			continue
		}
		if i+6 >= len(body) || body[i+1] != '\\' || body[i+2] != 'u' {
			return true
		}
		if utf16.DecodeRune(r, hex4(body[i+3:])) == utf8.RuneError {
			return true // a low surrogate first, or a high one twice
		}
		i += 6
	}
	return false
}

// hex4 reads the four hex digits of a \u escape that encoding/json
// already checked.
func hex4(b []byte) rune {
	var r rune
	for _, c := range b[:4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		default:
			c -= 'A' - 10
		}
		r = r<<4 | rune(c)
	}
	return r
}
