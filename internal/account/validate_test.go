package account

import (
	"net/mail"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"
)

// FuzzValidateEmail: validateEmail never panics, reports at most one
// message of a fixed set, and what it accepts is a bare addr-spec that
// net/mail reads back unchanged, within MaxEmailLen, with a dotted domain
// and no ASCII space, control character or address punctuation; its
// domain is ASCII and its local part no look-alike: NFKC, no dotless or
// dotted i, not Latin mixed with Cyrillic or Greek.
func FuzzValidateEmail(f *testing.F) {
	for _, s := range []string{
		"spongebob@bikinibottom.com", "Bob.Smith+tag@Example.co.uk", "bob@localhost", "bob@example.com.",
		"bob@.example.com", "Bob <bob@example.com>", `"bob"@example.com`, "bob@[192.0.2.1]",
		"a..b@example.com", "bücher@bücher.de", "bob@example.com\r\n", "(c)bob@example.com",
		strings.Repeat("a", 245) + "@b.co", "@example.com", "",
		"spong\u0435bob@example.com", "\u212Arabs@example.com", "b\u0131kini@example.com", "\uff42ob@example.com",
		"jos\u00e9@example.com", "jose\u0301@example.com", "\u0438\u0432\u0430\u043d@xn--p1ai.xn--p1ai", "\u5c71\u7530\u305f@example.jp",
	} {
		f.Add(s)
	}
	messages := map[string]bool{
		"is required":                                    true,
		"must be at most 254 characters":                 true,
		"must be an email address like name@example.com": true,
		msgEmailDomainASCII:                              true,
		msgEmailLookAlike:                                true,
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
		last := strings.LastIndexByte(v, '@')
		for _, r := range v[last+1:] {
			if r > unicode.MaxASCII {
				t.Fatalf("validateEmail accepted %q, with %U in the domain", v, r)
			}
		}
		if local := v[:last]; !norm.NFKC.IsNormalString(local) || strings.ContainsAny(local, "\u0130\u0131") {
			t.Fatalf("validateEmail accepted the look-alike local part %q", local)
		}
		latin := strings.IndexFunc(v[:last], func(r rune) bool { return unicode.Is(unicode.Latin, r) }) >= 0
		other := strings.IndexFunc(v[:last], func(r rune) bool { return unicode.In(r, unicode.Cyrillic, unicode.Greek) }) >= 0
		if latin && other {
			t.Fatalf("validateEmail accepted %q, which mixes Latin with Cyrillic or Greek", v)
		}
	})
}
