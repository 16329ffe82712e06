package sqlite

import (
	"context"
	"database/sql"
	"errors"
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
	err := t.tx.QueryRowContext(ctx, `SELECT user_id, created_at, expires_at, consumed_at
		FROM link_codes WHERE code_hash = ?`, hash).Scan(
		&c.UserID, nullTime{&c.CreatedAt}, nullTime{&c.ExpiresAt}, nullTime{&c.ConsumedAt})
	if errors.Is(err, sql.ErrNoRows) {
		return nil, account.ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("select link code: %w", err)
	}
	return &c, nil
}

func (t *tx) ConsumeLinkCode(ctx context.Context, hash string, at time.Time) error {
	return t.execOne(ctx, "consume link code", `UPDATE link_codes SET consumed_at = ? WHERE code_hash = ?`,
		fmtTime(at), hash)
}

func (t *tx) SetChatID(ctx context.Context, userID, chatID int64, at time.Time) error {
	return t.execOne(ctx, "set chat id", `UPDATE users SET telegram_chat_id = ?, updated_at = ? WHERE id = ?`,
		nullInt(chatID), fmtTime(at), userID)
}
