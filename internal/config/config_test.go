package config

import (
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	kmaps "github.com/knadh/koanf/maps"
	"github.com/knadh/koanf/parsers/yaml"
)

const examplePath = "../../config.example.yaml"

// load calls Load with env as both getenv and environ.
func load(path string, env ...string) (Config, []string, error) {
	getenv := func(name string) string {
		for _, kv := range env {
			if k, v, _ := strings.Cut(kv, "="); k == name {
				return v
			}
		}
		return ""
	}
	return Load(path, getenv, env)
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

var equateEmpty = cmpopts.EquateEmpty()

// envName is derived here independently of the package's own table.
func envName(key string) string {
	return "TGAUTH_" + strings.ToUpper(strings.ReplaceAll(key, ".", "_"))
}

func TestLoadNothingSet(t *testing.T) {
	got, warnings, err := load("")
	if err != nil {
		t.Fatalf("Load() err = %v", err)
	}
	if diff := cmp.Diff(Defaults(), got, equateEmpty); diff != "" {
		t.Errorf("Load() mismatch (-want +got):\n%s", diff)
	}
	if len(warnings) != 0 {
		t.Errorf("Load() warnings = %q, want none", warnings)
	}
	if got.Password.MaxConcurrentHashes != runtime.NumCPU() {
		t.Errorf("MaxConcurrentHashes = %d, want %d", got.Password.MaxConcurrentHashes, runtime.NumCPU())
	}
}

func TestExampleIsDefaults(t *testing.T) {
	got, warnings, err := load(examplePath)
	if err != nil {
		t.Fatalf("Load(%q) err = %v", examplePath, err)
	}
	if diff := cmp.Diff(Defaults(), got, equateEmpty); diff != "" {
		t.Errorf("Load(%q) mismatch (-want +got):\n%s", examplePath, diff)
	}
	if len(warnings) != 0 {
		t.Errorf("Load(%q) warnings = %q, want none", examplePath, warnings)
	}
}

// exampleKeys returns the keys of config.example.yaml.
func exampleKeys(t *testing.T) []string {
	t.Helper()
	b, err := os.ReadFile(examplePath)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := yaml.Parser().Unmarshal(b)
	if err != nil {
		t.Fatal(err)
	}
	flat, _ := kmaps.Flatten(raw, nil, ".")
	var keys []string
	for k := range flat {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func TestExampleDocumentsEveryKey(t *testing.T) {
	var want []string
	for _, f := range fields {
		want = append(want, f.key)
	}
	slices.Sort(want)
	if diff := cmp.Diff(want, exampleKeys(t)); diff != "" {
		t.Errorf("config.example.yaml keys mismatch (-known +example):\n%s", diff)
	}
}

func TestEveryExampleKeyFromEnv(t *testing.T) {
	// A value different from the default for every key, and where it lands.
	values := map[string]struct {
		env  string
		want any
		get  func(Config) any
	}{
		"database.path":                  {"/var/lib/tgauth/db", "/var/lib/tgauth/db", func(c Config) any { return c.Database.Path }},
		"database.url":                   {"postgres://u:p@db/tgauth", "postgres://u:p@db/tgauth", func(c Config) any { return c.Database.URL }},
		"http.addr":                      {"127.0.0.1:9000", "127.0.0.1:9000", func(c Config) any { return c.HTTP.Addr }},
		"http.client_tokens":             {"tok-a, tok-b,,", []string{"tok-a", "tok-b"}, func(c Config) any { return c.HTTP.ClientTokens }},
		"http.trusted_proxies":           {"10.0.0.0/8,192.168.1.1", []string{"10.0.0.0/8", "192.168.1.1"}, func(c Config) any { return c.HTTP.TrustedProxies }},
		"http.max_body_bytes":            {"2048", int64(2048), func(c Config) any { return c.HTTP.MaxBodyBytes }},
		"http.read_header_timeout":       {"1s", time.Second, func(c Config) any { return c.HTTP.ReadHeaderTimeout }},
		"http.read_timeout":              {"2s", 2 * time.Second, func(c Config) any { return c.HTTP.ReadTimeout }},
		"http.write_timeout":             {"3s", 3 * time.Second, func(c Config) any { return c.HTTP.WriteTimeout }},
		"http.idle_timeout":              {"4s", 4 * time.Second, func(c Config) any { return c.HTTP.IdleTimeout }},
		"http.shutdown_timeout":          {"90s", 90 * time.Second, func(c Config) any { return c.HTTP.ShutdownTimeout }},
		"jwt.secret":                     {strings.Repeat("s", 40), strings.Repeat("s", 40), func(c Config) any { return c.JWT.Secret }},
		"outbox.seal_key":                {strings.Repeat("k", 40), strings.Repeat("k", 40), func(c Config) any { return c.Outbox.SealKey }},
		"jwt.issuer":                     {"issuer-x", "issuer-x", func(c Config) any { return c.JWT.Issuer }},
		"jwt.access_ttl":                 {"15m", 15 * time.Minute, func(c Config) any { return c.JWT.AccessTTL }},
		"jwt.refresh_ttl":                {"48h", 48 * time.Hour, func(c Config) any { return c.JWT.RefreshTTL }},
		"auth.session_cache_ttl":         {"1s", time.Second, func(c Config) any { return c.Auth.SessionCacheTTL }},
		"telegram.token":                 {"123:abc", "123:abc", func(c Config) any { return c.Telegram.Token }},
		"telegram.api_url":               {"http://127.0.0.1:8081/", "http://127.0.0.1:8081", func(c Config) any { return c.Telegram.APIURL }},
		"telegram.bot_username":          {"@tgauth_bot", "tgauth_bot", func(c Config) any { return c.Telegram.BotUsername }},
		"ratelimit.enabled":              {"false", false, func(c Config) any { return c.RateLimit.Enabled }},
		"password.max_concurrent_hashes": {"1000", 1000, func(c Config) any { return c.Password.MaxConcurrentHashes }},
		"outbox.poll_interval":           {"1s", time.Second, func(c Config) any { return c.Outbox.PollInterval }},
		"outbox.lease":                   {"2m", 2 * time.Minute, func(c Config) any { return c.Outbox.Lease }},
		"bot.metrics_addr":               {"127.0.0.1:9091", "127.0.0.1:9091", func(c Config) any { return c.Bot.MetricsAddr }},
		"log.level":                      {"debug", "debug", func(c Config) any { return c.Log.Level }},
		"log.format":                     {"json", "json", func(c Config) any { return c.Log.Format }},
	}

	var env []string
	for _, key := range exampleKeys(t) {
		v, ok := values[key]
		if !ok {
			t.Fatalf("no test value for key %s of config.example.yaml", key)
		}
		if cmp.Equal(v.get(Defaults()), v.want, equateEmpty) {
			t.Fatalf("test value for %s equals the default", key)
		}
		env = append(env, envName(key)+"="+v.env)
	}
	// The file sets every key to its default, so this also checks env over file.
	got, warnings, err := load(examplePath, env...)
	if err != nil {
		t.Fatalf("Load() err = %v", err)
	}
	if len(warnings) != 0 {
		t.Errorf("Load() warnings = %q, want none", warnings)
	}
	for _, key := range exampleKeys(t) {
		v := values[key]
		if diff := cmp.Diff(v.want, v.get(got)); diff != "" {
			t.Errorf("%s=%q: mismatch (-want +got):\n%s", envName(key), v.env, diff)
		}
	}
}

func TestEnvNamesUnambiguous(t *testing.T) {
	seen := make(map[string]string)
	for _, f := range fields {
		if f.env != envName(f.key) {
			t.Errorf("env name of %s = %s, want %s", f.key, f.env, envName(f.key))
		}
		for _, name := range []string{f.env, f.env + "_FILE"} {
			if other, ok := seen[name]; ok {
				t.Errorf("%s names both %s and %s", name, other, f.key)
			}
			seen[name] = f.key
		}
	}
	if _, ok := seen[EnvConfigFile]; ok {
		t.Errorf("%s is also a key's variable", EnvConfigFile)
	}
}

func TestLoadLayers(t *testing.T) {
	const yml = `
http:
  addr: "127.0.0.1:1"
  client_tokens: [from-file]
  trusted_proxies: ["::1", 10.1.0.0/16]
jwt:
  access_ttl: 30m
ratelimit:
  enabled: false
password:
  max_concurrent_hashes: 3
log:
  level: warn
telegram:
`
	tests := []struct {
		name string
		env  []string
		want func(*Config)
	}{
		{"file only", nil, func(c *Config) {}},
		{
			"env overrides file",
			[]string{"TGAUTH_HTTP_ADDR=:2", "TGAUTH_HTTP_CLIENT_TOKENS=a,b", "TGAUTH_RATELIMIT_ENABLED=true", "OTHER=x"},
			func(c *Config) {
				c.HTTP.Addr = ":2"
				c.HTTP.ClientTokens = []string{"a", "b"}
				c.RateLimit.Enabled = true
			},
		},
		{
			"empty env is unset",
			[]string{"TGAUTH_HTTP_ADDR=", "TGAUTH_JWT_SECRET="},
			func(c *Config) {},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeFile(t, "c.yaml", yml)
			want := Defaults()
			want.HTTP.Addr = "127.0.0.1:1"
			want.HTTP.ClientTokens = []string{"from-file"}
			want.HTTP.TrustedProxies = []string{"::1", "10.1.0.0/16"}
			want.JWT.AccessTTL = 30 * time.Minute
			want.RateLimit.Enabled = false
			want.Password.MaxConcurrentHashes = 3
			want.Log.Level = "warn"
			tt.want(&want)

			got, _, err := load(path, tt.env...)
			if err != nil {
				t.Fatalf("Load() err = %v", err)
			}
			if diff := cmp.Diff(want, got, equateEmpty); diff != "" {
				t.Errorf("Load() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestLoadConfigFileChoice(t *testing.T) {
	a := writeFile(t, "a.yaml", "http: {addr: ':1'}\n")
	b := writeFile(t, "b.yaml", "http: {addr: ':2'}\n")
	missing := filepath.Join(t.TempDir(), "missing.yaml")
	tests := []struct {
		name    string
		path    string
		env     []string
		want    string
		wantErr bool
	}{
		{"path", a, nil, ":1", false},
		{"TGAUTH_CONFIG", "", []string{"TGAUTH_CONFIG=" + b}, ":2", false},
		{"path wins", a, []string{"TGAUTH_CONFIG=" + b}, ":1", false},
		{"missing path", missing, nil, "", true},
		{"missing TGAUTH_CONFIG", "", []string{"TGAUTH_CONFIG=" + missing}, "", true},
		{"empty file", writeFile(t, "e.yaml", ""), nil, ":8080", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warnings, err := load(tt.path, tt.env...)
			if (err != nil) != tt.wantErr {
				t.Fatalf("Load(%q) err = %v, wantErr %v", tt.path, err, tt.wantErr)
			}
			if got.HTTP.Addr != tt.want {
				t.Errorf("Load(%q) addr = %q, want %q", tt.path, got.HTTP.Addr, tt.want)
			}
			if len(warnings) != 0 {
				t.Errorf("Load(%q) warnings = %q, want none", tt.path, warnings)
			}
		})
	}
}

func TestLoadEnvFile(t *testing.T) {
	secret := strings.Repeat("k", 40)
	secretFile := writeFile(t, "secret", secret+"\n")
	tokensFile := writeFile(t, "tokens", "t1\nt2\n")
	missing := filepath.Join(t.TempDir(), "missing")
	tests := []struct {
		name    string
		env     []string
		check   func(Config) bool
		wantErr string // substring; "" means no error
	}{
		{"secret", []string{"TGAUTH_JWT_SECRET_FILE=" + secretFile}, func(c Config) bool { return c.JWT.Secret == secret }, ""},
		{"list", []string{"TGAUTH_HTTP_CLIENT_TOKENS_FILE=" + tokensFile}, func(c Config) bool {
			return slices.Equal(c.HTTP.ClientTokens, []string{"t1", "t2"})
		}, ""},
		{"both set", []string{"TGAUTH_JWT_SECRET=" + secret, "TGAUTH_JWT_SECRET_FILE=" + secretFile}, nil, "both TGAUTH_JWT_SECRET and TGAUTH_JWT_SECRET_FILE are set"},
		{"unreadable", []string{"TGAUTH_JWT_SECRET_FILE=" + missing}, nil, "jwt.secret (from TGAUTH_JWT_SECRET_FILE)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, warnings, err := load("", tt.env...)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("Load() err = %v, want one containing %q", err, tt.wantErr)
				}
				if strings.Contains(err.Error(), secret) {
					t.Errorf("Load() err = %v, shows the secret", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Load() err = %v", err)
			}
			if !tt.check(got) {
				t.Errorf("Load() = %+v, value from file not applied", got)
			}
			if len(warnings) != 0 {
				t.Errorf("Load() warnings = %q, want none", warnings)
			}
		})
	}
}

func TestLoadUnknownFileKey(t *testing.T) {
	tests := []struct {
		name, yml, wantKey string
	}{
		{"typo", "jwt:\n  acess_ttl: 1h\n", `"jwt.acess_ttl"`},
		{"section", "htp:\n  addr: ':1'\n", `"htp.addr"`},
		{"scalar section", "http: 8080\n", `"http"`},
		{"secret-looking", "jwt:\n  secrte: hunter2hunter2\n", `"jwt.secrte"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := load(writeFile(t, "c.yaml", tt.yml))
			if err == nil || !strings.Contains(err.Error(), "unknown key "+tt.wantKey) {
				t.Fatalf("Load() err = %v, want unknown key %s", err, tt.wantKey)
			}
			if strings.Contains(err.Error(), "hunter2") {
				t.Errorf("Load() err = %v, shows a value", err)
			}
		})
	}
}

func TestLoadUnknownEnvWarns(t *testing.T) {
	env := []string{
		"TGAUTH_JWT_SECRTE=hunter2",
		"TGAUTH_TELEGRAM_API_URL=http://x", // known
		"TGAUTH_TELEGRAM_API=hunter2",
		"TGAUTH_NOPE_FILE=/hunter2",
		"TGAUTH_CONFIG=",
		"HOME=/root",
	}
	_, warnings, err := load("", env...)
	if err != nil {
		t.Fatalf("Load() err = %v", err)
	}
	want := []string{"TGAUTH_JWT_SECRTE", "TGAUTH_NOPE_FILE", "TGAUTH_TELEGRAM_API"}
	if len(warnings) != len(want) {
		t.Fatalf("Load() warnings = %q, want %d naming %q", warnings, len(want), want)
	}
	for i, w := range warnings {
		if !strings.Contains(w, want[i]+" ") {
			t.Errorf("warning %d = %q, want it to name %s", i, w, want[i])
		}
		if strings.Contains(w, "hunter2") {
			t.Errorf("warning %d = %q, shows a value", i, w)
		}
	}
}

func TestLoadInvalid(t *testing.T) {
	tests := []struct {
		name    string
		env     []string
		wantErr []string // substrings
	}{
		{"bad int", []string{"TGAUTH_HTTP_MAX_BODY_BYTES=1k"}, []string{`http.max_body_bytes (from TGAUTH_HTTP_MAX_BODY_BYTES): must be a decimal integer, got "1k"`}},
		{"int overflow", []string{"TGAUTH_PASSWORD_MAX_CONCURRENT_HASHES=99999999999999999999"}, []string{"password.max_concurrent_hashes (from"}},
		{"bad bool", []string{"TGAUTH_RATELIMIT_ENABLED=maybe"}, []string{"ratelimit.enabled (from TGAUTH_RATELIMIT_ENABLED): must be true or false"}},
		{"bad duration", []string{"TGAUTH_JWT_ACCESS_TTL=10"}, []string{"jwt.access_ttl (from TGAUTH_JWT_ACCESS_TTL): must be a duration"}},
		{"empty path", []string{"TGAUTH_DATABASE_PATH= "}, nil}, // a space is a path
		{"url scheme", []string{"TGAUTH_DATABASE_URL=mysql://db/x"}, []string{"database.url: must be empty or a postgres://"}},
		{"postgresql ok", []string{"TGAUTH_DATABASE_URL=postgresql:///tgauth?host=/run"}, nil},
		{"addr", []string{"TGAUTH_HTTP_ADDR=8080"}, []string{`http.addr: must be host:port or :port, got "8080"`}},
		{"metrics addr", []string{"TGAUTH_BOT_METRICS_ADDR=9091"}, []string{`bot.metrics_addr: must be empty, host:port or :port, got "9091"`}},
		{"metrics addr port", []string{"TGAUTH_BOT_METRICS_ADDR=:9091"}, nil},
		{"proxy", []string{"TGAUTH_HTTP_TRUSTED_PROXIES=10.0.0.1,proxy.local,10.0.0.0/33"}, []string{
			`http.trusted_proxies: "proxy.local" is not an IP`, `http.trusted_proxies: "10.0.0.0/33" is not an IP`,
		}},
		{"max body", []string{"TGAUTH_HTTP_MAX_BODY_BYTES=0"}, []string{"http.max_body_bytes: must be positive, got 0"}},
		{"timeouts", []string{
			"TGAUTH_HTTP_READ_HEADER_TIMEOUT=0s", "TGAUTH_HTTP_READ_TIMEOUT=-1s", "TGAUTH_HTTP_WRITE_TIMEOUT=0s",
			"TGAUTH_HTTP_IDLE_TIMEOUT=0s", "TGAUTH_HTTP_SHUTDOWN_TIMEOUT=0s",
		}, []string{
			`http.read_header_timeout: must be positive, got "0s"`, `http.read_timeout: must be positive, got "-1s"`,
			"http.write_timeout: must be positive", "http.idle_timeout: must be positive", "http.shutdown_timeout: must be positive",
		}},
		{"short secret", []string{"TGAUTH_JWT_SECRET=short"}, []string{"jwt.secret: must be at least 32 bytes"}},
		{"issuer", []string{"TGAUTH_JWT_ISSUER= "}, nil}, // a space is an issuer
		{"access ttl", []string{"TGAUTH_JWT_ACCESS_TTL=-1s"}, []string{`jwt.access_ttl: must be positive, got "-1s"`}},
		{"refresh ttl", []string{"TGAUTH_JWT_REFRESH_TTL=0s"}, []string{`jwt.refresh_ttl: must be positive, got "0s"`}},
		{"refresh < access", []string{"TGAUTH_JWT_ACCESS_TTL=2h", "TGAUTH_JWT_REFRESH_TTL=1h"}, []string{"jwt.refresh_ttl: must not be shorter than jwt.access_ttl"}},
		{"session cache negative", []string{"TGAUTH_AUTH_SESSION_CACHE_TTL=-1s"}, []string{`auth.session_cache_ttl: must be between 0 (off) and 1m0s, got "-1s"`}},
		{"session cache long", []string{"TGAUTH_AUTH_SESSION_CACHE_TTL=2m"}, []string{`auth.session_cache_ttl: must be between 0 (off) and 1m0s, got "2m0s"`}},
		{"api url relative", []string{"TGAUTH_TELEGRAM_API_URL=/bot"}, []string{`telegram.api_url: must be an absolute http or https URL, got "/bot"`}},
		{"api url scheme", []string{"TGAUTH_TELEGRAM_API_URL=ftp://x"}, []string{"telegram.api_url: must be"}},
		{"username short", []string{"TGAUTH_TELEGRAM_BOT_USERNAME=@abcd"}, []string{`telegram.bot_username: must be 5-32 letters, digits or underscores, got "abcd"`}},
		{"username chars", []string{"TGAUTH_TELEGRAM_BOT_USERNAME=my-bot"}, []string{"telegram.bot_username: must be"}},
		{"username long", []string{"TGAUTH_TELEGRAM_BOT_USERNAME=" + strings.Repeat("a", 33)}, []string{"telegram.bot_username: must be"}},
		{"hashes", []string{"TGAUTH_PASSWORD_MAX_CONCURRENT_HASHES=-1"}, []string{"password.max_concurrent_hashes: must be at least 1"}},
		{"poll", []string{"TGAUTH_OUTBOX_POLL_INTERVAL=0s"}, []string{"outbox.poll_interval: must be positive"}},
		{"lease", []string{"TGAUTH_OUTBOX_LEASE=-1s"}, []string{`outbox.lease: must be positive, got "-1s"`}},
		{"level", []string{"TGAUTH_LOG_LEVEL=INFO"}, []string{`log.level: must be debug, info, warn or error, got "INFO"`}},
		{"format", []string{"TGAUTH_LOG_FORMAT=xml"}, []string{`log.format: must be text or json, got "xml"`}},
		{"all reported", []string{"TGAUTH_LOG_FORMAT=xml", "TGAUTH_LOG_LEVEL=x", "TGAUTH_OUTBOX_POLL_INTERVAL=0s"}, []string{
			"log.format:", "log.level:", "outbox.poll_interval:",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := load("", tt.env...)
			if len(tt.wantErr) == 0 {
				if err != nil {
					t.Fatalf("Load(%q) err = %v, want nil", tt.env, err)
				}
				return
			}
			if err == nil {
				t.Fatalf("Load(%q) err = nil, want %q", tt.env, tt.wantErr)
			}
			for _, w := range tt.wantErr {
				if !strings.Contains(err.Error(), "config: "+w) {
					t.Errorf("Load(%q) err = %v\nwant it to contain %q", tt.env, err, "config: "+w)
				}
			}
		})
	}
}

func TestLoadInvalidFileValues(t *testing.T) {
	tests := []struct {
		name, yml, wantErr string
	}{
		{"int as string", "http:\n  max_body_bytes: lots\n", `http.max_body_bytes (in `},
		{"float int", "http:\n  max_body_bytes: 1.5\n", `must be a decimal integer, got 1.5`},
		{"duration as int", "outbox:\n  poll_interval: 200\n", `outbox.poll_interval (in `},
		{"string as int", "log:\n  level: 1\n", `log.level (in `},
		{"list item", "http:\n  trusted_proxies: [1]\n", `http.trusted_proxies (in `},
		{"list as map", "http:\n  trusted_proxies: {a: 1}\n", `http.trusted_proxies (in `},
		{"nested leaf", "http:\n  addr:\n    port: 1\n    host: x\n", `http.addr (in `},
		{"bool", "ratelimit:\n  enabled: sometimes\n", `ratelimit.enabled (in `},
		{"syntax", "http: [\n", "c.yaml"},
		{"validated", "jwt:\n  access_ttl: -1s\n", `jwt.access_ttl: must be positive, got "-1s"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := load(writeFile(t, "c.yaml", tt.yml))
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Fatalf("Load() err = %v, want one containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestErrorsHideSecrets(t *testing.T) {
	const s = "Hunter2Secret"
	tests := []struct {
		name string
		yml  string
		env  []string
	}{
		{"short jwt secret", "", []string{"TGAUTH_JWT_SECRET=" + s}},
		{"jwt secret wrong type", "jwt:\n  secret: [" + s + "]\n", nil},
		{"token wrong type", "telegram:\n  token: {" + s + ": 1}\n", nil},
		{"token list", "telegram:\n  token: [" + s + "]\n", nil},
		{"client token not a string", "http:\n  client_tokens: [" + s + ", 12345]\n", nil},
		{"client tokens not a list", "http:\n  client_tokens: 12345" + "\n", nil},
		{"database url", "", []string{"TGAUTH_DATABASE_URL=mysql://u:" + s + "@db/x"}},
		{"database url unparsable", "", []string{"TGAUTH_DATABASE_URL=postgres://u:" + s + "@[::1/x"}},
		{"unknown env", "", []string{"TGAUTH_JWT_SECRET_FIEL=" + s, "TGAUTH_LOG_LEVEL=bad"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := ""
			if tt.yml != "" {
				path = writeFile(t, "c.yaml", tt.yml)
			}
			_, warnings, err := load(path, tt.env...)
			if err == nil {
				t.Fatal("Load() err = nil, want an error")
			}
			if strings.Contains(err.Error(), s) || strings.Contains(err.Error(), "12345") {
				t.Errorf("Load() err = %v, shows the secret", err)
			}
			for _, w := range warnings {
				if strings.Contains(w, s) {
					t.Errorf("Load() warning = %q, shows the secret", w)
				}
			}
		})
	}
}
