package httpapi

import (
	"crypto/sha256"
	"crypto/subtle"
	"fmt"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"tgauth/internal/metrics"
	"tgauth/internal/ratelimit"
)

// A limit allows burst events at once and one more per every.
type limit struct {
	every time.Duration
	burst int
}

// limits are the per-IP and per-account limits of the routes that guess
// or spend: each IP and each account named in a body gets its own bucket.
// Per-IP buckets live in this process: with several replicas each keeps
// its own.
var limits = map[string]struct{ ip, account limit }{
	"login":    {ip: limit{2 * time.Second, 20}, account: limit{6 * time.Second, 10}},
	"register": {ip: limit{time.Minute, 10}, account: limit{time.Minute, 3}},
	"forgot":   {ip: limit{12 * time.Second, 5}, account: limit{time.Minute, 3}},
	"confirm":  {ip: limit{6 * time.Second, 10}, account: limit{12 * time.Second, 5}},
}

type limiterPair struct{ ip, account *ratelimit.Limiter }

func newLimiters(now func() time.Time) map[string]limiterPair {
	m := make(map[string]limiterPair, len(limits))
	for name, l := range limits {
		m[name] = limiterPair{
			ip:      ratelimit.New(l.ip.every, l.ip.burst, now),
			account: ratelimit.New(l.account.every, l.account.burst, now),
		}
	}
	return m
}

// rateLimitedError answers 429 with Retry-After.
type rateLimitedError struct {
	retryAfter time.Duration
}

func (e *rateLimitedError) Error() string {
	return fmt.Sprintf("rate limited: retry after %s", e.retryAfter)
}

// retryAfterSeconds is the Retry-After value: whole seconds, rounded up.
func (e *rateLimitedError) retryAfterSeconds() string {
	return strconv.Itoa(max(1, int(math.Ceil(e.retryAfter.Seconds()))))
}

// limit takes one event of route for the client's IP and, when account is
// not "", for that account (case-insensitively). It returns a
// *rateLimitedError past either limit, or nil when limits are off.
func (s *Server) limit(c *gin.Context, route, account string) error {
	if s.limiters == nil {
		return nil
	}
	l := s.limiters[route]
	if ok, retry := l.ip.Allow(ratelimit.IPKey(c.ClientIP())); !ok {
		s.metrics.RateLimited(c.FullPath(), metrics.LimitIP)
		return &rateLimitedError{retry}
	}
	if account != "" {
		if ok, retry := l.account.Allow(strings.ToLower(account)); !ok {
			s.metrics.RateLimited(c.FullPath(), metrics.LimitAccount)
			return &rateLimitedError{retry}
		}
	}
	return nil
}

// checkClientToken enforces http.client_tokens on every client API route: the
// x-auth-token header must carry one of them. Tokens are compared as
// SHA-256 digests in constant time, against every configured token, so
// neither the match nor the lengths show in the timing.
func (s *Server) checkClientToken(c *gin.Context) error {
	if len(s.clientTokens) == 0 {
		return nil
	}
	got := sha256.Sum256([]byte(c.GetHeader("x-auth-token")))
	match := 0
	for _, want := range s.clientTokens {
		match |= subtle.ConstantTimeCompare(got[:], want[:])
	}
	if match != 1 {
		return errBadClientToken
	}
	return nil
}

var errBadClientToken = &apiError{http.StatusUnauthorized, "invalid_client_token", "This route needs a valid x-auth-token header."}
