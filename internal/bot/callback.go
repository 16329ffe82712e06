package bot

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"strconv"
	"strings"
)

// Button presses come back as callback data that anyone could forge, so
// each carries a MAC over the chat it was sent to, the action and its
// argument: "<action>:<arg>:<mac>", where mac is 16 bytes of HMAC-SHA256
// in unpadded base64url (22 characters). With a session id (24
// characters) as the argument that is 49 bytes, within Telegram's 64.

// Callback actions.
const (
	ActionNotMe    = "n" // arg: session id; sign out everywhere
	ActionReset    = "r" // arg: user id; send a reset code
	ActionUnlink   = "u" // arg: user id; unlink the account from the chat
	ActionCancel   = "c" // arg: "0"; do nothing
	ActionClaimYes = "y" // arg: user id; the chat a registration named takes the account
	ActionClaimNo  = "x" // arg: user id; it does not
)

const macLen = 16

// Signer makes and checks callback data.
type Signer struct {
	key []byte
}

// NewSigner returns a Signer keyed with key (kept in the database so that
// buttons outlive restarts and work across replicas).
func NewSigner(key []byte) *Signer {
	return &Signer{key: key}
}

func (s *Signer) mac(chatID int64, action, arg string) string {
	m := hmac.New(sha256.New, s.key)
	m.Write([]byte(strconv.FormatInt(chatID, 10) + "\x00" + action + "\x00" + arg))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:macLen])
}

// Sign returns the callback data for action on arg, valid only when
// pressed in chatID.
func (s *Signer) Sign(chatID int64, action, arg string) string {
	return action + ":" + arg + ":" + s.mac(chatID, action, arg)
}

// Verify parses data pressed in chatID and reports whether its MAC holds.
func (s *Signer) Verify(chatID int64, data string) (action, arg string, ok bool) {
	action, rest, ok1 := strings.Cut(data, ":")
	arg, mac, ok2 := strings.Cut(rest, ":")
	if !ok1 || !ok2 || len(data) > 64 {
		return "", "", false
	}
	want := s.mac(chatID, action, arg)
	if !hmac.Equal([]byte(mac), []byte(want)) {
		return "", "", false
	}
	return action, arg, true
}
