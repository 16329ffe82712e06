package account

import (
	"context"
	"time"
)

// Reader holds the queries a use case may run inside or outside a
// transaction. Each returns ErrNotFound when there is no such row.
type Reader interface {
	UserByID(ctx context.Context, id int64) (*User, error)
	// UserByUsername and UserByEmail match case-insensitively.
	UserByUsername(ctx context.Context, username string) (*User, error)
	UserByEmail(ctx context.Context, email string) (*User, error)
	// UsersByChat returns the accounts linked to a chat, oldest first.
	UsersByChat(ctx context.Context, chatID int64) ([]User, error)
	Session(ctx context.Context, id string) (*Session, error)
	// SessionIPs returns the distinct addresses of the user's sessions
	// that are live at now or were created at or after since.
	SessionIPs(ctx context.Context, userID int64, since, now time.Time) ([]string, error)
}

// Tx is one write transaction. Its writes commit together or not at all.
type Tx interface {
	Reader
	// InsertUser stores u and sets u.ID. It returns a *ConflictError when
	// the username or email is taken.
	InsertUser(ctx context.Context, u *User) error
	// UpdatePassword sets the user's password hash and password_changed_at.
	UpdatePassword(ctx context.Context, userID int64, hash string, at time.Time) error
	// SetLoginFailures records the run of failed logins and any lock.
	SetLoginFailures(ctx context.Context, userID int64, failed int, lockedUntil time.Time, at time.Time) error
	InsertSession(ctx context.Context, s *Session) error
	// RevokeSessions revokes every live session of the user but except
	// ("" for none) and returns how many it revoked.
	RevokeSessions(ctx context.Context, userID int64, except string, reason string, at time.Time) (int, error)
	// UpdateSession stores the session's Generation and LastUsedAt; an
	// unknown session is ErrNotFound.
	UpdateSession(ctx context.Context, s *Session) error
	// RevokeSession revokes one session unless it is revoked already; an
	// unknown id is no error.
	RevokeSession(ctx context.Context, id, reason string, at time.Time) error
	// VerificationCode returns the user's code for purpose.
	VerificationCode(ctx context.Context, userID int64, purpose string) (*VerificationCode, error)
	// PutVerificationCode stores c as the user's one code for its purpose,
	// replacing any older one, and sets c.ID.
	PutVerificationCode(ctx context.Context, c *VerificationCode) error
	// UpdateVerificationCode stores the code's Attempts and ConsumedAt; an
	// unknown code is ErrNotFound.
	UpdateVerificationCode(ctx context.Context, c *VerificationCode) error
	// InsertLinkCode stores a deep-link code; ErrConflict if its hash
	// exists.
	InsertLinkCode(ctx context.Context, c *LinkCode) error
	// LinkCode returns the deep-link code with this hash.
	LinkCode(ctx context.Context, hash string) (*LinkCode, error)
	// ConsumeLinkCode marks the code used at at.
	ConsumeLinkCode(ctx context.Context, hash string, at time.Time) error
	// SetChatID links the user to a chat, confirmed at at, or unlinks it
	// with 0.
	SetChatID(ctx context.Context, userID, chatID int64, at time.Time) error
	// ConfirmChat marks the user's chat confirmed at at; ErrNotFound unless
	// the user is linked to chatID.
	ConfirmChat(ctx context.Context, userID, chatID int64, at time.Time) error
	// InsertCodeFailure records a wrong verification code for the user at
	// at and, unless keepSince is zero, forgets the user's failures from
	// before keepSince.
	InsertCodeFailure(ctx context.Context, userID int64, at, keepSince time.Time) error
	// CodeFailures returns how many wrong codes the user gave at or after
	// since, and when the earliest of them was.
	CodeFailures(ctx context.Context, userID int64, since time.Time) (n int, first time.Time, err error)
	// InsertOutbox queues m and sets m.ID.
	InsertOutbox(ctx context.Context, m *OutboxMessage) error
	// IncrementCounter adds one to the counter kept under key (starting
	// from 0) and returns its new value.
	IncrementCounter(ctx context.Context, key string, at time.Time) (int64, error)
	// InitSetting stores value under key unless the key has one already,
	// and returns the value the key holds afterwards.
	InitSetting(ctx context.Context, key, value string, at time.Time) (string, error)
}

// Store is tgauth's persistence: SQLite by default, PostgreSQL to scale out.
type Store interface {
	// Reader runs its queries on a read pool, outside any transaction.
	Reader
	// InTx runs fn in one write transaction, committing when fn returns nil
	// and rolling back otherwise.
	InTx(ctx context.Context, fn func(Tx) error) error
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
}
