// Package config loads tgauth's configuration from defaults, an optional
// YAML file and TGAUTH_* environment variables, and validates it.
//
// Every key has an environment variable: "TGAUTH_" + the key upper-cased with
// "." replaced by "_" (telegram.api_url is TGAUTH_TELEGRAM_API_URL). Names
// are looked up in the set of known keys, never derived by turning "_" back
// into ".", because many keys contain underscores.
package config

import (
	"errors"
	"fmt"
	"maps"
	"reflect"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"

	kmaps "github.com/knadh/koanf/maps"
	"github.com/knadh/koanf/parsers/yaml"
	"github.com/knadh/koanf/providers/file"
	"github.com/knadh/koanf/v2"
)

// Config is tgauth's whole configuration. Constructors take the sub-struct
// they need (cfg.HTTP), not the whole Config.
type Config struct {
	Database  Database  `koanf:"database"`
	HTTP      HTTP      `koanf:"http"`
	JWT       JWT       `koanf:"jwt"`
	Auth      Auth      `koanf:"auth"`
	Telegram  Telegram  `koanf:"telegram"`
	RateLimit RateLimit `koanf:"ratelimit"`
	Password  Password  `koanf:"password"`
	Outbox    Outbox    `koanf:"outbox"`
	Bot       Bot       `koanf:"bot"`
	Log       Log       `koanf:"log"`
}

// Database selects and locates the database.
type Database struct {
	// Path is the SQLite database file, used when URL is empty.
	Path string `koanf:"path"`
	// URL, when set, is a postgres:// or postgresql:// URL. It may embed a
	// password, so it is treated as a secret.
	URL string `koanf:"url" secret:"true"`
}

// HTTP configures the API server.
type HTTP struct {
	Addr string `koanf:"addr"`
	// ClientTokens, when set, are the x-auth-token values every client
	// API route of both dialects requires; the operator and documentation
	// routes never do.
	ClientTokens      []string      `koanf:"client_tokens" secret:"true"`
	TrustedProxies    []string      `koanf:"trusted_proxies"` // IPs or CIDRs
	MaxBodyBytes      int64         `koanf:"max_body_bytes"`
	ReadHeaderTimeout time.Duration `koanf:"read_header_timeout"`
	ReadTimeout       time.Duration `koanf:"read_timeout"`
	WriteTimeout      time.Duration `koanf:"write_timeout"`
	IdleTimeout       time.Duration `koanf:"idle_timeout"`
	ShutdownTimeout   time.Duration `koanf:"shutdown_timeout"`
}

// JWT configures access and refresh tokens.
type JWT struct {
	// Secret signs tokens. Empty means one is generated and kept in the
	// database; when set it has at least MinSecretLen bytes.
	Secret     string        `koanf:"secret" secret:"true"`
	Issuer     string        `koanf:"issuer"`
	AccessTTL  time.Duration `koanf:"access_ttl"`
	RefreshTTL time.Duration `koanf:"refresh_ttl"`
}

// Auth tunes how the API authenticates requests.
type Auth struct {
	// SessionCacheTTL, when positive, is how long the API may answer from
	// memory whether a session is live (and the profile GET /v1/me shows)
	// instead of reading the database on every request. The API's own
	// revocations apply at once; another process's (the bot's "Not me",
	// another replica's sign-out) within this time. 0 reads every time.
	SessionCacheTTL time.Duration `koanf:"session_cache_ttl"`
}

// Telegram configures the Bot API client.
type Telegram struct {
	Token string `koanf:"token" secret:"true"`
	// APIURL is the Bot API base URL without a trailing slash.
	APIURL string `koanf:"api_url"`
	// BotUsername is empty or a username without the leading "@".
	BotUsername string `koanf:"bot_username"`
}

// RateLimit switches the per-IP and per-account limits.
type RateLimit struct {
	Enabled bool `koanf:"enabled"`
}

// Password bounds password hashing.
type Password struct {
	// MaxConcurrentHashes is at least 1 after Load; 0 in the file or the
	// environment means runtime.NumCPU().
	MaxConcurrentHashes int `koanf:"max_concurrent_hashes"`
}

