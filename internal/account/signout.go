package account

import (
	"context"
	"fmt"
)

// SignOutParams names the user signing out: by Email, by Username (an
// account without an email, as Watchdog accounts are), or by both. Each
// one given must be the principal's own.
type SignOutParams struct {
	Email    string
	Username string
}

func (p SignOutParams) validate(ve *ValidationError) {
	if p.Username != "" {
		validatePresentedUsername(ve, "username", p.Username)
	}
	if p.Email != "" || p.Username == "" {
		validatePresentedEmail(ve, "email", p.Email)
	}
}

// names reports whether every identity p gives is u's own, compared as
// the stores compare them: case-insensitively in ASCII only, so that the
// Kelvin sign K (which strings.EqualFold takes for k) names no one.
func (p SignOutParams) names(u *User) bool {
	if p.Email != "" && (u.Email == "" || !equalFoldASCII(u.Email, p.Email)) {
		return false
	}
	if p.Username != "" && (u.Username == "" || !equalFoldASCII(u.Username, p.Username)) {
		return false
	}
	return true
}

// SignOut revokes every session of the principal's user, whom p must name
// (ErrForbidden otherwise: another user's name, or one the user does not
// have), and tells the linked chat. It returns a *ValidationError when p
// names no one.
func (s *Service) SignOut(ctx context.Context, pr Principal, p SignOutParams) error {
	var ve ValidationError
	p.validate(&ve)
	if err := ve.Err(); err != nil {
		return err
	}
	now := s.clock()
	err := s.inTx(ctx, func(tx Tx) error {
		u, err := tx.UserByID(ctx, pr.UserID)
		if err != nil {
			return err
		}
		if !p.names(u) {
			return ErrForbidden
		}
		return revokeAll(ctx, tx, u, now)
	})
	if err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	return nil
}

// equalFoldASCII reports whether a and b are equal when ASCII letters are
// folded to lower case, as SQLite's NOCASE and our PostgreSQL index fold.
func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if lowerASCII(a[i]) != lowerASCII(b[i]) {
			return false
		}
	}
	return true
}

func lowerASCII(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}
