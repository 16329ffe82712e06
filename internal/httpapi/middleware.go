package httpapi

import (
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
)

const requestIDHeader = "X-Request-ID"

// requestIDKey is where the request id lives in gin's context.
const requestIDKey = "tgauth.request_id"

// withRequestID takes the caller's X-Request-ID when it is a short token
// of safe characters (so it cannot forge log lines), else makes one, and
// echoes it in the response.
func withRequestID(c *gin.Context) {
	id := c.GetHeader(requestIDHeader)
	if !validRequestID(id) {
		b := make([]byte, 12)
		_, _ = rand.Read(b)
		id = hex.EncodeToString(b)
	}
	c.Set(requestIDKey, id)
	c.Header(requestIDHeader, id)
	c.Next()
}

func validRequestID(id string) bool {
	if id == "" || len(id) > 64 {
		return false
	}
	for _, r := range id {
		if !isRequestIDRune(r) {
			return false
		}
	}
	return true
}

func isRequestIDRune(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' ||
		r == '_' || r == '.' || r == '-' || r == ':'
}

func requestID(c *gin.Context) string {
	return c.GetString(requestIDKey)
}

// accessLog writes one line per request: no body, no query string, no
// header but the user agent, so no password, code or token can reach it.
func (s *Server) accessLog(c *gin.Context) {
	start := time.Now()
	c.Next()
	s.log.LogAttrs(c.Request.Context(), slog.LevelInfo, "http request",
		slog.String("request_id", requestID(c)),
		slog.String("method", c.Request.Method),
		slog.String("route", routeOf(c)),
		slog.Int("status", c.Writer.Status()),
		slog.Int("bytes", max(c.Writer.Size(), 0)),
		slog.Duration("duration", time.Since(start)),
		slog.String("client_ip", c.ClientIP()),
	)
}

// observe counts each request and its duration by route pattern, method
// and status. It runs outside recoverPanic, so a panic counts as the 500
// it answers.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	s.metrics.ObserveRequest(routeOf(c), c.Request.Method, c.Writer.Status(), time.Since(start))
}

// recoverPanic turns a panic in a handler into a logged 500 problem.
func (s *Server) recoverPanic(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.log.ErrorContext(c.Request.Context(), "panic in handler",
				slog.String("request_id", requestID(c)), slog.Any("panic", v))
			s.writeProblem(c, &apiError{http.StatusInternalServerError, codeInternalError, "Something went wrong on our side."})
		}
	}()
	c.Next()
}

// limitBody refuses a body declared larger than the limit at once and caps
// the one that is read, so no handler reads more than the limit.
func (s *Server) limitBody(c *gin.Context) {
	if c.Request.ContentLength > s.maxBody {
		s.writeProblem(c, errBodyTooLarge)
		return
	}
	c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.maxBody)
	c.Next()
}
