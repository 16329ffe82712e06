package account

import (
	"context"
	"fmt"
	"strings"
)

// SignOut revokes every session of the principal's user, whose email must
// be email (ErrForbidden otherwise), and tells the linked chat.
func (s *Service) SignOut(ctx context.Context, pr Principal, email string) error {
	var ve ValidationError
	validatePresentedEmail(&ve, "email", email)
	if err := ve.Err(); err != nil {
		return err
	}
	now := s.clock()
	err := s.inTx(ctx, func(tx Tx) error {
		u, err := tx.UserByID(ctx, pr.UserID)
		if err != nil {
			return err
		}
		if u.Email == "" || !strings.EqualFold(u.Email, email) {
			return ErrForbidden
		}
		return revokeAll(ctx, tx, u, now)
	})
	if err != nil {
		return fmt.Errorf("sign out: %w", err)
	}
	return nil
}
