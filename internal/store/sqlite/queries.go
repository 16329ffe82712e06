package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"tgauth/internal/account"
)

// queryer is what reads need: the read pool or a write transaction.
type queryer interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// reader implements account.Reader on a queryer.
type reader struct {
	q queryer
}

const userColumns = `id, email, username, password_hash, first_name, last_name, role,
	telegram_chat_id, toc_accepted_at, privacy_policy_accepted_at, failed_logins,
	locked_until, created_at, updated_at, password_changed_at, chat_confirmed_at`

// scanUser reads one row of userColumns.
func scanUser(row interface{ Scan(dest ...any) error }) (*account.User, error) {
	var (
		u               account.User
		email, username sql.NullString
		chatID          sql.NullInt64
		role            string
	)
	err := row.Scan(
		&u.ID, &email, &username, &u.PasswordHash, &u.FirstName, &u.LastName, &role,
		&chatID, nullTime{&u.TOCAcceptedAt}, nullTime{&u.PrivacyPolicyAcceptedAt}, &u.FailedLogins,
		nullTime{&u.LockedUntil}, nullTime{&u.CreatedAt}, nullTime{&u.UpdatedAt}, nullTime{&u.PasswordChangedAt},
		nullTime{&u.ChatConfirmedAt},
	)
	if err != nil {
		return nil, err
	}
	u.Email, u.Username, u.ChatID, u.Role = email.String, username.String, chatID.Int64, account.Role(role)
	return &u, nil
}

func (r reader) user(ctx context.Context, where string, arg any) (*account.User, error) {
	u, err := scanUser(r.q.QueryRowContext(ctx, `SELECT `+userColumns+` FROM users WHERE `+where, arg))
	if err := selected(err, "user"); err != nil {
		return nil, err
	}
	return u, nil
}

func (r reader) UserByID(ctx context.Context, id int64) (*account.User, error) {
	return r.user(ctx, `id = ?`, id)
}

// UserByUsername relies on the column's NOCASE collation.
func (r reader) UserByUsername(ctx context.Context, username string) (*account.User, error) {
	return r.user(ctx, `username = ?`, username)
}

// UserByEmail relies on the column's NOCASE collation.
func (r reader) UserByEmail(ctx context.Context, email string) (*account.User, error) {
	return r.user(ctx, `email = ?`, email)
}

func (r reader) Session(ctx context.Context, id string) (*account.Session, error) {
	s := account.Session{ID: id}
	var reason sql.NullString
	err := r.q.QueryRowContext(ctx, `SELECT user_id, generation, created_at, last_used_at,
		expires_at, revoked_at, revoke_reason, ip, user_agent FROM sessions WHERE id = ?`, id).Scan(
		&s.UserID, &s.Generation, nullTime{&s.CreatedAt}, nullTime{&s.LastUsedAt},
		nullTime{&s.ExpiresAt}, nullTime{&s.RevokedAt}, &reason, &s.IP, &s.UserAgent,
	)
	if err := selected(err, "session"); err != nil {
		return nil, err
	}
	s.RevokeReason = reason.String
	return &s, nil
}

// tx implements account.Tx on one write transaction.
type tx struct {
	reader
	tx inTx
}

// nullString stores "" as NULL.
func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

// nullInt stores 0 as NULL.
func nullInt(n int64) sql.NullInt64 { return sql.NullInt64{Int64: n, Valid: n != 0} }

