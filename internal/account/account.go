// Package account is tgauth's domain: users, their sessions and passwords,
// and the notices that must reach their Telegram chat. Its Service is used by
// both binaries; it declares the Store it needs and knows nothing of HTTP,
// Telegram or SQL.
package account

import (
	"crypto/rand"
	"encoding/base64"
	"time"
)

// Role is what a user may do.
type Role string

// The roles a user can have.
const (
	RoleUser  Role = "user"
	RoleAdmin Role = "admin"
)

// User is an account. Email and Username are "" when the account has none;
// ChatID is 0 when no Telegram chat is linked. A chat given at registration
// is only claimed until the chat itself confirms it: ChatConfirmedAt stays
// zero till then, and nothing but the confirmation prompt is sent there.
type User struct {
	ID                      int64
	Email                   string
	Username                string
	PasswordHash            string
	FirstName               string
	LastName                string
	Role                    Role
	ChatID                  int64
	ChatConfirmedAt         time.Time
	TOCAcceptedAt           time.Time
	PrivacyPolicyAcceptedAt time.Time
	FailedLogins            int
	LockedUntil             time.Time
	CreatedAt               time.Time
	UpdatedAt               time.Time
	PasswordChangedAt       time.Time
}

// Name is how messages name the account: its username, else its email.
func (u *User) Name() string {
	if u.Username != "" {
		return u.Username
	}
	return u.Email
}

// ChatConfirmed reports whether u has a chat that proved it wants u's
// notices: one bound by a deep link, or one that confirmed a registration.
func (u *User) ChatConfirmed() bool {
	return u.ChatID != 0 && !u.ChatConfirmedAt.IsZero()
}

// Locked reports whether logins are refused at now.
func (u *User) Locked(now time.Time) bool {
	return now.Before(u.LockedUntil)
}

// Session is one login. A refresh rotates its Generation; revoking it ends
// every token that names it.
type Session struct {
	ID           string
	UserID       int64
	Generation   int64
	CreatedAt    time.Time
	LastUsedAt   time.Time
	ExpiresAt    time.Time
	RevokedAt    time.Time // zero while live
	RevokeReason string
	IP           string
	UserAgent    string
}

// Live reports whether the session may still authenticate requests at now.
func (s *Session) Live(now time.Time) bool {
	return s.RevokedAt.IsZero() && now.Before(s.ExpiresAt)
}

// Principal is who an authenticated request acts for.
type Principal struct {
	UserID    int64
	SessionID string
	Role      Role
	// IP is the address the request came from, as the transport saw it;
	// "" when it does not know.
	IP string
}

// Reasons a session was revoked, kept in sessions.revoke_reason.
const (
	RevokePasswordChanged = "password_changed"
	RevokePasswordReset   = "password_reset"
	RevokeSignedOut       = "signed_out"
	RevokeRefreshReused   = "refresh_reused"
	RevokeChatMoved       = "chat_moved"
)

// VerificationCode is a one-time code sent to a user's chat. Only a keyed
// hash of the code is kept.
type VerificationCode struct {
	ID         int64
	UserID     int64
	Purpose    string
	CodeHash   string
	CreatedAt  time.Time
	ExpiresAt  time.Time
	Attempts   int
	ConsumedAt time.Time // zero while unused
}

// LinkCode is a deep-link code that binds the chat that presents it to
// the user who asked for it. Only its hash is kept. ReplacesChatID is the
// chat the account had when the link was asked for with its password: the
// only chat the link may move it away from (0: it had none). SessionID is
// the session that asked, which a move leaves signed in.
type LinkCode struct {
	CodeHash       string
	UserID         int64
	ReplacesChatID int64
	SessionID      string
	CreatedAt      time.Time
	ExpiresAt      time.Time
	ConsumedAt     time.Time
}

// randomID returns n random bytes as unpadded base64url text: session ids and
// other opaque handles.
func randomID(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
	return base64.RawURLEncoding.EncodeToString(b)
}