// Outbox configures the outbox dispatcher.
type Outbox struct {
	PollInterval time.Duration `koanf:"poll_interval"`
	// Lease is how long a claimed message stays with the dispatcher that
	// claimed it; a dispatcher that dies holding one frees it when it lapses.
	Lease time.Duration `koanf:"lease"`
	// SealKey seals the reset codes in the outbox; the API and the bot
	// must share it. Empty: on SQLite a key is generated into a file
	// beside the database (database.path + ".key"); on PostgreSQL codes
	// stay in clear until sent. At least MinSecretLen bytes when set.
	SealKey string `koanf:"seal_key" secret:"true"`
}

// Bot configures the bot process beyond its Telegram client.
type Bot struct {
	// MetricsAddr is where the bot serves Prometheus metrics at /metrics,
	// host:port or :port; empty (the default) serves none.
	MetricsAddr string `koanf:"metrics_addr"`
}

// Log configures the slog handler.
type Log struct {
	Level  string `koanf:"level"`  // debug, info, warn or error
	Format string `koanf:"format"` // text or json
}

// MinSecretLen is the minimum length in bytes of a configured jwt.secret.
const MinSecretLen = 32

// EnvPrefix starts the name of every environment variable Load reads.
const EnvPrefix = "TGAUTH_"

// EnvConfigFile names the YAML file to load when Load's path is empty.
const EnvConfigFile = EnvPrefix + "CONFIG"

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		Database: Database{Path: "data/tgauth.db"},
		HTTP: HTTP{
			Addr:              ":8080",
			MaxBodyBytes:      1 << 20,
			ReadHeaderTimeout: 5 * time.Second,
			ReadTimeout:       15 * time.Second,
			WriteTimeout:      30 * time.Second,
			IdleTimeout:       120 * time.Second,
			ShutdownTimeout:   20 * time.Second,
		},
		JWT: JWT{
			Issuer:     "tgauth",
			AccessTTL:  time.Hour,
			RefreshTTL: 720 * time.Hour,
		},
		Telegram:  Telegram{APIURL: "https://api.telegram.org"},
		RateLimit: RateLimit{Enabled: true},
		Password:  Password{MaxConcurrentHashes: runtime.NumCPU()},
		Outbox:    Outbox{PollInterval: 200 * time.Millisecond, Lease: 30 * time.Second},
		Log:       Log{Level: "info", Format: "text"},
	}
}

// Load builds the configuration. Later sources override earlier ones:
//
//  1. Defaults();
//  2. the YAML file named by path or, when path is "", by
//     getenv("TGAUTH_CONFIG") (no file at all is fine; a named file that
//     cannot be read is an error; unknown keys are an error; null values
//     are ignored);
//  3. TGAUTH_<KEY> variables in environ and TGAUTH_<KEY>_FILE variables,
//     whose value is the named file's contents minus trailing newlines.
//     Setting both forms of one key is an error. An empty variable counts
//     as unset. List values are comma-separated (newlines also separate);
//     blanks are dropped.
//
// getenv is consulted only for TGAUTH_CONFIG; main passes os.Getenv and
// os.Environ(). Load validates the result and reports every problem at once,
// joined; no error or warning contains the value of a secret key.
//
// The warnings (unknown TGAUTH_* variables) are worth logging; they are
// returned even when err is not nil.
func Load(path string, getenv func(string) string, environ []string) (Config, []string, error) {
	envVals, warnings, errs := readEnv(environ)

	if path == "" {
		path = getenv(EnvConfigFile)
	}
	var fileVals map[string]any
	if path != "" {
		var err error
		fileVals, err = readFile(path)
		if err != nil {
			return Config{}, warnings, err
		}
	}
	if len(errs) > 0 {
		return Config{}, warnings, errors.Join(errs...)
	}

	k := koanf.New(".")
	for _, m := range []flatMap{defaultValues(), fileVals, envVals} {
		if err := k.Load(m, nil); err != nil {
			return Config{}, warnings, fmt.Errorf("config: %w", err)
		}
	}
	var c Config
	if err := k.UnmarshalWithConf("", &c, koanf.UnmarshalConf{Tag: "koanf"}); err != nil {
		// Values are already typed, so this is a bug, not a bad input;
		// the message may contain values, so it is not passed on.
		return Config{}, warnings, errors.New("config: unmarshal: unexpected value types")
	}
	c.normalize()
	if err := c.validate(); err != nil {
		return Config{}, warnings, err
	}
	return c, warnings, nil
}

