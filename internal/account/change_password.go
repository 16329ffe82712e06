package account

import (
	"context"
	"fmt"
)

// ChangePassword replaces the password of the principal's user after
// checking the current one. In one transaction it stores the new hash,
// revokes every other session of the user and queues a "password changed"
// notice. It returns a *ValidationError for a new password the policy
// refuses, a *WrongPasswordError when oldPassword is not the current
// password (which counts as a failed login) or the account is locked to
// pr.IP's network, and ErrConflict when the password changed meanwhile.
func (s *Service) ChangePassword(ctx context.Context, pr Principal, oldPassword, newPassword string) error {
	u, err := s.store.UserByID(ctx, pr.UserID)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	var ve ValidationError
	validatePresented(&ve, FieldCurrentPassword, oldPassword)
	validateNewPassword(&ve, FieldNewPassword, newPassword, u.Email, u.Username)
	if newPassword != "" && newPassword == oldPassword {
		ve.Add(FieldNewPassword, "must differ from the old password")
	}
	if err := ve.Err(); err != nil {
		return err
	}

	ok, now, err := s.checkPassword(ctx, u, oldPassword, pr.IP)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	if !ok {
		return &WrongPasswordError{Field: FieldCurrentPassword}
	}
	hash, err := s.hasher.Hash(ctx, newPassword)
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	err = s.inTx(ctx, func(tx Tx) error {
		cur, err := recheck(ctx, tx, u, ErrConflict)
		if err != nil {
			return err
		}
		if err := tx.UpdatePassword(ctx, u.ID, hash, now); err != nil {
			return err
		}
		if _, err := tx.RevokeSessions(ctx, u.ID, pr.SessionID, RevokePasswordChanged, now); err != nil {
			return err
		}
		return queueNotice(ctx, tx, cur, NoticePasswordChanged, Notice{At: now})
	})
	if err != nil {
		return fmt.Errorf("change password: %w", err)
	}
	return nil
}
