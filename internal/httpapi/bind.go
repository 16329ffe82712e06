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

	"github.com/gin-gonic/gin"

	"tgauth/internal/account"
)

// fields is a request body read as flat text fields: every route takes a
// few strings, sent as a JSON object or as a form (curl -d k=v). A JSON
// number is kept as its text, so a chat id may come either way. A field
// that was not sent reads as "".
type fields map[string]string

// readFields reads the named fields from the body, by its Content-Type; a
// body without one is JSON when it starts with '{', else a form. Other
// fields are ignored. It returns errBodyTooLarge, errUnsupportedMedia,
// errMalformedBody, or a *account.ValidationError for named JSON values
// that are neither strings nor numbers.
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
		return formFields(vals, names), nil
	case mediaType == "multipart/form-data":
		r.Body = io.NopCloser(bytes.NewReader(body))
		if err := r.ParseMultipartForm(int64(len(body)) + 1); err != nil {
			return nil, errMalformedBody
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
			ve.Add(k, "must be a string")
		}
	}
	if err := ve.Err(); err != nil {
		return nil, err
	}
	return f, nil
}
