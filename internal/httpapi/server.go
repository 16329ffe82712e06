// Package httpapi is tgauth's HTTP transport: a Gin router speaking the
// Watchdog dialect, problem+json errors, request ids and access logs. It
// holds no business rule: every route calls account.Service.
package httpapi

import (
	"context"
	"crypto/sha256"
	"fmt"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"tgauth/internal/account"
	"tgauth/internal/config"
	"tgauth/internal/metrics"
)

// Server routes HTTP requests to the account service.
type Server struct {
	accounts     *account.Service
	log          *slog.Logger
	maxBody      int64
	clientTokens [][sha256.Size]byte
	limiters     map[string]limiters // nil when rate limits are off
	metrics      *metrics.HTTP
	engine       *gin.Engine
}

// An Option tunes New.
type Option func(*options)

type options struct {
	registry *prometheus.Registry
}

// WithRegistry makes the Server register its series with reg and serve
// everything reg gathers at GET /metrics. Without it the Server keeps a
// registry of its own (metrics.NewRegistry).
func WithRegistry(reg *prometheus.Registry) Option {
	return func(o *options) { o.registry = reg }
}

// New returns a Server for accounts configured by cfg and limits. It
// serves Prometheus metrics at GET /metrics: requests, logins, rate-limit
// refusals, password hashes, and whatever else the registry holds (see
// WithRegistry). Gin's mode is global: main sets it (release) before
// calling New.
func New(accounts *account.Service, cfg config.HTTP, limits config.RateLimit, log *slog.Logger, opts ...Option) (*Server, error) {
	var o options
	for _, opt := range opts {
		opt(&o)
	}
	reg := o.registry
	if reg == nil {
		reg = metrics.NewRegistry()
	}
	s := &Server{accounts: accounts, log: log, maxBody: cfg.MaxBodyBytes}
	var err error
	if s.metrics, err = metrics.NewHTTP(reg); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	if err := metrics.RegisterHasher(reg, accounts.Hasher()); err != nil {
		return nil, fmt.Errorf("metrics: %w", err)
	}
	for _, t := range cfg.ClientTokens {
		s.clientTokens = append(s.clientTokens, sha256.Sum256([]byte(t)))
	}
	if limits.Enabled {
		s.limiters = newLimiters(time.Now)
	}
	e := gin.New()
	e.RedirectTrailingSlash = false
	e.RedirectFixedPath = false
	e.HandleMethodNotAllowed = true
	e.ContextWithFallback = true
	// Trust X-Forwarded-For only from the configured proxies (none by
	// default): a client must not choose the IP that rate limits and
	// notices see.
	if err := e.SetTrustedProxies(cfg.TrustedProxies); err != nil {
		return nil, fmt.Errorf("http.trusted_proxies: %w", err)
	}
	e.Use(withRequestID, s.accessLog, s.observe, s.recoverPanic, s.limitBody)
	e.NoRoute(s.handle(func(*gin.Context) error { return errNotFound }))
	e.NoMethod(s.handle(func(*gin.Context) error { return errMethodNotAllowed }))

	// Uptime probes often send HEAD: it answers as GET, without the body.
	for _, m := range []string{http.MethodGet, http.MethodHead} {
		s.route(e, m, "/healthz", s.healthz)
		s.route(e, m, "/readyz", s.readyz)
	}
	s.route(e, http.MethodGet, "/openapi.yaml", s.openAPI)
	s.routeDocs(e)
	s.route(e, http.MethodGet, "/metrics", serveHandler(metrics.Handler(reg, log)))

	// Client API routes, both dialects: each checks the client token
	// first (s.api). Only the operator and documentation routes above
	// answer without one.

	// Watchdog
	s.api(e, http.MethodPost, "/v1/register", s.register)
	s.api(e, http.MethodPost, "/v1/login", s.countLogin(s.login))
	s.api(e, http.MethodPost, "/v1/change-password", s.changePassword)
	s.api(e, http.MethodGet, "/v1/me", s.me)

	// NOWATCH
	s.api(e, http.MethodPost, "/v1/auth/register", s.registerEmail)
	s.api(e, http.MethodPost, "/v1/auth/login", s.countLogin(s.loginPair(false)))
	s.api(e, http.MethodPost, "/v2/auth/login", s.countLogin(s.loginPair(false)))
	s.api(e, http.MethodPost, "/v2/auth/login/admin", s.countLogin(s.loginPair(true)))
	s.api(e, http.MethodPost, "/v1/auth/refresh", s.refresh)
	s.api(e, http.MethodPost, "/v1/auth/forgot_password", s.forgotPassword)
	s.api(e, http.MethodPost, "/v1/auth/confirm_new_password", s.confirmNewPassword)
	s.api(e, http.MethodPost, "/v1/auth/sign-out", s.signOut)
	s.api(e, http.MethodPost, "/v1/telegram/link", s.telegramLink)

	s.engine = e
	return s, nil
}

