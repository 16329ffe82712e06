package account

import (
	"context"
	"fmt"
)

// validateEach checks every identifier n gives, and asks for the email
// when it gives none: a sign-out may name its user by both.
func (n Name) validateEach(ve *ValidationError) {
	if n.Username != "" {
		validatePresentedUsername(ve, FieldUsername, n.Username)
	}
	if n.Email != "" || n.Username == "" {
		validatePresentedEmail(ve, FieldEmail, n.Email)
	}
}

// names reports whether every identifier n gives is u's own, compared as
// the stores compare them: case-insensitively in ASCII only, so that the
// Kelvin sign K (which strings.EqualFold takes for k) names no one.
func (n Name) names(u *User) bool {
	if n.Email != "" && (u.Email == "" || !equalFoldASCII(u.Email, n.Email)) {
		return false
	}
	if n.Username != "" && (u.Username == "" || !equalFoldASCII(u.Username, n.Username)) {
		return false
	}
	return true
}

// SignOut revokes every session of the principal's user, whom n must name
// by its email, its username or both (ErrForbidden otherwise: another
// user's name, or one the user does not have), and tells the linked chat.
// It returns a *ValidationError when n names no one.
func (s *Service) SignOut(ctx context.Context, pr Principal, n Name) error {
	var ve ValidationError
	n.validateEach(&ve)
	if err := ve.Err(); err != nil {
		return err
	}
	now := s.clock()
	err := s.inTx(ctx, func(tx Tx) error {
		u, err := tx.UserByID(ctx, pr.UserID)
		if err != nil {
			return err
		}
		if !n.names(u) {
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