func (t *tx) InsertUser(ctx context.Context, u *account.User) error {
	err := t.tx.QueryRowContext(ctx, `INSERT INTO users (email, username, password_hash,
		first_name, last_name, role, telegram_chat_id, toc_accepted_at,
		privacy_policy_accepted_at, failed_logins, locked_until, created_at, updated_at,
		password_changed_at, chat_confirmed_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		RETURNING id`,
		nullString(u.Email), nullString(u.Username), u.PasswordHash, u.FirstName, u.LastName,
		string(u.Role), nullInt(u.ChatID), fmtTime(u.TOCAcceptedAt), fmtTime(u.PrivacyPolicyAcceptedAt),
		u.FailedLogins, fmtTime(u.LockedUntil), fmtTime(u.CreatedAt), fmtTime(u.UpdatedAt),
		fmtTime(u.PasswordChangedAt), fmtTime(u.ChatConfirmedAt),
	).Scan(&u.ID)
	if field, ok := constraintField(err); ok {
		if field == "" {
			return fmt.Errorf("insert user: %w", account.ErrConflict)
		}
		return &account.ConflictError{Field: account.Field(field)} // users' columns are named as the fields
	}
	if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

// exec runs a statement that must change exactly one row.
func (t *tx) execOne(ctx context.Context, what, query string, args ...any) error {
	res, err := t.tx.ExecContext(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if n != 1 {
		return fmt.Errorf("%s: %w", what, account.ErrNotFound)
	}
	return nil
}

func (t *tx) UpdatePassword(ctx context.Context, userID int64, hash string, at time.Time) error {
	return t.execOne(ctx, "update password", `UPDATE users SET password_hash = ?,
		password_changed_at = ?, updated_at = ? WHERE id = ?`,
		hash, fmtTime(at), fmtTime(at), userID)
}

func (t *tx) SetLoginFailures(ctx context.Context, userID int64, failed int, lockedUntil, at time.Time) error {
	return t.execOne(ctx, "set login failures", `UPDATE users SET failed_logins = ?,
		locked_until = ?, updated_at = ? WHERE id = ?`,
		failed, fmtTime(lockedUntil), fmtTime(at), userID)
}

func (t *tx) InsertSession(ctx context.Context, s *account.Session) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO sessions (id, user_id, generation,
		created_at, last_used_at, expires_at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		s.ID, s.UserID, s.Generation, fmtTime(s.CreatedAt), fmtTime(s.LastUsedAt),
		fmtTime(s.ExpiresAt), s.IP, s.UserAgent)
	if err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

func (t *tx) RevokeSessions(ctx context.Context, userID int64, except, reason string, at time.Time) (int, error) {
	res, err := t.tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ?, revoke_reason = ?
		WHERE user_id = ? AND revoked_at IS NULL AND id <> ?`,
		fmtTime(at), reason, userID, except)
	if err != nil {
		return 0, fmt.Errorf("revoke sessions: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("revoke sessions: %w", err)
	}
	return int(n), nil
}

func (t *tx) InsertOutbox(ctx context.Context, m *account.OutboxMessage) error {
	err := t.tx.QueryRowContext(ctx, `INSERT INTO outbox (chat_id, kind, payload, created_at,
		next_attempt_at) VALUES (?, ?, ?, ?, ?) RETURNING id`,
		m.ChatID, string(m.Kind), string(m.Payload), fmtTime(m.CreatedAt), fmtTime(m.NextAttemptAt),
	).Scan(&m.ID)
	if err != nil {
		return fmt.Errorf("insert outbox: %w", err)
	}
	return nil
}

func (t *tx) InitSetting(ctx context.Context, key, value string, at time.Time) (string, error) {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO settings (key, value, created_at) VALUES (?, ?, ?)
		ON CONFLICT (key) DO NOTHING`, key, value, fmtTime(at))
	if err != nil {
		return "", fmt.Errorf("init setting: %w", err)
	}
	var stored string
	if err := t.tx.QueryRowContext(ctx, `SELECT value FROM settings WHERE key = ?`, key).Scan(&stored); err != nil {
		return "", fmt.Errorf("init setting: %w", err)
	}
	return stored, nil
}

func (t *tx) UpdateSession(ctx context.Context, s *account.Session) error {
	return t.execOne(ctx, "update session", `UPDATE sessions SET generation = ?, last_used_at = ?
		WHERE id = ?`, s.Generation, fmtTime(s.LastUsedAt), s.ID)
}

func (t *tx) RevokeSession(ctx context.Context, id, reason string, at time.Time) error {
	_, err := t.tx.ExecContext(ctx, `UPDATE sessions SET revoked_at = ?, revoke_reason = ?
		WHERE id = ? AND revoked_at IS NULL`, fmtTime(at), reason, id)
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
}

func (t *tx) VerificationCode(ctx context.Context, userID int64, purpose string) (*account.VerificationCode, error) {
	c := account.VerificationCode{UserID: userID, Purpose: purpose}
	err := t.tx.QueryRowContext(ctx, `SELECT id, code_hash, created_at, expires_at, attempts,
		consumed_at FROM verification_codes WHERE user_id = ? AND purpose = ?`, userID, purpose).Scan(
		&c.ID, &c.CodeHash, nullTime{&c.CreatedAt}, nullTime{&c.ExpiresAt}, &c.Attempts, nullTime{&c.ConsumedAt},
	)
	if err := selected(err, "verification code"); err != nil {
		return nil, err
	}
	return &c, nil
}

func (t *tx) PutVerificationCode(ctx context.Context, c *account.VerificationCode) error {
	err := t.tx.QueryRowContext(ctx, `INSERT INTO verification_codes (user_id, purpose, code_hash,
		created_at, expires_at, attempts, consumed_at) VALUES (?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id, purpose) DO UPDATE SET code_hash = excluded.code_hash,
		created_at = excluded.created_at, expires_at = excluded.expires_at,
		attempts = excluded.attempts, consumed_at = excluded.consumed_at
		RETURNING id`,
		c.UserID, c.Purpose, c.CodeHash, fmtTime(c.CreatedAt), fmtTime(c.ExpiresAt), c.Attempts, fmtTime(c.ConsumedAt),
	).Scan(&c.ID)
	if err != nil {
		return fmt.Errorf("put verification code: %w", err)
	}
	return nil
}

func (t *tx) UpdateVerificationCode(ctx context.Context, c *account.VerificationCode) error {
	return t.execOne(ctx, "update verification code", `UPDATE verification_codes SET attempts = ?,
		consumed_at = ? WHERE id = ?`, c.Attempts, fmtTime(c.ConsumedAt), c.ID)
}

func (t *tx) InsertLinkCode(ctx context.Context, c *account.LinkCode) error {
	_, err := t.tx.ExecContext(ctx, `INSERT INTO link_codes (code_hash, user_id, replaces_chat_id,
		session_id, created_at, expires_at, consumed_at) VALUES (?, ?, ?, ?, ?, ?, ?)`,
		c.CodeHash, c.UserID, nullInt(c.ReplacesChatID), c.SessionID, fmtTime(c.CreatedAt),
		fmtTime(c.ExpiresAt), fmtTime(c.ConsumedAt))
	if _, ok := constraintField(err); ok {
		return fmt.Errorf("insert link code: %w", account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("insert link code: %w", err)
	}
	return nil
}

func (t *tx) IncrementCounter(ctx context.Context, key string, at time.Time) (int64, error) {
	var n int64
	err := t.tx.QueryRowContext(ctx, `INSERT INTO settings (key, value, created_at) VALUES (?, '1', ?)
		ON CONFLICT (key) DO UPDATE SET value = CAST(CAST(value AS INTEGER) + 1 AS TEXT)
		RETURNING CAST(value AS INTEGER)`, key, fmtTime(at)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("increment counter: %w", err)
	}
	return n, nil
}

// selected is the error of a one-row select of what: ErrNotFound for no
// row.
func selected(err error, what string) error {
	if errors.Is(err, sql.ErrNoRows) {
		return account.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("select %s: %w", what, err)
	}
	return nil
}
