package account

import (
	"context"
	"errors"
	"fmt"
	"time"

	"tgauth/internal/token"
)

// LoginParams is what a login supplies, with where it came from. Name
// names the account; ByUsername takes its Username alone, as Watchdog
// logins name accounts.
type LoginParams struct {
	Name
	ByUsername bool
	Password   string
	IP         string
	UserAgent  string
	// Admin refuses accounts that are not admins, with ErrForbidden.
	Admin bool
}

// Tokens is what a successful login or refresh hands out.
type Tokens struct {
	Access    string
	Refresh   string
	ExpiresIn time.Duration // of Access
}

// Login checks the credentials and opens a session, queueing a "new
// sign-in" notice to a linked chat in the same transaction. It returns
// ErrUnauthorized alike for an unknown account, a wrong password and a
// locked account, after the same work: one password hash. With p.Admin it
// returns ErrForbidden for a right password of a non-admin.
func (s *Service) Login(ctx context.Context, p LoginParams) (*Tokens, error) {
	var ve ValidationError
	if p.ByUsername {
		p.Email = ""
		validatePresentedUsername(&ve, FieldUsername, p.Username)
	} else {
		p.Name.validate(&ve)
	}
	validatePresented(&ve, FieldPassword, p.Password)
	if err := ve.Err(); err != nil {
		return nil, err
	}

	u, err := p.find(ctx, s.store)
	if errors.Is(err, ErrNotFound) {
		// The same work as a wrong password: one hash and one committed
		// write, so the time taken does not tell who has an account.
		s.hasher.VerifyDummy(ctx, p.Password)
		err := s.inTx(ctx, func(tx Tx) error {
			_, err := tx.IncrementCounter(ctx, unknownLoginsCounter, s.clock())
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("login: %w", err)
		}
		return nil, ErrUnauthorized
	}
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	ok, now, err := s.checkPassword(ctx, u, p.Password, p.IP)
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	if !ok {
		return nil, ErrUnauthorized
	}
	if p.Admin && u.Role != RoleAdmin {
		return nil, ErrForbidden
	}
	sess := &Session{
		ID:         randomID(18),
		UserID:     u.ID,
		CreatedAt:  now,
		LastUsedAt: now,
		ExpiresAt:  now.Add(s.refreshTTL),
		IP:         p.IP,
		UserAgent:  p.UserAgent,
	}
	err = s.inTx(ctx, func(tx Tx) error {
		// The account may have been locked since the hash was checked.
		cur, err := recheck(ctx, tx, u, ErrUnauthorized)
		if err != nil {
			return err
		}
		if cur.Locked(now) && !u.Locked(now) {
			known, err := knownNetwork(ctx, tx, u.ID, p.IP, now)
			if err != nil {
				return err
			}
			if !known {
				return ErrUnauthorized
			}
		}
		// A success ends the run of failures but not a lock: the owner
		// signing in from home does not reopen the door to the guesser.
		if cur.FailedLogins != 0 {
			var lockedUntil time.Time
			if cur.Locked(now) {
				lockedUntil = cur.LockedUntil
			}
			if err := tx.SetLoginFailures(ctx, u.ID, 0, lockedUntil, now); err != nil {
				return err
			}
		}
		if err := tx.InsertSession(ctx, sess); err != nil {
			return err
		}
		return queueNotice(ctx, tx, cur, NoticeNewSignIn, Notice{
			At: now, SessionID: sess.ID, IP: p.IP, UserAgent: p.UserAgent,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("login: %w", err)
	}
	return s.issue(u, sess, now)
}

// unknownLoginsCounter counts logins naming no account, in the settings.
const unknownLoginsCounter = "failed_logins_unknown_account"

// issue signs the access and refresh tokens of the session's current
// generation.
func (s *Service) issue(u *User, sess *Session, now time.Time) (*Tokens, error) {
	access, err := s.tokens.Issue(token.Claims{
		UserID:    u.ID,
		SessionID: sess.ID,
		Role:      string(u.Role),
		Type:      token.Access,
		IssuedAt:  now,
		ExpiresAt: minTime(now.Add(s.accessTTL), sess.ExpiresAt),
	})
	if err != nil {
		return nil, fmt.Errorf("issue access token: %w", err)
	}
	refresh, err := s.tokens.Issue(token.Claims{
		UserID:     u.ID,
		SessionID:  sess.ID,
		Role:       string(u.Role),
		Type:       token.Refresh,
		Generation: sess.Generation,
		IssuedAt:   now,
		ExpiresAt:  sess.ExpiresAt,
	})
	if err != nil {
		return nil, fmt.Errorf("issue refresh token: %w", err)
	}
	return &Tokens{Access: access, Refresh: refresh, ExpiresIn: s.accessTTL}, nil
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

// checkPassword checks password against u's, presented from ip. ok is
// false for a wrong password, which counts toward the lockout, and for any
// password while u is locked, unless ip is one of u's known networks:
// there the owner's right password still works, and a wrong one counts.
// now is when the check ended. It costs one hash either way.
func (s *Service) checkPassword(ctx context.Context, u *User, password, ip string) (ok bool, now time.Time, err error) {
	match, err := s.hasher.Verify(ctx, password, u.PasswordHash)
	if err != nil {
		return false, time.Time{}, err
	}
	now = s.clock()
	if u.Locked(now) {
		known, err := knownNetwork(ctx, s.store, u.ID, ip, now)
		if err != nil || !known {
			return false, now, err
		}
	}
	if !match {
		return false, now, s.recordFailedLogin(ctx, u.ID, now)
	}
	return true, now, nil
}

// recheck reads u again inside tx, after checkPassword checked a password
// against it outside any transaction: it returns changed when the password
// has changed since, else the user as it is now.
func recheck(ctx context.Context, tx Tx, u *User, changed error) (*User, error) {
	cur, err := tx.UserByID(ctx, u.ID)
	if err != nil {
		return nil, err
	}
	if cur.PasswordHash != u.PasswordHash {
		return nil, changed
	}
	return cur, nil
}

// recordFailedLogin counts a wrong password against the user. The
// MaxFailedLogins-th in a row locks the account for LockDuration and tells
// its chat.
func (s *Service) recordFailedLogin(ctx context.Context, userID int64, now time.Time) error {
	return s.inTx(ctx, func(tx Tx) error {
		u, err := tx.UserByID(ctx, userID)
		if err != nil {
			return err
		}
		failed, lockedUntil := u.FailedLogins+1, u.LockedUntil
		if failed < MaxFailedLogins {
			return tx.SetLoginFailures(ctx, u.ID, failed, lockedUntil, now)
		}
		lockedUntil = now.Add(LockDuration)
		if err := tx.SetLoginFailures(ctx, u.ID, 0, lockedUntil, now); err != nil {
			return err
		}
		return queueNotice(ctx, tx, u, NoticeAccountLocked, Notice{At: now, LockedUntil: lockedUntil})
	})
}
