package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"tgauth/internal/account"
)

func (r reader) UsersByChat(ctx context.Context, chatID int64) ([]account.User, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT `+userColumns+` FROM users
		WHERE telegram_chat_id = ? ORDER BY id`, chatID)
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

func (t *tx) LinkCode(ctx context.Context, hash string) (*account.LinkCode, error) {
	c := account.LinkCode{CodeHash: hash}
	var replaces sql.NullInt64
	err := t.tx.QueryRowContext(ctx, `SELECT user_id, replaces_chat_id, session_id, created_at,
		expires_at, consumed_at FROM link_codes WHERE code_hash = ?`, hash).Scan(
		&c.UserID, &replaces, &c.SessionID, nullTime{&c.CreatedAt}, nullTime{&c.ExpiresAt},
		nullTime{&c.ConsumedAt})
	if err := selected(err, "link code"); err != nil {
		return nil, err
	}
	c.ReplacesChatID = replaces.Int64
	return &c, nil
}

func (t *tx) ConsumeLinkCode(ctx context.Context, hash string, at time.Time) error {
	return t.execOne(ctx, "consume link code", `UPDATE link_codes SET consumed_at = ? WHERE code_hash = ?`,
		fmtTime(at), hash)
}

func (t *tx) SetChatID(ctx context.Context, userID, chatID int64, at time.Time) error {
	confirmed := at
	if chatID == 0 {
		confirmed = time.Time{}
	}
	return t.execOne(ctx, "set chat id", `UPDATE users SET telegram_chat_id = ?, chat_confirmed_at = ?,
		updated_at = ? WHERE id = ?`, nullInt(chatID), fmtTime(confirmed), fmtTime(at), userID)
}

func (t *tx) ConfirmChat(ctx context.Context, userID, chatID int64, at time.Time) error {
	return t.execOne(ctx, "confirm chat", `UPDATE users SET chat_confirmed_at = ?, updated_at = ?
		WHERE id = ? AND telegram_chat_id = ?`, fmtTime(at), fmtTime(at), userID, chatID)
}

func (t *tx) InsertCodeFailure(ctx context.Context, userID int64, at, keepSince time.Time) error {
	if !keepSince.IsZero() {
		if _, err := t.tx.ExecContext(ctx, `DELETE FROM code_failures WHERE user_id = ? AND at < ?`,
			userID, fmtTime(keepSince)); err != nil {
			return fmt.Errorf("insert code failure: %w", err)
		}
	}
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO code_failures (user_id, at) VALUES (?, ?)`,
		userID, fmtTime(at)); err != nil {
		return fmt.Errorf("insert code failure: %w", err)
	}
	return nil
}

func (t *tx) CodeFailures(ctx context.Context, userID int64, since time.Time) (int, time.Time, error) {
	var (
		n     int
		first time.Time
	)
	err := t.tx.QueryRowContext(ctx, `SELECT count(*), min(at) FROM code_failures
		WHERE user_id = ? AND at >= ?`, userID, fmtTime(since)).Scan(&n, nullTime{&first})
	if err != nil {
		return 0, time.Time{}, fmt.Errorf("code failures: %w", err)
	}
	return n, first, nil
}

func (r reader) SessionIPs(ctx context.Context, userID int64, since, now time.Time) ([]string, error) {
	rows, err := r.q.QueryContext(ctx, `SELECT DISTINCT ip FROM sessions WHERE user_id = ?
		AND (created_at >= ? OR (revoked_at IS NULL AND expires_at > ?))`,
		userID, fmtTime(since), fmtTime(now))
	if err != nil {
		return nil, fmt.Errorf("session ips: %w", err)
	}
	defer rows.Close()
	var ips []string
	for rows.Next() {
		var ip string
		if err := rows.Scan(&ip); err != nil {
			return nil, fmt.Errorf("session ips: %w", err)
		}
		ips = append(ips, ip)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("session ips: %w", err)
	}
	return ips, nil
}