// ServeHTTP makes Server an http.Handler.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.engine.ServeHTTP(w, r)
}

// route registers h for method and path with and without a trailing slash:
// clients use both, and a redirect would lose a POST body.
func (s *Server) route(e *gin.Engine, method, path string, h func(*gin.Context) error) {
	hf := s.handle(h)
	e.Handle(method, path, hf)
	e.Handle(method, path+"/", hf)
}

// api registers a client API route: route's, behind the client-token
// check, which runs before anything else the handler does (a bearer
// token, the body, rate limits), so a client without a token learns
// nothing else.
func (s *Server) api(e *gin.Engine, method, path string, h func(*gin.Context) error) {
	s.route(e, method, path, func(c *gin.Context) error {
		if err := s.checkClientToken(c); err != nil {
			return err
		}
		return h(c)
	})
}

// handle adapts a handler that returns an error; the error becomes the
// problem that answers the request.
func (s *Server) handle(h func(*gin.Context) error) gin.HandlerFunc {
	return func(c *gin.Context) {
		if err := h(c); err != nil {
			s.writeProblem(c, err)
		}
	}
}

// signedIn authenticates the request's bearer token, then reads the named
// body fields.
func (s *Server) signedIn(c *gin.Context, names ...string) (account.Principal, fields, error) {
	pr, err := s.principal(c)
	if err != nil {
		return pr, nil, err
	}
	f, err := readFields(c, names...)
	return pr, f, err
}

// reauthenticating is signedIn for a route that asks for the current
// password again, under the "password" rate limit of the signed-in user.
func (s *Server) reauthenticating(c *gin.Context, names ...string) (account.Principal, fields, error) {
	pr, f, err := s.signedIn(c, names...)
	if err == nil {
		err = s.limit(c, "password", strconv.FormatInt(pr.UserID, 10))
	}
	return pr, f, err
}

// principal authenticates the request's bearer token.
func (s *Server) principal(c *gin.Context) (account.Principal, error) {
	h := c.GetHeader("Authorization")
	if h == "" {
		return account.Principal{}, errMissingToken
	}
	scheme, tok, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") || strings.TrimSpace(tok) == "" {
		return account.Principal{}, account.ErrInvalidToken
	}
	pr, err := s.accounts.Authenticate(c.Request.Context(), strings.TrimSpace(tok))
	pr.IP = c.ClientIP()
	return pr, err
}

type statusResponse struct {
	Status string `json:"status"`
}

func (s *Server) healthz(c *gin.Context) error {
	c.JSON(http.StatusOK, statusResponse{Status: "ok"})
	return nil
}

func (s *Server) readyz(c *gin.Context) error {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	if err := s.accounts.Ready(ctx); err != nil {
		s.log.WarnContext(ctx, "not ready", slog.String("request_id", requestID(c)), slog.String("error", err.Error()))
		return errNotReady
	}
	c.JSON(http.StatusOK, statusResponse{Status: "ready"})
	return nil
}
