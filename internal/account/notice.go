package account

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// NoticeKind names what an outbox message tells the user.
type NoticeKind string

// The notices tgauth sends to a linked chat.
const (
	NoticeAccountLinked   NoticeKind = "account_linked"
	NoticePasswordChanged NoticeKind = "password_changed"
	NoticeAccountLocked   NoticeKind = "account_locked"
	NoticeNewSignIn       NoticeKind = "new_sign_in"
	NoticeSignedOut       NoticeKind = "signed_out"
	NoticeRefreshReused   NoticeKind = "refresh_reused"
	NoticeResetCode       NoticeKind = "reset_code"
	NoticePasswordReset   NoticeKind = "password_reset"
	// NoticeConfirmChat asks a chat given at registration whether it
	// wants the account: the one message sent to a chat not yet confirmed.
	NoticeConfirmChat NoticeKind = "confirm_chat"
	// NoticeChatMoved tells the chat an account left it for another.
	NoticeChatMoved NoticeKind = "chat_moved"
	// NoticeResetPaused: too many wrong reset codes; codes asked for
	// through the API are paused until LockedUntil.
	NoticeResetPaused NoticeKind = "reset_paused"
)

// OutboxMessage is one message waiting for the bot to deliver it.
type OutboxMessage struct {
	ID            int64
	ChatID        int64
	Kind          NoticeKind
	Payload       []byte // a Notice as JSON
	CreatedAt     time.Time
	NextAttemptAt time.Time
	Attempts      int // failed sends so far
}

// Outbox is the deliverer's side of the outbox, which every store offers:
// leased claims, and settling a claim it still holds. The API only
// writes to the outbox (Tx.InsertOutbox); the bot drains it through this.
type Outbox interface {
	ClaimOutbox(ctx context.Context, claimant string, now time.Time, lease time.Duration, limit int) ([]OutboxMessage, error)
	MarkSent(ctx context.Context, id int64, claimant string, messageID int, payload []byte, at time.Time) error
	Reschedule(ctx context.Context, id int64, claimant string, next time.Time, failed bool, reason string) error
	MarkDead(ctx context.Context, id int64, claimant, reason string, payload []byte, at time.Time) error
	// NextDue returns when the earliest unsettled message can next be
	// claimed (its next attempt, or its lease's end); ok is false when
	// there is none.
	NextDue(ctx context.Context) (at time.Time, ok bool, err error)
}

// Notice is what an outbox message says; the bot renders it as text. It
// names the account and never carries a password or a token. Code is the
// one secret it may carry: a reset code, for the chat that asked for it.
// In the database the code is sealed (SealedCode) when the Service has a
// Sealer; Open turns it back into Code for the bot.
type Notice struct {
	UserID      int64     `json:"user_id"`
	Account     string    `json:"account"`
	At          time.Time `json:"at"`
	LockedUntil time.Time `json:"locked_until,omitzero"` // of a lock or a pause
	SessionID   string    `json:"session_id,omitempty"`
	IP          string    `json:"ip,omitempty"`
	UserAgent   string    `json:"user_agent,omitempty"`
	Code        string    `json:"code,omitempty"`
	SealedCode  string    `json:"sealed_code,omitempty"`
	ExpiresAt   time.Time `json:"expires_at,omitzero"`
}

// queueNotice writes a notice for u's chat into the outbox within tx. A user
// without a linked chat gets nothing, and a chat that has not confirmed
// the account gets nothing but the question whether it does.
func queueNotice(ctx context.Context, tx Tx, u *User, kind NoticeKind, n Notice) error {
	if u.ChatID == 0 || !u.ChatConfirmed() && kind != NoticeConfirmChat {
		return nil
	}
	n.UserID, n.Account = u.ID, u.Name()
	payload, err := json.Marshal(n)
	if err != nil {
		return fmt.Errorf("encode %s notice: %w", kind, err)
	}
	return tx.InsertOutbox(ctx, &OutboxMessage{
		ChatID:        u.ChatID,
		Kind:          kind,
		Payload:       payload,
		CreatedAt:     n.At,
		NextAttemptAt: n.At,
	})
}

// DecodeNotice reads the Notice an outbox payload holds.
func DecodeNotice(payload []byte) (Notice, error) {
	var n Notice
	if err := json.Unmarshal(payload, &n); err != nil {
		return Notice{}, fmt.Errorf("decode notice: %w", err)
	}
	return n, nil
}

// Open turns a sealed code back into Code with s. A notice without one
// needs no Sealer.
func (n *Notice) Open(s *Sealer) error {
	if n.SealedCode == "" {
		return nil
	}
	if s == nil {
		return errors.New("the notice holds a sealed code and the bot has no seal key: give it the API's outbox.seal_key")
	}
	code, err := s.open(n.UserID, n.SealedCode)
	if err != nil {
		return err
	}
	n.Code, n.SealedCode = code, ""
	return nil
}

// Expired reports whether n carries a code that expired by now: sending
// it late would only confuse.
func (n *Notice) Expired(now time.Time) bool {
	return !n.ExpiresAt.IsZero() && !now.Before(n.ExpiresAt)
}

// Scrubbed returns n as a payload without its code, sealed or not: once a
// message is settled its code has no business staying in the database.
func (n Notice) Scrubbed() []byte {
	n.Code, n.SealedCode = "", ""
	b, err := json.Marshal(n)
	if err != nil {
		panic(err) // a Notice of strings and times always encodes
	}
	return b
}
