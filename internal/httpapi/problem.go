package httpapi

import (
	"context"
	"errors"
	"log/slog"
	"net/http"

	"github.com/gin-gonic/gin"

	"tgauth/internal/account"
)

// problem is an RFC 9457 problem details body. Code is stable: clients
// may switch on it; Title and Detail are for people.
type problem struct {
	Type      string       `json:"type"`
	Title     string       `json:"title"`
	Status    int          `json:"status"`
	Detail    string       `json:"detail,omitempty"`
	Instance  string       `json:"instance,omitempty"`
	Code      string       `json:"code"`
	RequestID string       `json:"request_id,omitempty"`
	Errors    []fieldError `json:"errors,omitempty"`
}

// fieldError is one broken rule of one body field, named as the client
// sent it.
type fieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
}

// wireNames maps the domain's names of a route's fields to the names its
// body gives them, where the two differ.
type wireNames map[account.Field]string

// of is the body's name for f.
func (w wireNames) of(f account.Field) string {
	if n, ok := w[f]; ok {
		return n
	}
	return string(f)
}

// sentAs is a domain error from a route whose body calls some of the
// domain's fields by other names: its problem uses the body's names.
type sentAs struct {
	err   error
	names wireNames
}

func (e *sentAs) Error() string { return e.err.Error() }
func (e *sentAs) Unwrap() error { return e.err }

// named returns err with the route's names for its fields; nil stays nil.
func (w wireNames) named(err error) error {
	if err == nil {
		return nil
	}
	return &sentAs{err, w}
}

// Problem codes: the stable code of each answer, which clients may switch
// on (openapi.yaml lists them). Handlers, the writer and the login metric
// all name them here.
const (
	codeNotFound             = "not_found"
	codeMethodNotAllowed     = "method_not_allowed"
	codeBodyTooLarge         = "body_too_large"
	codeUnsupportedMediaType = "unsupported_media_type"
	codeMalformedBody        = "malformed_body"
	codeMissingToken         = "missing_token"
	codeNotReady             = "not_ready"
	codeRateLimited          = "rate_limited"
	codeValidationFailed     = "validation_failed"
	codeAlreadyExists        = "already_exists"
	codeInvalidCredentials   = "invalid_credentials" // #nosec G101 -- a problem code, not a credential
	codeInvalidCode          = "invalid_code"
	codeForbidden            = "forbidden"
	codeNotConfigured        = "not_configured"
	codeInvalidToken         = "invalid_token"
	codeWrongPassword        = "wrong_password"
	codeConflict             = "conflict"
	codeUnavailable          = "unavailable"
	codeInternalError        = "internal_error"
	codeInvalidClientToken   = "invalid_client_token"
)

// apiError is an error the HTTP layer raises itself, already in the form
// of a problem: a bad body, an unknown route, a missing token.
type apiError struct {
	status int
	code   string
	detail string
}

func (e *apiError) Error() string { return e.code + ": " + e.detail }

var (
	errNotFound         = &apiError{http.StatusNotFound, codeNotFound, "No route matches this path."}
	errMethodNotAllowed = &apiError{http.StatusMethodNotAllowed, codeMethodNotAllowed, "This path does not answer to this method; see the Allow header."}
	errBodyTooLarge     = &apiError{http.StatusRequestEntityTooLarge, codeBodyTooLarge, "The request body is larger than this server accepts."}
	errUnsupportedMedia = &apiError{http.StatusUnsupportedMediaType, codeUnsupportedMediaType, "Send the body as application/json or application/x-www-form-urlencoded."}
	errMalformedBody    = &apiError{http.StatusBadRequest, codeMalformedBody, "The request body could not be parsed."}
	errInvalidUTF8      = &apiError{http.StatusBadRequest, codeMalformedBody, "The request body is not valid UTF-8 text."}
	errMissingToken     = &apiError{http.StatusUnauthorized, codeMissingToken, "This route needs an Authorization: Bearer token."}
	errNotReady         = &apiError{http.StatusServiceUnavailable, codeNotReady, "The database does not answer."}
)

