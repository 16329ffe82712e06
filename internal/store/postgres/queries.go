package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"tgauth/internal/account"
)

// querier is what reads need: the pool or a transaction.
type querier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
}

// reader implements account.Reader on a querier. In a transaction it
// locks what it reads (forUpdate), so that the read-modify-write of a use
// case is not interleaved with another's.
type reader struct {
	q         querier
	forUpdate bool
}

// locking appends the row lock to a query when r reads for a transaction.
func (r reader) locking(query string) string {
	if r.forUpdate {
		return query + ` FOR UPDATE`
	}
	return query
}

// fold is SQLite's COLLATE NOCASE for a column or a parameter: ASCII
// letters lowered, nothing else touched. The unique indexes on users use
// the same expressions.
const (
	foldUsername = `translate(username, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')`
	foldEmail    = `translate(email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')`
	foldParam    = `translate($1, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz')`
)

const userColumns = `id, email, username, password_hash, first_name, last_name, role,
	telegram_chat_id, toc_accepted_at, privacy_policy_accepted_at, failed_logins,
	locked_until, created_at, updated_at, password_changed_at, chat_confirmed_at`

// scanUser reads one row of userColumns.
func scanUser(row pgx.Row) (*account.User, error) {
	var (
		u               account.User
		email, username *string
		chatID          *int64
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
	if email != nil {
		u.Email = *email
	}
	if username != nil {
		u.Username = *username
	}
	if chatID != nil {
		u.ChatID = *chatID
	}
	u.Role = account.Role(role)
	return &u, nil
}

// PostgreSQL's text holds valid UTF-8 without NUL; SQLite's holds any
// bytes. Strings from outside (a form field is percent-decoded bytes, a
// User-Agent may be Latin-1) must not turn a lookup or a login into a
// server error on PostgreSQL where SQLite just answers.

// storable reports whether text can be a PostgreSQL text value. One that
// cannot equals no stored value: a lookup by it finds nothing.
func storable(s string) bool {
	return utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// text makes s storable: NULs dropped, invalid bytes replaced by U+FFFD.
// It is for descriptive text (a User-Agent, an error message), never for
// keys.
func text(s string) string {
	if storable(s) {
		return s
	}
	return strings.ToValidUTF8(strings.ReplaceAll(s, "\x00", ""), "\uFFFD")
}

func (r reader) user(ctx context.Context, where string, arg any) (*account.User, error) {
	if s, ok := arg.(string); ok && !storable(s) {
		return nil, account.ErrNotFound
	}
	u, err := scanUser(r.q.QueryRow(ctx, r.locking(`SELECT `+userColumns+` FROM users WHERE `+where), arg))
	if err := selected(err, "user"); err != nil {
		return nil, err
	}
	return u, nil
}

func (r reader) UserByID(ctx context.Context, id int64) (*account.User, error) {
	return r.user(ctx, `id = $1`, id)
}

// UserByUsername folds ASCII case on both sides, using users_username_fold.
func (r reader) UserByUsername(ctx context.Context, username string) (*account.User, error) {
	return r.user(ctx, foldUsername+` = `+foldParam, username)
}

// UserByEmail folds ASCII case on both sides, using users_email_fold.
func (r reader) UserByEmail(ctx context.Context, email string) (*account.User, error) {
	return r.user(ctx, foldEmail+` = `+foldParam, email)
}

func (r reader) UsersByChat(ctx context.Context, chatID int64) ([]account.User, error) {
	rows, err := r.q.Query(ctx, r.locking(`SELECT `+userColumns+` FROM users
		WHERE telegram_chat_id = $1 ORDER BY id`), chatID)
	if err != nil {
		return nil, fmt.Errorf("users by chat: %w", err)
	}
	defer rows.Close()
	var users []account.User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, fmt.Errorf("users by chat: %w", err)
		}
		users = append(users, *u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("users by chat: %w", err)
	}
	return users, nil
}

func (r reader) Session(ctx context.Context, id string) (*account.Session, error) {
	if !storable(id) {
		return nil, account.ErrNotFound
	}
	s := account.Session{ID: id}
	var reason *string
	err := r.q.QueryRow(ctx, r.locking(`SELECT user_id, generation, created_at, last_used_at,
		expires_at, revoked_at, revoke_reason, ip, user_agent FROM sessions WHERE id = $1`), id).Scan(
		&s.UserID, &s.Generation, nullTime{&s.CreatedAt}, nullTime{&s.LastUsedAt},
		nullTime{&s.ExpiresAt}, nullTime{&s.RevokedAt}, &reason, &s.IP, &s.UserAgent,
	)
	if err := selected(err, "session"); err != nil {
		return nil, err
	}
	if reason != nil {
		s.RevokeReason = *reason
	}
	return &s, nil
}

// tx implements account.Tx on one transaction.
type tx struct {
	reader
	tx pgx.Tx
}

// nullString stores "" as NULL.
func nullString(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// nullInt stores 0 as NULL.
func nullInt(n int64) *int64 {
	if n == 0 {
		return nil
	}
	return &n
}

func (t *tx) InsertUser(ctx context.Context, u *account.User) error {
	err := t.tx.QueryRow(ctx, `INSERT INTO users (email, username, password_hash,
		first_name, last_name, role, telegram_chat_id, toc_accepted_at,
		privacy_policy_accepted_at, failed_logins, locked_until, created_at, updated_at,
		password_changed_at, chat_confirmed_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id`,
		nullString(u.Email), nullString(u.Username), u.PasswordHash, text(u.FirstName), text(u.LastName),
		string(u.Role), nullInt(u.ChatID), pgTime(u.TOCAcceptedAt), pgTime(u.PrivacyPolicyAcceptedAt),
		u.FailedLogins, pgTime(u.LockedUntil), pgTime(u.CreatedAt), pgTime(u.UpdatedAt),
		pgTime(u.PasswordChangedAt), pgTime(u.ChatConfirmedAt),
	).Scan(&u.ID)
	if field, ok := constraintField(err); ok {
		if field == "" {
			return fmt.Errorf("insert user: %w", account.ErrConflict)
		}
		return &account.ConflictError{Field: field}
	}
	if err != nil {
		return fmt.Errorf("insert user: %w", err)
	}
	return nil
}

// execOne runs a statement that must change exactly one row.
func (t *tx) execOne(ctx context.Context, what, query string, args ...any) error {
	tag, err := t.tx.Exec(ctx, query, args...)
	if err != nil {
		return fmt.Errorf("%s: %w", what, err)
	}
	if tag.RowsAffected() != 1 {
		return fmt.Errorf("%s: %w", what, account.ErrNotFound)
	}
	return nil
}

func (t *tx) UpdatePassword(ctx context.Context, userID int64, hash string, at time.Time) error {
	return t.execOne(ctx, "update password", `UPDATE users SET password_hash = $1,
		password_changed_at = $2, updated_at = $2 WHERE id = $3`,
		hash, pgTime(at), userID)
}

func (t *tx) SetLoginFailures(ctx context.Context, userID int64, failed int, lockedUntil, at time.Time) error {
	return t.execOne(ctx, "set login failures", `UPDATE users SET failed_logins = $1,
		locked_until = $2, updated_at = $3 WHERE id = $4`,
		failed, pgTime(lockedUntil), pgTime(at), userID)
}

func (t *tx) InsertSession(ctx context.Context, s *account.Session) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO sessions (id, user_id, generation,
		created_at, last_used_at, expires_at, ip, user_agent) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		s.ID, s.UserID, s.Generation, pgTime(s.CreatedAt), pgTime(s.LastUsedAt),
		pgTime(s.ExpiresAt), text(s.IP), text(s.UserAgent))
	if err != nil {
		return fmt.Errorf("insert session: %w", err)
	}
	return nil
}

