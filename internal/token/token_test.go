package token

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/google/go-cmp/cmp"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	t0     = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)
)

func newTestIssuer(t testing.TB, now time.Time) *Issuer {
	t.Helper()
	i, err := NewIssuer(secret, "tgauth", func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	return i
}

func accessClaims() Claims {
	return Claims{UserID: 42, SessionID: "s3ss10n", Role: "user", Type: Access, IssuedAt: t0, ExpiresAt: t0.Add(time.Hour)}
}

func refreshClaims() Claims {
	return Claims{UserID: 42, SessionID: "s3ss10n", Type: Refresh, Generation: 7, IssuedAt: t0, ExpiresAt: t0.Add(720 * time.Hour)}
}

// b64 is how JWT segments are encoded.
func b64(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

// signed returns a token with the given header and payload JSON, signed with
// HS256 under key whatever the header says.
func signed(t testing.TB, key []byte, header, payload string) string {
	t.Helper()
	text := b64(header) + "." + b64(payload)
	sig, err := jwt.SigningMethodHS256.Sign(text, key)
	if err != nil {
		t.Fatal(err)
	}
	return text + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestNewIssuer(t *testing.T) {
	tests := []struct {
		name    string
		secret  []byte
		issuer  string
		wantErr bool
	}{
		{"ok", secret, "tgauth", false},
		{"long secret", make([]byte, 64), "tgauth", false},
		{"31 bytes", secret[:31], "tgauth", true},
		{"nil secret", nil, "tgauth", true},
		{"empty issuer", secret, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			i, err := NewIssuer(tt.secret, tt.issuer, nil)
			if (err != nil) != tt.wantErr || (i == nil) != tt.wantErr {
				t.Errorf("NewIssuer(%d bytes, %q, nil) = %v, %v, wantErr %v", len(tt.secret), tt.issuer, i, err, tt.wantErr)
			}
			if err != nil && strings.Contains(err.Error(), string(secret[:31])) {
				t.Errorf("NewIssuer err = %q, contains the secret", err)
			}
		})
	}
}

func TestNewIssuerCopiesSecret(t *testing.T) {
	s := []byte(string(secret))
	i, err := NewIssuer(s, "tgauth", func() time.Time { return t0 })
	if err != nil {
		t.Fatal(err)
	}
	tok, err := i.Issue(accessClaims())
	if err != nil {
		t.Fatal(err)
	}
	s[0] ^= 1
	if _, err := i.Parse(tok, Access); err != nil {
		t.Errorf("Parse after caller changed its secret slice: err = %v, want nil", err)
	}
}

func TestRoundTrip(t *testing.T) {
	i := newTestIssuer(t, t0.Add(time.Minute))
	sub := func(c Claims) Claims { c.IssuedAt = c.IssuedAt.Add(300 * time.Millisecond); return c }
	tests := []struct {
		name string
		in   Claims
		want Claims
	}{
		{"access", accessClaims(), accessClaims()},
		{"refresh", refreshClaims(), refreshClaims()},
		{"refresh generation 0", func() Claims { c := refreshClaims(); c.Generation = 0; return c }(), func() Claims { c := refreshClaims(); c.Generation = 0; return c }()},
		{"admin", func() Claims { c := accessClaims(); c.Role = "admin"; return c }(), func() Claims { c := accessClaims(); c.Role = "admin"; return c }()},
		{"sub-second times truncated", sub(accessClaims()), accessClaims()},
		{"other zone returned as UTC", func() Claims {
			c := accessClaims()
			c.IssuedAt = c.IssuedAt.In(time.FixedZone("X", 3600))
			return c
		}(), accessClaims()},
		{"max user id", func() Claims { c := accessClaims(); c.UserID = 1<<63 - 1; return c }(), func() Claims { c := accessClaims(); c.UserID = 1<<63 - 1; return c }()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tok, err := i.Issue(tt.in)
			if err != nil {
				t.Fatalf("Issue(%+v) err = %v, want nil", tt.in, err)
			}
			got, err := i.Parse(tok, tt.in.Type)
			if err != nil {
				t.Fatalf("Parse(Issue(%+v)) err = %v, want nil", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse(Issue(%+v)) = %+v, want %+v (-want +got):\n%s", tt.in, got, tt.want, diff)
			}
			if got.IssuedAt.Location() != time.UTC || got.ExpiresAt.Location() != time.UTC {
				t.Errorf("Parse(Issue(%+v)) times in %v, %v, want UTC", tt.in, got.IssuedAt.Location(), got.ExpiresAt.Location())
			}
		})
	}
}

func TestPayloadClaims(t *testing.T) {
	i := newTestIssuer(t, t0)
	for _, tt := range []struct {
		in   Claims
		want string
	}{
		{accessClaims(), `{"iss":"tgauth","sub":"42","exp":1795611600,"iat":1795608000,"sid":"s3ss10n","role":"user","typ":"access"}`},
		{refreshClaims(), `{"iss":"tgauth","sub":"42","exp":1798200000,"iat":1795608000,"sid":"s3ss10n","typ":"refresh","gen":7}`},
	} {
		tok, err := i.Issue(tt.in)
		if err != nil {
			t.Fatal(err)
		}
		parts := strings.Split(tok, ".")
		header, _ := base64.RawURLEncoding.DecodeString(parts[0])
		payload, _ := base64.RawURLEncoding.DecodeString(parts[1])
		if got, want := string(header), `{"alg":"HS256","typ":"JWT"}`; got != want {
			t.Errorf("Issue(%+v) header = %s, want %s", tt.in, got, want)
		}
		if got := string(payload); got != tt.want {
			t.Errorf("Issue(%+v) payload = %s, want %s", tt.in, got, tt.want)
		}
	}
}

func TestIssueRefusesBadClaims(t *testing.T) {
	i := newTestIssuer(t, t0)
	mod := func(f func(*Claims)) Claims { c := accessClaims(); f(&c); return c }
	tests := []struct {
		name string
		in   Claims
	}{
		{"zero", Claims{}},
		{"zero user", mod(func(c *Claims) { c.UserID = 0 })},
		{"negative user", mod(func(c *Claims) { c.UserID = -1 })},
		{"no session", mod(func(c *Claims) { c.SessionID = "" })},
		{"no type", mod(func(c *Claims) { c.Type = "" })},
		{"unknown type", mod(func(c *Claims) { c.Type = "id" })},
		{"generation on access", mod(func(c *Claims) { c.Generation = 1 })},
		{"negative generation", mod(func(c *Claims) { c.Type = Refresh; c.Generation = -1 })},
		{"no iat", mod(func(c *Claims) { c.IssuedAt = time.Time{} })},
		{"exp before iat", mod(func(c *Claims) { c.ExpiresAt = c.IssuedAt.Add(-time.Second) })},
		{"exp equal iat", mod(func(c *Claims) { c.ExpiresAt = c.IssuedAt })},
		{"exp in the same second", mod(func(c *Claims) { c.ExpiresAt = c.IssuedAt.Add(500 * time.Millisecond) })},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tok, err := i.Issue(tt.in); err == nil || tok != "" {
				t.Errorf("Issue(%+v) = %q, %v, want \"\", error", tt.in, tok, err)
			}
		})
	}
}

