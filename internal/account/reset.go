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

// Password reset codes. A code asked for through the API (forgot_password)
// has CodeDigits digits and burns after MaxCodeAttempts wrong tries. Wrong
// codes are also counted per account, across codes and addresses: after
// MaxCodeFailures in CodeFailureWindow, API codes are neither sent nor
// checked and the chat is told. The owner still gets back in through the
// chat: a code asked for there (/reset) has ChatCodeDigits digits, too
// many to guess, so it is never paused and never burned by wrong tries.
const (
	PurposePasswordReset     = "password_reset"
	PurposePasswordResetChat = "password_reset_chat"
	CodeDigits               = 6
	ChatCodeDigits           = 12
	CodeTTL                  = 10 * time.Minute
	// MaxCodeAttempts wrong tries burn an API code.
	MaxCodeAttempts = 5
	// CodeResendInterval is the least time between two codes of one
	// purpose sent to one account.
	CodeResendInterval = time.Minute
	MaxCodeFailures    = 20
	CodeFailureWindow  = 24 * time.Hour
)

// ForgotPassword sends a fresh reset code to the account's linked chat,
// through the outbox, replacing any older code. An unknown account, one
// without a confirmed chat, one sent a code less than CodeResendInterval
// ago and one whose wrong codes have reached MaxCodeFailures get nothing
// sent and the same nil answer, after about the same time: it never
// reveals whether an account exists.
func (s *Service) ForgotPassword(ctx context.Context, n Name) error {
	var ve ValidationError
	n.validate(&ve)
	if err := ve.Err(); err != nil {
		return err
	}
	floor := time.NewTimer(s.forgotFloor)
	defer floor.Stop()

	now := s.clock()
	err := s.inTx(ctx, func(tx Tx) error {
		u, err := n.find(ctx, tx)
		if errors.Is(err, ErrNotFound) {
			return nil
		}
		if err != nil || !u.ChatConfirmed() {
			return err
		}
		_, err = s.queueResetCode(ctx, tx, u, PurposePasswordReset, now)
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

// queueResetCode replaces u's reset code of purpose with a fresh one and
// queues it for u's chat, unless the last one went out less than
// CodeResendInterval ago or, for an API code, u's wrong codes have reached
// MaxCodeFailures. It reports whether it queued one.
func (s *Service) queueResetCode(ctx context.Context, tx Tx, u *User, purpose string, now time.Time) (bool, error) {
	old, err := tx.VerificationCode(ctx, u.ID, purpose)
	switch {
	case err == nil && now.Sub(old.CreatedAt) < CodeResendInterval:
		return false, nil
	case err != nil && !errors.Is(err, ErrNotFound):
		return false, err
	}
	digits := ChatCodeDigits
	if purpose == PurposePasswordReset {
		n, _, err := tx.CodeFailures(ctx, u.ID, now.Add(-CodeFailureWindow))
		if err != nil || n >= MaxCodeFailures {
			return false, err
		}
		digits = CodeDigits
	}
	code := newCode(digits)
	c := &VerificationCode{
		UserID:    u.ID,
		Purpose:   purpose,
		CodeHash:  s.codeHash(u.ID, purpose, code),
		CreatedAt: now,
		ExpiresAt: now.Add(CodeTTL),
	}
	if err := tx.PutVerificationCode(ctx, c); err != nil {
		return false, err
	}
	n := Notice{At: now, Code: code, ExpiresAt: c.ExpiresAt}
	if s.sealer != nil {
		n.Code, n.SealedCode = "", s.sealer.seal(u.ID, code)
	}
	return true, queueNotice(ctx, tx, u, NoticeResetCode, n)
}

// ConfirmParams is a reset code, the account it is for and the password
// it lets one set.
type ConfirmParams struct {
	Name
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
	purpose := codePurpose(p.Code)
	switch {
	case p.Code == "":
		ve.Add(FieldCode, "is required")
	case purpose == "":
		ve.Add(FieldCode, "must be "+strconv.Itoa(CodeDigits)+" digits, or "+
			strconv.Itoa(ChatCodeDigits)+" for a code asked for in the chat")
	}
	// The policy is judged before the account is looked up, against the
	// identifier given, so that its verdict cannot tell whether the
	// account exists.
	validateNewPassword(&ve, FieldNewPassword, p.NewPassword, p.Email, p.Username)
	if err := ve.Err(); err != nil {
		return err
	}
	u, err := p.find(ctx, s.store)
	if errors.Is(err, ErrNotFound) {
		// The same work as a wrong code (checkCode's reads, and one
		// committed write), so the time taken does not tell who has an
		// account.
		err := s.inTx(ctx, func(tx Tx) error {
			now := s.clock()
			if _, _, err := tx.CodeFailures(ctx, 0, now.Add(-CodeFailureWindow)); err != nil {
				return err
			}
			if _, err := tx.VerificationCode(ctx, 0, purpose); err != nil && !errors.Is(err, ErrNotFound) {
				return err
			}
			_, err := tx.IncrementCounter(ctx, unknownCodesCounter, now)
			return err
		})
		if err != nil {
			return fmt.Errorf("confirm new password: %w", err)
		}
		return ErrInvalidCode
	}
	if err != nil {
		return fmt.Errorf("confirm new password: %w", err)
	}

	// A first transaction checks the code and commits a wrong try; the
	// password hash is computed outside any transaction.
	now := s.clock()
	hash := s.codeHash(u.ID, purpose, p.Code)
	var checkErr error
	err = s.inTx(ctx, func(tx Tx) error {
		_, checkErr = s.checkCode(ctx, tx, u, purpose, hash, now)
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
	validateNewPassword(&ve, FieldNewPassword, p.NewPassword, u.Email, u.Username)
	if err := ve.Err(); err != nil {
		return err
	}
	pwHash, err := s.hasher.Hash(ctx, p.NewPassword)
	if err != nil {
		return fmt.Errorf("confirm new password: %w", err)
	}
	now = s.clock()
	err = s.inTx(ctx, func(tx Tx) error {
		c, err := s.checkCode(ctx, tx, u, purpose, hash, now)
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

// unknownCodesCounter counts reset codes given for no account, in the
// settings.
const unknownCodesCounter = "failed_codes_unknown_account"

// codePurpose tells an API code from a chat code by its length; "" for a
// code that is neither.
func codePurpose(code string) string {
	if strings.Trim(code, "0123456789") != "" {
		return ""
	}
	switch len(code) {
	case CodeDigits:
		return PurposePasswordReset
	case ChatCodeDigits:
		return PurposePasswordResetChat
	}
	return ""
}

// checkCode returns u's live code of purpose when hash matches it. A miss
// (a wrong, missing, expired, burned or used code) returns ErrInvalidCode
// and counts against u's MaxCodeFailures; the miss that reaches it tells
// the chat that API codes are paused. A miss on a live API code also
// counts a try of it, burning it at MaxCodeAttempts. Once the failures
// have reached the bound, API codes are refused unchecked and misses are
// no longer recorded: the bound is on what a guesser learns, not on rows.
func (s *Service) checkCode(ctx context.Context, tx Tx, u *User, purpose, hash string, now time.Time) (*VerificationCode, error) {
	since := now.Add(-CodeFailureWindow)
	failures, first, err := tx.CodeFailures(ctx, u.ID, since)
	if err != nil {
		return nil, err
	}
	spent := failures >= MaxCodeFailures
	if spent && purpose == PurposePasswordReset {
		return nil, ErrInvalidCode
	}
	c, err := tx.VerificationCode(ctx, u.ID, purpose)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	live := c != nil && c.ConsumedAt.IsZero() && c.Attempts < MaxCodeAttempts && now.Before(c.ExpiresAt)
	if live && hmac.Equal([]byte(hash), []byte(c.CodeHash)) {
		return c, nil
	}
	if live && purpose == PurposePasswordReset {
		c.Attempts++
		if err := tx.UpdateVerificationCode(ctx, c); err != nil {
			return nil, err
		}
	}
	if spent {
		return nil, ErrInvalidCode
	}
	// Older failures are forgotten when a run starts and when it fills:
	// a few rows per account, and a miss costs one insert.
	var prune time.Time
	if failures == 0 || failures+1 == MaxCodeFailures {
		prune = since
	}
	if err := tx.InsertCodeFailure(ctx, u.ID, now, prune); err != nil {
		return nil, err
	}
	if failures+1 == MaxCodeFailures {
		if first.IsZero() {
			first = now
		}
		err := queueNotice(ctx, tx, u, NoticeResetPaused, Notice{At: now, LockedUntil: first.Add(CodeFailureWindow)})
		if err != nil {
			return nil, err
		}
	}
	return nil, ErrInvalidCode
}

// codeHash is the keyed hash under which a code is kept: HMAC-SHA256 over
// the account, the purpose and the code, so a leaked table cannot be
// brute-forced over the million possible codes without the key.
func (s *Service) codeHash(userID int64, purpose, code string) string {
	m := hmac.New(sha256.New, s.codeKey)
	fmt.Fprintf(m, "%d\x00%s\x00%s", userID, purpose, code)
	return hex.EncodeToString(m.Sum(nil))
}

// newCode returns digits uniformly random decimal digits.
func newCode(digits int) string {
	n, err := rand.Int(rand.Reader, new(big.Int).Exp(big.NewInt(10), big.NewInt(int64(digits)), nil))
	if err != nil {
		panic(err) // crypto/rand does not fail (Go 1.24+)
	}
	return fmt.Sprintf("%0*d", digits, n)
}
