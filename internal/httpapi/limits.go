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
// or spend: each IP and each account named in a body (or, for "password",
// the signed-in user) gets its own bucket. "password" is for the routes
// that check a signed-in user's current password. Per-IP buckets live in
// this process: with several replicas each keeps its own.
var limits = map[string]struct{ ip, account limit }{
	"login":    {ip: limit{2 * time.Second, 20}, account: limit{6 * time.Second, 10}},
	"password": {ip: limit{2 * time.Second, 20}, account: limit{6 * time.Second, 10}},
	"register": {ip: limit{time.Minute, 10}, account: limit{time.Minute, 3}},
	"forgot":   {ip: limit{12 * time.Second, 5}, account: limit{time.Minute, 3}},
	"confirm":  {ip: limit{6 * time.Second, 10}, account: limit{12 * time.Second, 5}},
}

// limiters are one route's buckets. known holds, per account and IP, the
// logins from the account's known networks (account.KnownNetwork) once
// its own bucket is spent: someone failing from elsewhere cannot spend
// the owner's.
type limiters struct{ ip, account, known *ratelimit.Limiter }

func newLimiters(now func() time.Time) map[string]limiters {
	m := make(map[string]limiters, len(limits))
	for name, l := range limits {
		m[name] = limiters{
			ip:      ratelimit.New(l.ip.every, l.ip.burst, now),
			account: ratelimit.New(l.account.every, l.account.burst, now),
			known:   ratelimit.New(l.account.every, l.account.burst, now),
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
	return s.limitKnown(c, route, account, nil)
}

// limitKnown is limit, but when the account's bucket is spent and known
// reports the client's IP a known network of the account, the event is
// taken from that account and network's own bucket instead.
func (s *Server) limitKnown(c *gin.Context, route, account string, known func() (bool, error)) error {
	if s.limiters == nil {
		return nil
	}
	l := s.limiters[route]
	ip := ratelimit.IPKey(c.ClientIP())
	if ok, retry := l.ip.Allow(ip); !ok {
		s.metrics.RateLimited(c.FullPath(), metrics.LimitIP)
		return &rateLimitedError{retry}
	}
	if account == "" {
		return nil
	}
	account = strings.ToLower(account)
	ok, retry := l.account.Allow(account)
	if !ok && known != nil {
		isKnown, err := known()
		if err != nil {
			return err
		}
		if isKnown {
			ok, retry = l.known.Allow(account + "\x00" + ip)
		}
	}
	if !ok {
		s.metrics.RateLimited(c.FullPath(), metrics.LimitAccount)
		return &rateLimitedError{retry}
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

var errBadClientToken = &apiError{http.StatusUnauthorized, codeInvalidClientToken, "This route needs a valid x-auth-token header."}