// normalize applies the documented shorthands.
func (c *Config) normalize() {
	if c.Password.MaxConcurrentHashes == 0 {
		c.Password.MaxConcurrentHashes = runtime.NumCPU()
	}
	c.Telegram.BotUsername = strings.TrimPrefix(c.Telegram.BotUsername, "@")
	c.Telegram.APIURL = strings.TrimSuffix(c.Telegram.APIURL, "/")
}

// field is one configuration key.
type field struct {
	key    string // "jwt.access_ttl"
	env    string // "TGAUTH_JWT_ACCESS_TTL"
	index  []int  // path to the field in Config
	typ    reflect.Type
	secret bool // never print the value
}

// fields lists every key in Config's declaration order.
var fields = configFields()

func configFields() []field {
	var fs []field
	ct := reflect.TypeFor[Config]()
	for i := range ct.NumField() {
		sect := ct.Field(i)
		for j := range sect.Type.NumField() {
			f := sect.Type.Field(j)
			key := sect.Tag.Get("koanf") + "." + f.Tag.Get("koanf")
			fs = append(fs, field{
				key:    key,
				env:    EnvPrefix + strings.ToUpper(strings.ReplaceAll(key, ".", "_")),
				index:  []int{i, j},
				typ:    f.Type,
				secret: f.Tag.Get("secret") == "true",
			})
		}
	}
	return fs
}

func fieldByKey(key string) (field, bool) {
	i := slices.IndexFunc(fields, func(f field) bool { return f.key == key })
	if i < 0 {
		return field{}, false
	}
	return fields[i], true
}

func fieldByEnv(name string) (field, bool) {
	i := slices.IndexFunc(fields, func(f field) bool { return f.env == name })
	if i < 0 {
		return field{}, false
	}
	return fields[i], true
}

// isSection reports whether key names a section such as "http".
func isSection(key string) bool {
	return slices.ContainsFunc(fields, func(f field) bool {
		return strings.HasPrefix(f.key, key+".")
	})
}

// flatMap is a koanf.Provider of already typed values under "a.b" keys.
type flatMap map[string]any

func (m flatMap) ReadBytes() ([]byte, error) {
	return nil, errors.New("flatMap does not support ReadBytes")
}

func (m flatMap) Read() (map[string]any, error) {
	return kmaps.Unflatten(m, "."), nil
}

func defaultValues() flatMap {
	d := reflect.ValueOf(Defaults())
	m := make(flatMap, len(fields))
	for _, f := range fields {
		m[f.key] = d.FieldByIndex(f.index).Interface()
	}
	return m
}

// readFile reads and type-checks the YAML file at path.
func readFile(path string) (flatMap, error) {
	b, err := file.Provider(path).ReadBytes()
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	raw, err := yaml.Parser().Unmarshal(b)
	if err != nil {
		return nil, fmt.Errorf("config: %s: %w", path, err)
	}
	flat, _ := kmaps.Flatten(raw, nil, ".")
	var errs []error
	var mappings []string // keys reported as holding a mapping
	out := make(flatMap, len(flat))
	for _, key := range slices.Sorted(maps.Keys(flat)) {
		v := flat[key]
		f, ok := fieldByKey(key)
		if !ok {
			// A section whose keys are all commented out.
			if v == nil && isSection(key) {
				continue
			}
			// A mapping under a key: name the key, not the mapping's keys,
			// which might be a secret.
			if i := slices.IndexFunc(fields, func(f field) bool { return strings.HasPrefix(key, f.key+".") }); i >= 0 {
				f := fields[i]
				if !slices.Contains(mappings, f.key) {
					mappings = append(mappings, f.key)
					errs = append(errs, fmt.Errorf("config: %s (in %s): must not be a mapping", f.key, path))
				}
				continue
			}
			errs = append(errs, fmt.Errorf("config: %s: unknown key %q", path, key))
			continue
		}
		if v == nil {
			continue
		}
		tv, err := f.coerce(v)
		if err != nil {
			errs = append(errs, fmt.Errorf("config: %s (in %s): %w", f.key, path, err))
			continue
		}
		out[key] = tv
	}
	return out, errors.Join(errs...)
}

