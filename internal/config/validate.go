package config

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// validate reports every problem in c, joined. Messages name the key and
// never include the value of a secret key.
func (c Config) validate() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("config: %s: "+format, append([]any{key}, args...)...))
	}
	positive := func(key string, d time.Duration) {
		if d <= 0 {
			bad(key, "must be positive, got %q", d)
		}
	}

	if c.Database.URL == "" && c.Database.Path == "" {
		bad("database.path", "must not be empty when database.url is empty")
	}
	if c.Database.URL != "" && !isPostgresURL(c.Database.URL) {
		bad("database.url", "must be empty or a postgres:// or postgresql:// URL")
	}

	if _, _, err := net.SplitHostPort(c.HTTP.Addr); err != nil {
		bad("http.addr", "must be host:port or :port, got %q", c.HTTP.Addr)
	}
	for i, t := range c.HTTP.ClientTokens {
		if strings.TrimSpace(t) == "" {
			bad("http.client_tokens", "item %d is empty", i)
		}
	}
	for _, p := range c.HTTP.TrustedProxies {
		if !isIPOrCIDR(p) {
			bad("http.trusted_proxies", "%q is not an IP address or CIDR", p)
		}
	}
	if c.HTTP.MaxBodyBytes <= 0 {
		bad("http.max_body_bytes", "must be positive, got %d", c.HTTP.MaxBodyBytes)
	}
	positive("http.read_header_timeout", c.HTTP.ReadHeaderTimeout)
	positive("http.read_timeout", c.HTTP.ReadTimeout)
	positive("http.write_timeout", c.HTTP.WriteTimeout)
	positive("http.idle_timeout", c.HTTP.IdleTimeout)
	positive("http.shutdown_timeout", c.HTTP.ShutdownTimeout)

	if c.JWT.Secret != "" && len(c.JWT.Secret) < MinSecretLen {
		bad("jwt.secret", "must be at least %d bytes when set (leave it empty to generate one)", MinSecretLen)
	}
	if c.Outbox.SealKey != "" && len(c.Outbox.SealKey) < MinSecretLen {
		bad("outbox.seal_key", "must be at least %d bytes when set", MinSecretLen)
	}
	if c.JWT.Issuer == "" {
		bad("jwt.issuer", "must not be empty")
	}
	positive("jwt.access_ttl", c.JWT.AccessTTL)
	positive("jwt.refresh_ttl", c.JWT.RefreshTTL)
	if c.JWT.AccessTTL > 0 && c.JWT.RefreshTTL > 0 && c.JWT.RefreshTTL < c.JWT.AccessTTL {
		bad("jwt.refresh_ttl", "must not be shorter than jwt.access_ttl (%s), got %q", c.JWT.AccessTTL, c.JWT.RefreshTTL)
	}

	if d := c.Auth.SessionCacheTTL; d < 0 || d > MaxSessionCacheTTL {
		bad("auth.session_cache_ttl", "must be between 0 (off) and %s, got %q", MaxSessionCacheTTL, d)
	}

	if u, err := url.Parse(c.Telegram.APIURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		bad("telegram.api_url", "must be an absolute http or https URL, got %q", c.Telegram.APIURL)
	}
	if n := c.Telegram.BotUsername; n != "" && !isBotUsername(n) {
		bad("telegram.bot_username", "must be 5-32 letters, digits or underscores, got %q", n)
	}

	if c.Password.MaxConcurrentHashes < 1 {
		bad("password.max_concurrent_hashes", "must be at least 1 (0 means the number of CPUs), got %d", c.Password.MaxConcurrentHashes)
	}
	positive("outbox.poll_interval", c.Outbox.PollInterval)
	positive("outbox.lease", c.Outbox.Lease)
	if a := c.Bot.MetricsAddr; a != "" {
		if _, _, err := net.SplitHostPort(a); err != nil {
			bad("bot.metrics_addr", "must be empty, host:port or :port, got %q", a)
		}
	}

	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "must be debug, info, warn or error, got %q", c.Log.Level)
	}
	switch c.Log.Format {
	case "text", "json":
	default:
		bad("log.format", "must be text or json, got %q", c.Log.Format)
	}
	return errors.Join(errs...)
}

// MaxSessionCacheTTL bounds auth.session_cache_ttl: it is how late
// another process's revocation may be honoured.
const MaxSessionCacheTTL = time.Minute

// isPostgresURL reports whether s parses as a postgres URL. The parse error
// is dropped because *url.Error prints the URL, password included.
func isPostgresURL(s string) bool {
	u, err := url.Parse(s)
	return err == nil && (u.Scheme == "postgres" || u.Scheme == "postgresql")
}

func isIPOrCIDR(s string) bool {
	if _, err := netip.ParseAddr(s); err == nil {
		return true
	}
	_, err := netip.ParsePrefix(s)
	return err == nil
}

func isBotUsername(s string) bool {
	if len(s) < 5 || len(s) > 32 {
		return false
	}
	for _, r := range s {
		if !('a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_') {
			return false
		}
	}
	return true
}
