package account

import (
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"tgauth/internal/password"
)

// Limits on input fields, in characters.
const (
	MinUsernameLen = 3
	MaxUsernameLen = 64
	// MaxPasswordLen bounds a password presented at login: longer ones
	// cannot have been set under the policy and are refused before hashing.
	MaxPasswordLen = 256
)

// validateUsername checks a username: 3 to 64 characters of A-Z, a-z, 0-9,
// '_', '.' and '-'. ASCII only, so that case-insensitive uniqueness is
// exact in every store and look-alike letters cannot pose as another user.
func validateUsername(ve *ValidationError, field Field, v string) {
	n := utf8.RuneCountInString(v)
	switch {
	case v == "":
		ve.Add(field, "is required")
		return
	case n > MaxUsernameLen:
		ve.Add(field, "must be at most "+strconv.Itoa(MaxUsernameLen)+" characters")
	case n < MinUsernameLen:
		ve.Add(field, "must be at least "+strconv.Itoa(MinUsernameLen)+" characters")
	}
	for _, r := range v {
		if !isUsernameRune(r) {
			ve.Add(field, "may contain only letters A-Z, digits, '_', '.' and '-'")
			return
		}
	}
}

func isUsernameRune(r rune) bool {
	return 'a' <= r && r <= 'z' || 'A' <= r && r <= 'Z' || '0' <= r && r <= '9' || r == '_' || r == '.' || r == '-'
}

// validateNewPassword applies the password policy to a password being set.
// identities (email, username) are what it must not equal.
func validateNewPassword(ve *ValidationError, field Field, pw string, identities ...string) {
	if pw == "" {
		ve.Add(field, "is required")
		return
	}
	for _, m := range password.Check(pw, identities...) {
		ve.Add(field, m)
	}
}

// validatePresented checks a password given to prove who one is: present,
// and not so long that it could not have been set.
func validatePresented(ve *ValidationError, field Field, pw string) {
	switch {
	case pw == "":
		ve.Add(field, "is required")
	case utf8.RuneCountInString(pw) > MaxPasswordLen:
		ve.Add(field, "must be at most "+strconv.Itoa(MaxPasswordLen)+" characters")
	}
}

// parseChatID reads a Telegram chat id given as text. Only private chats
// (positive ids) can be linked: notices about an account must not land in a
// group. The error, if any, is a message for the field.
func parseChatID(s string) (int64, string) {
	s = strings.TrimSpace(s)
	if s == "" {
		return 0, "is required"
	}
	id, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return 0, "must be an integer (the Telegram chat id the bot's /start shows)"
	}
	if id <= 0 {
		return 0, "must be a positive integer: only a private chat with the bot can be linked"
	}
	return id, ""
}

// Limits on email registrations.
const (
	MaxEmailLen = 254 // RFC 5321's path limit less the brackets
	MaxNameLen  = 100
	// MaxClockSkew is how far in the future an acceptance time may lie
	// and still count as now: clients' clocks drift.
	MaxClockSkew = 5 * time.Minute
)

// validateEmail checks an email address being registered: a bare
// addr-spec (no display name) whose domain has a dot, and no look-alike
// of another address (see lookAlike).
func validateEmail(ve *ValidationError, field Field, v string) {
	if !validatePresentedEmail(ve, field, v) {
		return
	}
	addr, err := mail.ParseAddress(v)
	_, domain, _ := strings.Cut(v, "@")
	// Invisible and control characters would let one address pose as
	// another ("admin\u200b@example.com").
	hidden := strings.IndexFunc(v, func(r rune) bool {
		return unicode.IsControl(r) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r)
	}) >= 0
	if err != nil || hidden || addr.Address != v || addr.Name != "" ||
		!strings.Contains(domain, ".") || strings.HasSuffix(domain, ".") || strings.HasPrefix(domain, ".") {
		ve.Add(field, "must be an email address like name@example.com")
		return
	}
	at := strings.LastIndexByte(v, '@')
	switch {
	case !isASCII(v[at+1:]):
		ve.Add(field, msgEmailDomainASCII)
	case lookAlike(v[:at]):
		ve.Add(field, msgEmailLookAlike)
	}
}

// Messages of the look-alike rules, for the email field.
const (
	msgEmailDomainASCII = "must have an ASCII domain: give an international domain in punycode (xn--...)"
	msgEmailLookAlike   = "must not mix scripts or use characters that pass for others, such as the Kelvin sign or a dotless i"
)

