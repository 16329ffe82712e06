package account

import (
	"strconv"
	"strings"
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