func (t *tx) RevokeSessions(ctx context.Context, userID int64, except, reason string, at time.Time) (int, error) {
	tag, err := t.tx.Exec(ctx, `UPDATE sessions SET revoked_at = $1, revoke_reason = $2
		WHERE user_id = $3 AND revoked_at IS NULL AND id <> $4`,
		pgTime(at), text(reason), userID, except)
	if err != nil {
		return 0, fmt.Errorf("revoke sessions: %w", err)
	}
	return int(tag.RowsAffected()), nil
}

func (t *tx) UpdateSession(ctx context.Context, s *account.Session) error {
	return t.execOne(ctx, "update session", `UPDATE sessions SET generation = $1, last_used_at = $2
		WHERE id = $3`, s.Generation, pgTime(s.LastUsedAt), s.ID)
}

func (t *tx) RevokeSession(ctx context.Context, id, reason string, at time.Time) error {
	_, err := t.tx.Exec(ctx, `UPDATE sessions SET revoked_at = $1, revoke_reason = $2
		WHERE id = $3 AND revoked_at IS NULL`, pgTime(at), text(reason), id)
	if err != nil {
		return fmt.Errorf("revoke session: %w", err)
	}
	return nil
}

// outboxChannel is the channel InsertOutbox notifies and ListenOutbox
// listens on.
const outboxChannel = "tgauth_outbox"

