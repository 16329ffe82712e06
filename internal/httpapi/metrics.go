package httpapi

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"tgauth/internal/metrics"
)

// serveHandler adapts an http.Handler to a route.
func serveHandler(h http.Handler) func(*gin.Context) error {
	return func(c *gin.Context) error {
		h.ServeHTTP(c.Writer, c.Request)
		return nil
	}
}

// countLogin counts each answer of a login handler in tgauth_logins_total.
// It wraps the handler inside the client-token check: a request without a
// valid client token is not a login attempt.
func (s *Server) countLogin(h func(*gin.Context) error) func(*gin.Context) error {
	return func(c *gin.Context) error {
		err := h(c)
		s.metrics.Login(loginResult(err))
		return err
	}
}

// loginResult names the outcome of a login by the problem that answers
// it, so the metric tells no more than the answer does.
func loginResult(err error) string {
	if err == nil {
		return metrics.LoginSuccess
	}
	switch problemFor(err).Code {
	case codeInvalidCredentials:
		return metrics.LoginInvalidCredentials
	case codeForbidden:
		return metrics.LoginForbidden
	case codeRateLimited:
		return metrics.LoginRateLimited
	case codeValidationFailed, codeMalformedBody, codeUnsupportedMediaType, codeBodyTooLarge:
		return metrics.LoginInvalid
	default:
		return metrics.LoginError
	}
}

// routeOf returns the request's route pattern, never its path (which could
// hold anything a client sends), or metrics.Unmatched.
func routeOf(c *gin.Context) string {
	if r := c.FullPath(); r != "" {
		return r
	}
	return metrics.Unmatched
}
