package password

import (
	_ "embed"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Length limits, in characters (runes).
const (
	MinLength = 8
	MaxLength = 256
)

// Specials are the special characters a password must contain one of: the
// NOWATCH document's set, whose “ and ’ (as it prints them) stand for the
// quotes people type: the straight and the typographic ones all count.
const Specials = `^$*.[]{}()?-"!@#%&/,><':;|_~+` + "\u201c\u201d\u2018\u2019"

// The messages Check returns, one per rule, in the order Check reports them.
const (
	MsgTooShort   = "must be at least 8 characters"
	MsgTooLong    = "must be at most 256 characters"
	MsgInvalidUTF = "must be valid UTF-8"
	MsgNoLower    = "must contain a lowercase letter"
	MsgNoUpper    = "must contain an uppercase letter"
	MsgNoDigit    = "must contain a digit"
	MsgNoSpecial  = "must contain a special character (one of ^$*.[]{}()?-“!@#%&/,><’:;|_~+, as NOWATCH lists them; straight quotes count too)"
	MsgCommon     = "is a well-known common password"
	MsgIdentity   = "must not be the same as your email or username"
)

// Check returns one message per broken rule (nil when the password is
// acceptable). others are identities (email, username) the password must not
// equal, case-insensitively; empty ones are ignored.
//
// Length is counted in runes (an invalid byte counts as one). A password that
// is not valid UTF-8 gets the length messages and MsgInvalidUTF only: its
// characters cannot be classified, and no listed password or identity is
// invalid UTF-8.
func Check(password string, others ...string) []string {
	var msgs []string
	n := utf8.RuneCountInString(password)
	if n < MinLength {
		msgs = append(msgs, MsgTooShort)
	}
	if n > MaxLength {
		msgs = append(msgs, MsgTooLong)
	}
	if !utf8.ValidString(password) {
		return append(msgs, MsgInvalidUTF)
	}
	var lower, upper, digit, special bool
	for _, r := range password {
		switch {
		case unicode.IsLower(r):
			lower = true
		case unicode.IsUpper(r):
			upper = true
		case '0' <= r && r <= '9':
			digit = true
		case strings.ContainsRune(Specials, r):
			special = true
		}
	}
	if !lower {
		msgs = append(msgs, MsgNoLower)
	}
	if !upper {
		msgs = append(msgs, MsgNoUpper)
	}
	if !digit {
		msgs = append(msgs, MsgNoDigit)
	}
	if !special {
		msgs = append(msgs, MsgNoSpecial)
	}
	if IsCommon(password) {
		msgs = append(msgs, MsgCommon)
	}
	for _, o := range others {
		if o != "" && strings.EqualFold(password, o) {
			msgs = append(msgs, MsgIdentity)
			break
		}
	}
	return msgs
}

// IsCommon reports whether password, lower-cased, is on zxcvbn's list of
// about 30,000 well-known passwords.
func IsCommon(password string) bool {
	p := strings.ToLower(password)
	if p == "" || strings.ContainsRune(p, '\n') {
		return false
	}
	// Binary search over the sorted lines of commonText: lo and hi are
	// always at the start of a line (or the end).
	text := commonText
	lo, hi := 0, len(text)
	for lo < hi {
		mid := lo + (hi-lo)/2
		start := strings.LastIndexByte(text[:mid], '\n') + 1
		end := start + strings.IndexByte(text[start:], '\n')
		switch c := strings.Compare(text[start:end], p); {
		case c == 0:
			return true
		case c < 0:
			lo = end + 1
		default:
			hi = start
		}
	}
	return false
}

// commonText is zxcvbn's list of common passwords (its lower-case
// entries), sorted, one a line, each ending in a newline. It is a copy
// (see common_NOTICE.txt; TestCommonListMatchesZxcvbn checks it and
// rewrites it with -update) so that the binary does not link zxcvbn's
// frequency package, whose init builds 1.5 MB of maps of every list it
// carries, kept for good; searched in place, it costs no heap.
//
//go:embed common.txt
var commonText string
