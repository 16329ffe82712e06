package password

import (
	"math"
	"slices"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn/frequency"
)

// Length limits, in characters (runes).
const (
	MinLength = 8
	MaxLength = 256
)

// Specials are the special characters a password must contain one of: the
// seed's set, which also accepts the typographic quotes “ ” ‘ ’ its
// documentation shows (the message lists only the ASCII ones).
const Specials = `^$*.[]{}()?-"!@#%&/,><':;|_~+` + "\u201c\u201d\u2018\u2019"

// The messages Check returns, one per rule, in the order Check reports them.
const (
	MsgTooShort   = "must be at least 8 characters"
	MsgTooLong    = "must be at most 256 characters"
	MsgInvalidUTF = "must be valid UTF-8"
	MsgNoLower    = "must contain a lowercase letter"
	MsgNoUpper    = "must contain an uppercase letter"
	MsgNoDigit    = "must contain a digit"
	MsgNoSpecial  = `must contain a special character (one of ^$*.[]{}()?-"!@#%&/,><':;|_~+)`
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
	list, order := frequency.FrequencyLists["passwords"], commonOrder()
	password = strings.ToLower(password)
	_, ok := slices.BinarySearchFunc(order, password, func(j uint16, p string) int {
		return strings.Compare(list[j], p)
	})
	return ok
}

// commonOrder is the order of zxcvbn's password list sorted, as indexes
// into it, built on first use (so importers that never check a password
// do not pay for it at start-up): 60 KB of heap where a map of the
// passwords took 2 MB, which the API kept for good.
var commonOrder = sync.OnceValue(func() []uint16 {
	list := frequency.FrequencyLists["passwords"]
	if len(list) > math.MaxUint16+1 {
		panic("password: zxcvbn's password list outgrew uint16 indexes")
	}
	order := make([]uint16, len(list))
	for i := range order {
		order[i] = uint16(i) // #nosec G115 -- len(list) checked above
	}
	slices.SortFunc(order, func(a, b uint16) int { return strings.Compare(list[a], list[b]) })
	return order
})
