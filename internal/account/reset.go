package account

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"math/big"
	"strconv"
	"strings"
	"time"
)

// Password reset codes.
const (
	PurposePasswordReset = "password_reset"
	CodeDigits           = 6
	CodeTTL              = 10 * time.Minute
	// MaxCodeAttempts wrong tries burn a code.
	MaxCodeAttempts = 5
	// CodeResendInterval is the least time between two codes sent to one
	// account.
	CodeResendInterval = time.Minute
)

// ResetParams names the account a reset is for: by Email, else by
// Username, so accounts of either dialect can reset.
type ResetParams struct {
	Email    string
	Username string
}

func (p ResetParams) validate(ve *ValidationError) {
	if p.Email == "" && p.Username != "" {
		validatePresentedUsername(ve, "username", p.Username)
		return
	}
	validatePresentedEmail(ve, "email", p.Email)
}

// ForgotPassword sends a fresh reset code to the account's linked chat,
// through the outbox, replacing any older code. An unknown account, one
// without a chat, and one sent a code less than CodeResendInterval ago get
// nothing sent and the same nil answer, after about the same time: it
// never reveals whether an account exists.
func (s *Service) ForgotPassword(ctx context.Context, p ResetParams) error {
	var ve ValidationError
	p.validate(&ve)
	if err := ve.Err(); err != nil {
		return err
	}
	floor := time.NewTimer(s.forgotFloor)
	defer floor.Stop()

	now := s.clock()
	err := s.inTx(ctx, func(tx Tx) error {
		u, err := s.userByLogin(ctx, tx, p.Email, p.Username)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil || u.ChatID == 0 {
			return err
		}
		_, err = s.queueResetCode(ctx, tx, u, now)
		return err
	})
	if err != nil {
		return fmt.Errorf("forgot password: %w", err)
	}
	select {
	case <-floor.C:
	case <-ctx.Done():
	}
	return nil
}

// queueResetCode replaces u's reset code with a fresh one and queues it
// for u's chat, unless the last one went out less than CodeResendInterval
// ago. It reports whether it queued one.
func (s *Service) queueResetCode(ctx context.Context, tx Tx, u *User, now time.Time) (bool, error) {
	old, err := tx.VerificationCode(ctx, u.ID, PurposePasswordReset)
	switch {
	case err == nil && now.Sub(old.CreatedAt) < CodeResendInterval:
		return false, nil
	case err != nil && !errors.Is(err, ErrNotFound):
		return false, err
	}
	code := newCode()
	c := &VerificationCode{
		UserID:    u.ID,
		Purpose:   PurposePasswordReset,
		CodeHash:  s.codeHash(u.ID, PurposePasswordReset, code),
		CreatedAt: now,
		ExpiresAt: now.Add(CodeTTL),
	}
	if err := tx.PutVerificationCode(ctx, c); err != nil {
		return false, err
	}
	return true, queueNotice(ctx, tx, u, NoticeResetCode, Notice{At: now, Code: code, ExpiresAt: c.ExpiresAt})
}

// ConfirmParams is a reset code and the password it lets one set.
type ConfirmParams struct {
	ResetParams
	Code        string
	NewPassword string
}