func TestParseRefuses(t *testing.T) {
	now := t0.Add(time.Minute)
	i := newTestIssuer(t, now)
	access, err := i.Issue(accessClaims())
	if err != nil {
		t.Fatal(err)
	}
	refresh, err := i.Issue(refreshClaims())
	if err != nil {
		t.Fatal(err)
	}
	other, err := NewIssuer([]byte("another secret, 32 bytes long!!!"), "tgauth", func() time.Time { return now })
	if err != nil {
		t.Fatal(err)
	}
	otherSecret, _ := other.Issue(accessClaims())
	otherName, _ := NewIssuer(secret, "someone-else", func() time.Time { return now })
	otherIssuer, _ := otherName.Issue(accessClaims())

	jc := jwtClaims{
		RegisteredClaims: jwt.RegisteredClaims{Issuer: "tgauth", Subject: "42", IssuedAt: jwt.NewNumericDate(t0), ExpiresAt: jwt.NewNumericDate(t0.Add(time.Hour))},
		SessionID:        "s3ss10n", Type: Access,
	}
	withAlg := func(m jwt.SigningMethod, key any) string {
		s, err := jwt.NewWithClaims(m, jc).SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	const hdr = `{"alg":"HS256","typ":"JWT"}`
	const exp = `"iat":1795608000,"exp":1795611600`
	payload := func(fields string) string { return signed(t, secret, hdr, "{"+fields+"}") }
	parts := strings.Split(access, ".")
	// tampered: same header and signature, the payload says user 1.
	tamperedPayload := parts[0] + "." + b64(`{"iss":"tgauth","sub":"1","exp":1795611600,"iat":1795608000,"sid":"s3ss10n","role":"admin","typ":"access"}`) + "." + parts[2]
	// The last of the 43 characters of an HS256 signature carries 4 bits and
	// 2 zero padding bits; setting a padding bit spells the same signature
	// non-canonically, which a lenient decoder would accept.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	sig := []byte(parts[2])
	sig[len(sig)-1] = alphabet[strings.IndexByte(alphabet, sig[len(sig)-1])^1]
	nonCanonicalSig := parts[0] + "." + parts[1] + "." + string(sig)

	// A control: the helpers make tokens Parse accepts when nothing is wrong.
	control := payload(`"iss":"tgauth","sub":"42","sid":"s","typ":"access",` + exp)
	if _, err := i.Parse(control, Access); err != nil {
		t.Fatalf("Parse(control) err = %v, want nil", err)
	}

	tests := []struct {
		name  string
		token string
		want  Type
	}{
		{"access as refresh", access, Refresh},
		{"refresh as access", refresh, Access},
		{"wrong secret", otherSecret, Access},
		{"wrong issuer", otherIssuer, Access},
		{"alg none", b64(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + ".", Access},
		{"alg none with signature", b64(`{"alg":"none","typ":"JWT"}`) + "." + parts[1] + "." + parts[2], Access},
		{"alg None", b64(`{"alg":"None","typ":"JWT"}`) + "." + parts[1] + ".", Access},
		{"no alg", signed(t, secret, `{"typ":"JWT"}`, `{"iss":"tgauth","sub":"42","sid":"s","typ":"access",`+exp+`}`), Access},
		{"HS384", withAlg(jwt.SigningMethodHS384, secret), Access},
		{"HS512", withAlg(jwt.SigningMethodHS512, secret), Access},
		{"RS256", withAlg(jwt.SigningMethodRS256, rsaKey), Access},
		{"header keys in another order", signed(t, secret, `{"typ":"JWT","alg":"HS256"}`, `{"iss":"tgauth","sub":"42","sid":"s","typ":"access",`+exp+`}`), Access},
		{"header with kid", signed(t, secret, `{"alg":"HS256","kid":"1","typ":"JWT"}`, `{"iss":"tgauth","sub":"42","sid":"s","typ":"access",`+exp+`}`), Access},
		{"header typ at", signed(t, secret, `{"alg":"HS256","typ":"at+jwt"}`, `{"iss":"tgauth","sub":"42","sid":"s","typ":"access",`+exp+`}`), Access},
		{"payload with trailing data", signed(t, secret, hdr, `{"iss":"tgauth","sub":"42","sid":"s","typ":"access",`+exp+`} {}`), Access},
		{"RS256 header, HMAC signature", signed(t, secret, `{"alg":"RS256","typ":"JWT"}`, `{"iss":"tgauth","sub":"42","sid":"s","typ":"access",`+exp+`}`), Access},
		{"missing sid", payload(`"iss":"tgauth","sub":"42","typ":"access",` + exp), Access},
		{"empty sid", payload(`"iss":"tgauth","sub":"42","sid":"","typ":"access",` + exp), Access},
		{"missing sub", payload(`"iss":"tgauth","sid":"s","typ":"access",` + exp), Access},
		{"sub not a number", payload(`"iss":"tgauth","sub":"bob","sid":"s","typ":"access",` + exp), Access},
		{"sub zero", payload(`"iss":"tgauth","sub":"0","sid":"s","typ":"access",` + exp), Access},
		{"sub negative", payload(`"iss":"tgauth","sub":"-42","sid":"s","typ":"access",` + exp), Access},
		{"sub with plus", payload(`"iss":"tgauth","sub":"+42","sid":"s","typ":"access",` + exp), Access},
		{"sub with leading zero", payload(`"iss":"tgauth","sub":"042","sid":"s","typ":"access",` + exp), Access},
		{"sub overflows", payload(`"iss":"tgauth","sub":"9223372036854775808","sid":"s","typ":"access",` + exp), Access},
		{"sub as JSON number", payload(`"iss":"tgauth","sub":42,"sid":"s","typ":"access",` + exp), Access},
		{"missing typ", payload(`"iss":"tgauth","sub":"42","sid":"s",` + exp), Access},
		{"typ JWT", payload(`"iss":"tgauth","sub":"42","sid":"s","typ":"JWT",` + exp), Access},
		{"typ in other case", payload(`"iss":"tgauth","sub":"42","sid":"s","typ":"Access",` + exp), Access},
		{"gen on access", payload(`"iss":"tgauth","sub":"42","sid":"s","typ":"access","gen":1,` + exp), Access},
		{"negative gen", payload(`"iss":"tgauth","sub":"42","sid":"s","typ":"refresh","gen":-1,` + exp), Refresh},
		{"missing iss", payload(`"sub":"42","sid":"s","typ":"access",` + exp), Access},
		{"missing exp", payload(`"iss":"tgauth","sub":"42","sid":"s","typ":"access","iat":1795608000`), Access},
		{"missing iat", payload(`"iss":"tgauth","sub":"42","sid":"s","typ":"access","exp":1795611600`), Access},
		{"not yet valid", payload(`"iss":"tgauth","sub":"42","sid":"s","typ":"access","nbf":1795610000,` + exp), Access},
		{"expired", payload(`"iss":"tgauth","sub":"42","sid":"s","typ":"access","iat":1795600000,"exp":1795608060`), Access},
		{"tampered payload", tamperedPayload, Access},
		{"non-canonical signature", nonCanonicalSig, Access},
		{"signature dropped", parts[0] + "." + parts[1] + ".", Access},
		{"padded signature", access + "=", Access},
		{"newline in signature", parts[0] + "." + parts[1] + "." + parts[2][:10] + "\n" + parts[2][10:], Access},
		{"space around", " " + access, Access},
		{"Bearer prefix", "Bearer " + access, Access},
		{"four segments", access + ".", Access},
		{"two segments", parts[0] + "." + parts[1], Access},
		{"empty", "", Access},
		{"garbage", "not a token", Access},
		{"dots", "..", Access},
		{"base64 garbage", "eyJ.eyJ.eyJ", Access},
		{"header not JSON", b64("alg") + "." + parts[1] + "." + parts[2], Access},
		{"huge", strings.Repeat("a", 1<<20), Access},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := i.Parse(tt.token, tt.want)
			if !errors.Is(err, ErrInvalid) || got != (Claims{}) {
				t.Errorf("Parse(%.80q, %s) = %+v, %v, want zero Claims, ErrInvalid", tt.token, tt.want, got, err)
			}
			if err != nil && len(tt.token) > 8 && strings.Contains(err.Error(), tt.token) {
				t.Errorf("Parse(%.80q, %s) err = %q, contains the token", tt.token, tt.want, err)
			}
		})
	}
}

