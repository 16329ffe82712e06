package account

import (
	"cmp"
	"context"
)

// Name names an account by its email or, when Email is "", by its
// username: NOWATCH accounts sign in by email, Watchdog accounts (which
// have none) by username. This is the one place that rule is written.
type Name struct {
	Email    string
	Username string
}

// Key is the identifier the rule picks, for counting attempts per account
// before the account is looked up.
func (n Name) Key() string { return cmp.Or(n.Email, n.Username) }

func (n Name) byUsername() bool { return n.Email == "" && n.Username != "" }

func (n Name) validate(ve *ValidationError) {
	if n.byUsername() {
		validatePresentedUsername(ve, FieldUsername, n.Username)
		return
	}
	validatePresentedEmail(ve, FieldEmail, n.Email)
}

// find returns the account n names, or ErrNotFound.
func (n Name) find(ctx context.Context, r Reader) (*User, error) {
	if n.byUsername() {
		return r.UserByUsername(ctx, n.Username)
	}
	return r.UserByEmail(ctx, n.Email)
}
