package account

import (
	"net/mail"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

// FuzzValidateEmail: validateEmail never panics, reports at most one
// message of a fixed set, and what it accepts is a bare addr-spec that
// net/mail reads back unchanged, within MaxEmailLen, with a dotted domain
// and no ASCII space, control character or address punctuation.
func FuzzValidateEmail(f *testing.F) {
	for _, s := range []string{
		"spongebob@bikinibottom.com", "Bob.Smith+tag@Example.co.uk", "bob@localhost", "bob@example.com.",
		"bob@.example.com", "Bob <bob@example.com>", `"bob"@example.com`, "bob@[192.0.2.1]",
		"a..b@example.com", "bücher@bücher.de", "bob@example.com\r\n", "(c)bob@example.com",
		strings.Repeat("a", 245) + "@b.co", "@example.com", "",
	} {
		f.Add(s)
	}
	messages := map[string]bool{
		"is required":                                    true,
		"must be at most 254 characters":                 true,
		"must be an email address like name@example.com": true,
	}
	f.Fuzz(func(t *testing.T, v string) {
		var ve ValidationError
		validateEmail(&ve, "email", v)
		if len(ve.Fields) > 1 {
			t.Fatalf("validateEmail(%q) = %+v, want at most one message", v, ve.Fields)
		}
		for _, fe := range ve.Fields {
			if fe.Field != "email" || !messages[fe.Message] {
				t.Fatalf("validateEmail(%q) = %+v, want a known message for email", v, ve.Fields)
			}
		}
		if ve.Err() != nil {
			return
		}
		addr, err := mail.ParseAddress(v)
		if err != nil || addr.Address != v || addr.Name != "" {
			t.Fatalf("validateEmail accepted %q, which net/mail reads as %v, %v", v, addr, err)
		}
		at := strings.IndexByte(v, '@')
		local, domain := v[:max(at, 0)], v[at+1:]
		if at <= 0 || len(v) > MaxEmailLen || !utf8.ValidString(v) || local == "" ||
			!strings.Contains(domain, ".") || strings.HasPrefix(domain, ".") || strings.HasSuffix(domain, ".") {
			t.Fatalf("validateEmail accepted %q (local %q, domain %q)", v, local, domain)
		}
		for i := 0; i < len(v); i++ {
			if c := v[i]; c <= ' ' || c == 0x7f || strings.IndexByte(`<>(),;:\"`, c) >= 0 && i < at {
				t.Fatalf("validateEmail accepted %q, with %q at %d", v, c, i)
			}
		}
		for _, r := range v {
			if unicode.IsControl(r) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) {
				t.Fatalf("validateEmail accepted %q, with the invisible %U", v, r)
			}
		}
	})
}