// InsertOutbox queues m and notifies outboxChannel, in one round trip. The
// notification is delivered when the transaction commits, and not at all
// when it rolls back.
func (t *tx) InsertOutbox(ctx context.Context, m *account.OutboxMessage) error {
	b := &pgx.Batch{}
	b.Queue(`INSERT INTO outbox (chat_id, kind, payload, created_at, next_attempt_at)
		VALUES ($1, $2, $3, $4, $5) RETURNING id`,
		m.ChatID, string(m.Kind), string(m.Payload), pgTime(m.CreatedAt), pgTime(m.NextAttemptAt),
	).QueryRow(func(row pgx.Row) error { return row.Scan(&m.ID) })
	b.Queue(`SELECT pg_notify('` + outboxChannel + `', '')`).Exec(func(pgconn.CommandTag) error { return nil })
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("insert outbox: %w", err)
	}
	return nil
}

func (t *tx) InitSetting(ctx context.Context, key, value string, at time.Time) (string, error) {
	_, err := t.tx.Exec(ctx, `INSERT INTO settings (key, value, created_at) VALUES ($1, $2, $3)
		ON CONFLICT (key) DO NOTHING`, key, value, pgTime(at))
	if err != nil {
		return "", fmt.Errorf("init setting: %w", err)
	}
	var stored string
	if err := t.tx.QueryRow(ctx, `SELECT value FROM settings WHERE key = $1`, key).Scan(&stored); err != nil {
		return "", fmt.Errorf("init setting: %w", err)
	}
	return stored, nil
}

func (t *tx) IncrementCounter(ctx context.Context, key string, at time.Time) (int64, error) {
	var n int64
	err := t.tx.QueryRow(ctx, `INSERT INTO settings AS s (key, value, created_at) VALUES ($1, '1', $2)
		ON CONFLICT (key) DO UPDATE SET value = (s.value::bigint + 1)::text
		RETURNING value::bigint`, key, pgTime(at)).Scan(&n)
	if err != nil {
		return 0, fmt.Errorf("increment counter: %w", err)
	}
	return n, nil
}

func (t *tx) VerificationCode(ctx context.Context, userID int64, purpose string) (*account.VerificationCode, error) {
	if !storable(purpose) {
		return nil, account.ErrNotFound
	}
	c := account.VerificationCode{UserID: userID, Purpose: purpose}
	err := t.tx.QueryRow(ctx, `SELECT id, code_hash, created_at, expires_at, attempts,
		consumed_at FROM verification_codes WHERE user_id = $1 AND purpose = $2 FOR UPDATE`, userID, purpose).Scan(
		&c.ID, &c.CodeHash, nullTime{&c.CreatedAt}, nullTime{&c.ExpiresAt}, &c.Attempts, nullTime{&c.ConsumedAt},
	)
	if err := selected(err, "verification code"); err != nil {
		return nil, err
	}
	return &c, nil
}

func (t *tx) PutVerificationCode(ctx context.Context, c *account.VerificationCode) error {
	err := t.tx.QueryRow(ctx, `INSERT INTO verification_codes (user_id, purpose, code_hash,
		created_at, expires_at, attempts, consumed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)
		ON CONFLICT (user_id, purpose) DO UPDATE SET code_hash = excluded.code_hash,
		created_at = excluded.created_at, expires_at = excluded.expires_at,
		attempts = excluded.attempts, consumed_at = excluded.consumed_at
		RETURNING id`,
		c.UserID, c.Purpose, c.CodeHash, pgTime(c.CreatedAt), pgTime(c.ExpiresAt), c.Attempts, pgTime(c.ConsumedAt),
	).Scan(&c.ID)
	if err != nil {
		return fmt.Errorf("put verification code: %w", err)
	}
	return nil
}

func (t *tx) UpdateVerificationCode(ctx context.Context, c *account.VerificationCode) error {
	return t.execOne(ctx, "update verification code", `UPDATE verification_codes SET attempts = $1,
		consumed_at = $2 WHERE id = $3`, c.Attempts, pgTime(c.ConsumedAt), c.ID)
}