// ConfirmNewPassword sets a new password with a reset code. In one
// transaction it spends the code, stores the password, revokes every
// session and queues a "password reset" notice. It returns a
// *ValidationError for a new password the policy refuses and
// ErrInvalidCode for an unknown account or a code that is wrong, expired,
// burned or used; a wrong try counts toward burning the code.
func (s *Service) ConfirmNewPassword(ctx context.Context, p ConfirmParams) error {
	var ve ValidationError
	p.validate(&ve)
	if p.Code == "" {
		ve.Add("verification_code", "is required")
	} else if len(p.Code) != CodeDigits || strings.Trim(p.Code, "0123456789") != "" {
		ve.Add("verification_code", "must be "+strconv.Itoa(CodeDigits)+" digits")
	}
	// The policy is judged before the account is looked up, against the
	// identifier given, so that its verdict cannot tell whether the
	// account exists.
	validateNewPassword(&ve, "new_password", p.NewPassword, p.Email, p.Username)
	if err := ve.Err(); err != nil {
		return err
	}
	u, err := s.userByLogin(ctx, s.store, p.Email, p.Username)
	if errors.Is(err, ErrNotFound) {
		return ErrInvalidCode
	}
	if err != nil {
		return fmt.Errorf("confirm new password: %w", err)
	}

	// A first transaction checks the code and commits a wrong try; the
	// password hash is computed outside any transaction.
	now := s.clock()
	hash := s.codeHash(u.ID, PurposePasswordReset, p.Code)
	var checkErr error
	err = s.inTx(ctx, func(tx Tx) error {
		_, checkErr = s.checkCode(ctx, tx, u.ID, hash, now)
		if errors.Is(checkErr, ErrInvalidCode) {
			return nil // commit the counted try
		}
		return checkErr
	})
	if err == nil {
		err = checkErr
	}
	if err != nil {
		return fmt.Errorf("confirm new password: %w", err)
	}
	// Only a holder of the code gets here: now the policy may look at the
	// account's other identifier too.
	validateNewPassword(&ve, "new_password", p.NewPassword, u.Email, u.Username)
	if err := ve.Err(); err != nil {
		return err
	}
	pwHash, err := s.hasher.Hash(ctx, p.NewPassword)
	if err != nil {
		return fmt.Errorf("confirm new password: %w", err)
	}
	now = s.clock()
	err = s.inTx(ctx, func(tx Tx) error {
		c, err := s.checkCode(ctx, tx, u.ID, hash, now)
		if err != nil {
			return err
		}
		c.ConsumedAt = now
		if err := tx.UpdateVerificationCode(ctx, c); err != nil {
			return err
		}
		if err := tx.UpdatePassword(ctx, u.ID, pwHash, now); err != nil {
			return err
		}
		// Proving the chat is as good as the password: lift any lock.
		if err := tx.SetLoginFailures(ctx, u.ID, 0, time.Time{}, now); err != nil {
			return err
		}
		if _, err := tx.RevokeSessions(ctx, u.ID, "", RevokePasswordReset, now); err != nil {
			return err
		}
		return queueNotice(ctx, tx, u, NoticePasswordReset, Notice{At: now})
	})
	if err != nil {
		return fmt.Errorf("confirm new password: %w", err)
	}
	return nil
}

// checkCode returns the user's live reset code when hash matches it. A
// miss counts a try (burning the code at MaxCodeAttempts) and returns
// ErrInvalidCode; so does a missing, expired, burned or used code.
func (s *Service) checkCode(ctx context.Context, tx Tx, userID int64, hash string, now time.Time) (*VerificationCode, error) {
	c, err := tx.VerificationCode(ctx, userID, PurposePasswordReset)
	if errors.Is(err, ErrNotFound) {
		return nil, ErrInvalidCode
	}
	if err != nil {
		return nil, err
	}
	if !c.ConsumedAt.IsZero() || c.Attempts >= MaxCodeAttempts || !now.Before(c.ExpiresAt) {
		return nil, ErrInvalidCode
	}
	if !hmac.Equal([]byte(hash), []byte(c.CodeHash)) {
		c.Attempts++
		if err := tx.UpdateVerificationCode(ctx, c); err != nil {
			return nil, err
		}
		return nil, ErrInvalidCode
	}
	return c, nil
}

// codeHash is the keyed hash under which a code is kept: HMAC-SHA256 over
// the account, the purpose and the code, so a leaked table cannot be
// brute-forced over the million possible codes without the key.
func (s *Service) codeHash(userID int64, purpose, code string) string {
	m := hmac.New(sha256.New, s.codeKey)
	fmt.Fprintf(m, "%d\x00%s\x00%s", userID, purpose, code)
	return hex.EncodeToString(m.Sum(nil))
}

// newCode returns CodeDigits (6) uniformly random decimal digits.
func newCode() string {
	n, err := rand.Int(rand.Reader, big.NewInt(1_000_000))
	if err != nil {
		panic(err) // crypto/rand does not fail (Go 1.24+)
	}
	return fmt.Sprintf("%06d", n.Int64())
}