// Look-alike addresses. The stores compare emails case-insensitively in
// ASCII only, so "spongеbob" with a Cyrillic е, "Кrabs" with the Kelvin
// sign K (U+212A) or "bıkini" with a dotless ı would be accounts of their
// own that read on a screen, in a notice or in an admin listing as their
// ASCII twin's. The rule, the simplest we could defend:
//
//   - The domain is ASCII. An international domain is given in punycode
//     (xn--…), where its non-ASCII letters show for what they are; which
//     Unicode domains are safe is the registries' business (IDNA), not a
//     rule to restate here.
//   - The local part is ASCII, or:
//   - it is in NFKC form: no compatibility character that folds to another
//     (the Kelvin sign, fullwidth letters, the long s ſ, ligatures), no
//     accent given as a separate combining mark;
//   - it holds neither the dotless ı (U+0131) nor the dotted İ (U+0130),
//     which Turkish case rules fold onto ASCII i and I;
//   - its letters are of one script, Common and Inherited characters
//     (digits, punctuation, combining marks) going with any, or of a mix
//     UTS #39 calls highly restrictive: Latin with Han and Hiragana and
//     Katakana (Japanese), with Han and Bopomofo (Chinese), or with Han
//     and Hangul (Korean). Latin with Cyrillic or Greek is refused. A
//     character of no script (unassigned, private use) is refused too.
//
// Not caught: a local part wholly in another script whose letters
// resemble Latin ones (all-Cyrillic "рау"); it is a distinct address of
// that script, and no mixing rule can tell it from a real one.
func lookAlike(local string) bool {
	if isASCII(local) {
		return false
	}
	if !norm.NFKC.IsNormalString(local) || strings.ContainsAny(local, "\u0130\u0131") {
		return true
	}
	scripts := map[string]bool{}
	for _, r := range local {
		if unicode.In(r, unicode.Common, unicode.Inherited) {
			continue
		}
		name := scriptOf(r)
		if name == "" {
			return true
		}
		scripts[name] = true
	}
	if len(scripts) <= 1 {
		return false
	}
	for _, mix := range scriptMixes {
		if subset(scripts, mix) {
			return false
		}
	}
	return true
}

// scriptMixes are the mixes of scripts UTS #39's "highly restrictive"
// level allows in one identifier.
var scriptMixes = [][]string{
	{"Latin", "Han", "Hiragana", "Katakana"},
	{"Latin", "Han", "Bopomofo"},
	{"Latin", "Han", "Hangul"},
}

func subset(set map[string]bool, of []string) bool {
	n := 0
	for _, name := range of {
		if set[name] {
			n++
		}
	}
	return n == len(set)
}

// scriptOf returns the name of r's script other than Common and
// Inherited, or "" for a character of none.
func scriptOf(r rune) string {
	for name, table := range unicode.Scripts {
		if name != "Common" && name != "Inherited" && unicode.Is(table, r) {
			return name
		}
	}
	return ""
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// validatePresentedUsername checks a username given to name an account:
// present and not too long.
func validatePresentedUsername(ve *ValidationError, field Field, v string) {
	switch {
	case v == "":
		ve.Add(field, "is required")
	case len(v) > MaxUsernameLen:
		ve.Add(field, "must be at most "+strconv.Itoa(MaxUsernameLen)+" characters")
	}
}

// validatePresentedEmail checks an email given to name an account: present
// and not too long. It reports whether both hold.
func validatePresentedEmail(ve *ValidationError, field Field, v string) bool {
	switch {
	case v == "":
		ve.Add(field, "is required")
	case len(v) > MaxEmailLen:
		ve.Add(field, "must be at most "+strconv.Itoa(MaxEmailLen)+" characters")
	default:
		return true
	}
	return false
}

// validateName checks a person's name: optional unless required, at most
// MaxNameLen characters, valid UTF-8 without control characters.
func validateName(ve *ValidationError, field Field, v string, required bool) {
	switch {
	case v == "":
		if required {
			ve.Add(field, "is required")
		}
	case !utf8.ValidString(v) || strings.IndexFunc(v, unicode.IsControl) >= 0:
		ve.Add(field, "must be text without control characters")
	case utf8.RuneCountInString(v) > MaxNameLen:
		ve.Add(field, "must be at most "+strconv.Itoa(MaxNameLen)+" characters")
	}
}

// parseAcceptedAt reads when a document was accepted: an RFC 3339 time,
// not in the future.
func parseAcceptedAt(ve *ValidationError, field Field, v string, now time.Time) time.Time {
	if v == "" {
		ve.Add(field, "is required")
		return time.Time{}
	}
	t, err := time.Parse(time.RFC3339Nano, v)
	if err != nil {
		ve.Add(field, "must be an RFC 3339 time like 2024-07-01T12:34:56Z")
		return time.Time{}
	}
	if t.After(now.Add(MaxClockSkew)) {
		ve.Add(field, "must not be in the future")
		return time.Time{}
	}
	return t.UTC().Truncate(time.Microsecond)
}