func (t *tx) InsertLinkCode(ctx context.Context, c *account.LinkCode) error {
	_, err := t.tx.Exec(ctx, `INSERT INTO link_codes (code_hash, user_id, replaces_chat_id,
		session_id, created_at, expires_at, consumed_at) VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		c.CodeHash, c.UserID, nullInt(c.ReplacesChatID), c.SessionID, pgTime(c.CreatedAt),
		pgTime(c.ExpiresAt), pgTime(c.ConsumedAt))
	if _, ok := constraintField(err); ok {
		return fmt.Errorf("insert link code: %w", account.ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("insert link code: %w", err)
	}
	return nil
}

func (t *tx) LinkCode(ctx context.Context, hash string) (*account.LinkCode, error) {
	if !storable(hash) {
		return nil, account.ErrNotFound
	}
	c := account.LinkCode{CodeHash: hash}
	var replaces *int64
	err := t.tx.QueryRow(ctx, `SELECT user_id, replaces_chat_id, session_id, created_at, expires_at,
		consumed_at FROM link_codes WHERE code_hash = $1 FOR UPDATE`, hash).Scan(
		&c.UserID, &replaces, &c.SessionID, nullTime{&c.CreatedAt}, nullTime{&c.ExpiresAt},
		nullTime{&c.ConsumedAt})
	if err := selected(err, "link code"); err != nil {
		return nil, err
	}
	if replaces != nil {
		c.ReplacesChatID = *replaces
	}
	return &c, nil
}

func (t *tx) ConsumeLinkCode(ctx context.Context, hash string, at time.Time) error {
	return t.execOne(ctx, "consume link code", `UPDATE link_codes SET consumed_at = $1 WHERE code_hash = $2`,
		pgTime(at), hash)
}

func (t *tx) SetChatID(ctx context.Context, userID, chatID int64, at time.Time) error {
	confirmed := at
	if chatID == 0 {
		confirmed = time.Time{}
	}
	return t.execOne(ctx, "set chat id", `UPDATE users SET telegram_chat_id = $1, chat_confirmed_at = $2,
		updated_at = $3 WHERE id = $4`, nullInt(chatID), pgTime(confirmed), pgTime(at), userID)
}

func (t *tx) ConfirmChat(ctx context.Context, userID, chatID int64, at time.Time) error {
	return t.execOne(ctx, "confirm chat", `UPDATE users SET chat_confirmed_at = $1, updated_at = $1
		WHERE id = $2 AND telegram_chat_id = $3`, pgTime(at), userID, chatID)
}

func (t *tx) InsertCodeFailure(ctx context.Context, userID int64, at, keepSince time.Time) error {
	b := &pgx.Batch{}
	if !keepSince.IsZero() {
		b.Queue(`DELETE FROM code_failures WHERE user_id = $1 AND at < $2`, userID, pgTime(keepSince))
	}
	b.Queue(`INSERT INTO code_failures (user_id, at) VALUES ($1, $2)`, userID, pgTime(at))
	if err := t.tx.SendBatch(ctx, b).Close(); err != nil {
		return fmt.Errorf("insert code failure: %w", err)
	}
	return nil
}

func (t *tx) CodeFailures(ctx context.Context, userID int64, since time.Time) (int, time.Time, error) {
	var (
		n     int
		first time.Time
	)
	err := t.tx.QueryRow(ctx, `SELECT count(*), min(at) FROM code_failures
		WHERE user_id = $1 AND at >= $2`, userID, pgTime(since)).Scan(&n, nullTime{&first})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("code failures: %w", err)
	}
	return n, first, nil
}

func (r reader) SessionIPs(ctx context.Context, userID int64, since, now time.Time) ([]string, error) {
	rows, err := r.q.Query(ctx, `SELECT DISTINCT ip FROM sessions WHERE user_id = $1
		AND (created_at >= $2 OR (revoked_at IS NULL AND expires_at > $3))`,
		userID, pgTime(since), pgTime(now))
	if err != nil {
		return nil, fmt.Errorf("session ips: %w", err)
	}
	ips, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, fmt.Errorf("session ips: %w", err)
	}
	return ips, nil
}

// selected is the error of a one-row select of what: ErrNotFound for no
// row.
func selected(err error, what string) error {
	if errors.Is(err, pgx.ErrNoRows) {
		return account.ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("select %s: %w", what, err)
	}
	return nil
}