// TestExpiry runs on a fake clock: valid one second before exp, expired at exp.
func TestExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		i, err := NewIssuer(secret, "tgauth", time.Now)
		if err != nil {
			t.Fatal(err)
		}
		c := accessClaims()
		c.IssuedAt = time.Now()
		c.ExpiresAt = c.IssuedAt.Add(time.Hour)
		tok, err := i.Issue(c)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Hour - time.Second)
		if _, err := i.Parse(tok, Access); err != nil {
			t.Errorf("at exp-1s: Parse(token, access) err = %v, want nil", err)
		}
		time.Sleep(time.Second)
		_, err = i.Parse(tok, Access)
		if !errors.Is(err, ErrInvalid) || !errors.Is(err, ErrExpired) {
			t.Errorf("at exp: Parse(token, access) err = %v, want ErrInvalid and ErrExpired", err)
		}
	})
}

func TestOnlyExpiryIsErrExpired(t *testing.T) {
	i := newTestIssuer(t, t0)
	other, _ := NewIssuer([]byte("another secret, 32 bytes long!!!"), "tgauth", func() time.Time { return t0 })
	tok, _ := other.Issue(accessClaims())
	if _, err := i.Parse(tok, Access); errors.Is(err, ErrExpired) {
		t.Errorf("Parse(wrong secret) err = %v, want not ErrExpired", err)
	}
}