// problemFor maps an error to the problem that answers it. This is the one
// place where errors become statuses.
func problemFor(err error) problem {
	var (
		ae    *apiError
		ve    *account.ValidationError
		ce    *account.ConflictError
		re    *rateLimitedError
		we    *account.WrongPasswordError
		sa    *sentAs
		names wireNames
	)
	if errors.As(err, &sa) {
		names = sa.names
	}
	switch {
	case errors.As(err, &ae):
		return newProblem(ae.status, ae.code, ae.detail)
	case errors.As(err, &re):
		return newProblem(http.StatusTooManyRequests, codeRateLimited, "Too many attempts; retry after the time in Retry-After.")
	case errors.As(err, &ve):
		p := newProblem(http.StatusBadRequest, codeValidationFailed, "Some fields are missing or invalid; see errors.")
		for _, f := range ve.Fields {
			p.Errors = append(p.Errors, fieldError{names.of(f.Field), f.Message})
		}
		return p
	case errors.As(err, &ce):
		p := newProblem(http.StatusConflict, codeAlreadyExists, names.of(ce.Field)+" is already taken.")
		p.Errors = []fieldError{{names.of(ce.Field), "is already taken"}}
		return p
	case errors.Is(err, account.ErrUnauthorized):
		return newProblem(http.StatusUnauthorized, codeInvalidCredentials, "The account or password is wrong.")
	case errors.Is(err, account.ErrInvalidCode):
		p := newProblem(http.StatusBadRequest, codeInvalidCode, "The verification code is wrong, expired or used up; ask for a new one.")
		p.Errors = []fieldError{{names.of(account.FieldCode), "is wrong, expired or used up"}}
		return p
	case errors.Is(err, account.ErrForbidden):
		return newProblem(http.StatusForbidden, codeForbidden, "This account may not do this.")
	case errors.Is(err, account.ErrUnavailable):
		return newProblem(http.StatusServiceUnavailable, codeNotConfigured, "The server is not configured for this feature.")
	case errors.Is(err, account.ErrInvalidToken):
		return newProblem(http.StatusUnauthorized, codeInvalidToken, "The bearer token is invalid, expired or revoked.")
	case errors.As(err, &we):
		field := names.of(we.Field)
		p := newProblem(http.StatusForbidden, codeWrongPassword, "The password given in "+field+" is not the current password.")
		p.Errors = []fieldError{{field, "does not match the current password"}}
		return p
	case errors.Is(err, account.ErrConflict):
		return newProblem(http.StatusConflict, codeConflict, "The account changed while this request ran; try again.")
	case errors.Is(err, account.ErrNotFound):
		return newProblem(http.StatusNotFound, codeNotFound, "No such resource.")
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, context.Canceled):
		return newProblem(http.StatusServiceUnavailable, codeUnavailable, "The server is too busy to answer in time; try again.")
	default:
		return newProblem(http.StatusInternalServerError, codeInternalError, "Something went wrong on our side.")
	}
}

func newProblem(status int, code, detail string) problem {
	return problem{
		Type:   "urn:tgauth:problem:" + code,
		Title:  http.StatusText(status),
		Status: status,
		Detail: detail,
		Code:   code,
	}
}

// writeProblem answers the request with err as problem+json. A 500 logs its
// cause; no other error is worth a log line beyond the access log.
func (s *Server) writeProblem(c *gin.Context, err error) {
	p := problemFor(err)
	p.Instance = c.Request.URL.Path
	p.RequestID = requestID(c)
	if p.Status >= http.StatusInternalServerError && p.Code == codeInternalError {
		s.log.ErrorContext(c.Request.Context(), "request failed",
			slog.String("request_id", p.RequestID), slog.String("error", err.Error()))
	}
	switch p.Code {
	case codeMissingToken, codeInvalidToken:
		c.Header("WWW-Authenticate", bearerChallenge(p.Code))
	case codeRateLimited:
		var re *rateLimitedError
		errors.As(err, &re)
		c.Header("Retry-After", re.retryAfterSeconds())
	}
	c.Abort()
	c.Render(p.Status, problemRender{p})
}

func bearerChallenge(code string) string {
	if code == codeInvalidToken {
		return `Bearer realm="tgauth", error="invalid_token"`
	}
	return `Bearer realm="tgauth"`
}