// readEnv picks the TGAUTH_* variables out of environ.
func readEnv(environ []string) (vals flatMap, warnings []string, errs []error) {
	direct := make(map[string]string) // key -> value
	files := make(map[string]string)  // key -> file name
	for _, kv := range environ {
		name, val, ok := strings.Cut(kv, "=")
		if !ok || !strings.HasPrefix(name, EnvPrefix) || name == EnvConfigFile {
			continue
		}
		if f, ok := fieldByEnv(name); ok {
			if val != "" {
				direct[f.key] = val
			}
			continue
		}
		if base, ok := strings.CutSuffix(name, "_FILE"); ok {
			if f, ok := fieldByEnv(base); ok {
				if val != "" {
					files[f.key] = val
				}
				continue
			}
		}
		warnings = append(warnings, fmt.Sprintf("config: unknown environment variable %s ignored", name))
	}
	slices.Sort(warnings)
	warnings = slices.Compact(warnings)

	vals = make(flatMap)
	for _, f := range fields {
		val, isDirect := direct[f.key]
		name, isFile := files[f.key]
		src := f.env
		switch {
		case isDirect && isFile:
			errs = append(errs, fmt.Errorf("config: %s: both %s and %s_FILE are set", f.key, f.env, f.env))
			continue
		case isFile:
			src = f.env + "_FILE"
			b, err := file.Provider(name).ReadBytes()
			if err != nil {
				errs = append(errs, fmt.Errorf("config: %s (from %s): %w", f.key, src, err))
				continue
			}
			val = strings.TrimRight(string(b), "\r\n")
		case !isDirect:
			continue
		}
		tv, err := f.coerce(val)
		if err != nil {
			errs = append(errs, fmt.Errorf("config: %s (from %s): %w", f.key, src, err))
			continue
		}
		vals[f.key] = tv
	}
	return vals, warnings, errs
}

var durationType = reflect.TypeFor[time.Duration]()

// coerce converts a YAML value or an environment string to f's type. Its
// errors show v only when f is not secret.
func (f field) coerce(v any) (any, error) {
	got := ""
	if !f.secret {
		if s, ok := v.(string); ok {
			got = fmt.Sprintf(", got %q", s)
		} else {
			got = fmt.Sprintf(", got %v", v)
		}
	}
	s, isString := v.(string)
	if f.typ == durationType {
		if isString {
			if d, err := time.ParseDuration(strings.TrimSpace(s)); err == nil {
				return d, nil
			}
		}
		return nil, fmt.Errorf("must be a duration such as \"90s\" or \"1h\"%s", got)
	}
	switch f.typ.Kind() {
	case reflect.String:
		if isString {
			return s, nil
		}
		return nil, fmt.Errorf("must be a string (quote it)%s", got)
	case reflect.Bool:
		if b, ok := v.(bool); ok {
			return b, nil
		}
		if isString {
			if b, err := strconv.ParseBool(strings.TrimSpace(s)); err == nil {
				return b, nil
			}
		}
		return nil, fmt.Errorf("must be true or false%s", got)
	case reflect.Int, reflect.Int64:
		var n int64
		ok := false
		switch x := v.(type) {
		case int:
			n, ok = int64(x), true
		case int64:
			n, ok = x, true
		case string:
			var err error
			n, err = strconv.ParseInt(strings.TrimSpace(x), 10, 64)
			ok = err == nil
		}
		rv := reflect.New(f.typ).Elem()
		if !ok || rv.OverflowInt(n) {
			return nil, fmt.Errorf("must be a decimal integer%s", got)
		}
		rv.SetInt(n)
		return rv.Interface(), nil
	case reflect.Slice:
		if isString {
			return splitList(s), nil
		}
		if l, ok := v.([]any); ok {
			out := make([]string, 0, len(l))
			for _, e := range l {
				es, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("must be a list of strings (quote each item)%s", got)
				}
				out = append(out, es)
			}
			return out, nil
		}
		return nil, fmt.Errorf("must be a list of strings%s", got)
	}
	panic(fmt.Sprintf("config: key %s has unsupported type %v", f.key, f.typ))
}

// splitList splits a comma- or newline-separated list, trims spaces and
// drops empty items.
func splitList(s string) []string {
	var out []string
	for item := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == '\n' }) {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