func FuzzParse(f *testing.F) {
	i := newTestIssuer(f, t0.Add(time.Minute))
	for _, c := range []Claims{accessClaims(), refreshClaims()} {
		tok, err := i.Issue(c)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(tok, uint16(0), byte(0))
		f.Add(tok, uint16(len(tok)-1), byte('A'))
		f.Add(tok, uint16(len(tok)-1), byte(1))
		f.Add(tok, uint16(40), byte('.'))
	}
	f.Add("", uint16(0), byte(0))
	f.Add("a.b.c", uint16(1), byte('x'))
	f.Fuzz(func(t *testing.T, tok string, pos uint16, b byte) {
		check := func(tok string) {
			for _, want := range []Type{Access, Refresh} {
				c, err := i.Parse(tok, want)
				if err != nil {
					if !errors.Is(err, ErrInvalid) {
						t.Fatalf("Parse(%q, %s) err = %v, want ErrInvalid", tok, want, err)
					}
					if len(tok) > 8 && strings.Contains(err.Error(), tok) {
						t.Fatalf("Parse(%q, %s) err = %q, contains the token", tok, want, err)
					}
					continue
				}
				// Accepted: it must be exactly what Issue makes of its claims.
				if c.Type != want {
					t.Fatalf("Parse(%q, %s) = %+v, want typ %s", tok, want, c, want)
				}
				again, err := i.Issue(c)
				if err != nil || again != tok {
					t.Fatalf("Parse(%q, %s) = %+v, but Issue of that = %q, %v, want the same token", tok, want, c, again, err)
				}
			}
		}
		check(tok)
		// Also a one-byte mutation of the input: a valid token so changed
		// must be refused.
		if len(tok) > 0 {
			m := []byte(tok)
			m[int(pos)%len(m)] = b
			check(string(m))
		}
	})
}

