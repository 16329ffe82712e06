package account

import (
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

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
func validateUsername(ve *ValidationError, field, v string) {
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
func validateNewPassword(ve *ValidationError, field, pw string, identities ...string) {
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
func validatePresented(ve *ValidationError, field, pw string) {
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
// addr-spec (no display name) whose domain has a dot.
func validateEmail(ve *ValidationError, field, v string) {
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
	}
}

// validatePresentedUsername checks a username given to name an account:
// present and not too long.
func validatePresentedUsername(ve *ValidationError, field, v string) {
	switch {
	case v == "":
		ve.Add(field, "is required")
	case len(v) > MaxUsernameLen:
		ve.Add(field, "must be at most "+strconv.Itoa(MaxUsernameLen)+" characters")
	}
}

// validatePresentedEmail checks an email given to name an account: present
// and not too long. It reports whether both hold.
func validatePresentedEmail(ve *ValidationError, field, v string) bool {
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
func validateName(ve *ValidationError, field, v string, required bool) {
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
func parseAcceptedAt(ve *ValidationError, field, v string, now time.Time) time.Time {
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