func BenchmarkIssue(b *testing.B) {
	i := newTestIssuer(b, t0)
	c := accessClaims()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := i.Issue(c); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkParse: "verified" is a token seen before (every request of a
// client after its first), "signature" the whole check of a new one.
func BenchmarkParse(b *testing.B) {
	i := newTestIssuer(b, t0.Add(time.Minute))
	tok, err := i.Issue(accessClaims())
	if err != nil {
		b.Fatal(err)
	}
	b.Run("verified", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := i.Parse(tok, Access); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("signature", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := i.parse(tok, Access); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestVerifiedTokens: a token accepted once is still refused as the other
// type and once expired, and the memory of accepted tokens is bounded.
func TestVerifiedTokens(t *testing.T) {
	clk := t0.Add(time.Minute)
	i, err := NewIssuer(secret, "tgauth", func() time.Time { return clk })
	if err != nil {
		t.Fatal(err)
	}
	tok, err := i.Issue(accessClaims())
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := i.Parse(tok, Access); err != nil {
			t.Fatalf("Parse(access) err = %v", err)
		}
	}
	if _, err := i.Parse(tok, Refresh); !errors.Is(err, ErrInvalid) {
		t.Errorf("Parse(access, refresh) after accepting it err = %v, want ErrInvalid", err)
	}
	clk = accessClaims().ExpiresAt
	if _, err := i.Parse(tok, Access); !errors.Is(err, ErrExpired) {
		t.Errorf("Parse at exp after accepting it err = %v, want ErrExpired", err)
	}

	clk = t0.Add(time.Minute)
	for n := range maxVerified + 10 {
		c := accessClaims()
		c.SessionID = fmt.Sprint("s", n)
		tok, err := i.Issue(c)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := i.Parse(tok, Access); err != nil {
			t.Fatal(err)
		}
	}
	if n := len(i.verified); n > maxVerified {
		t.Errorf("%d tokens remembered, want at most %d", n, maxVerified)
	}
}
