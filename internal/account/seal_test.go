package account_test

import (
	"strings"
	"testing"
	"time"

	"tgauth/internal/account"
	"tgauth/internal/accounttest"
)

// With a Sealer the outbox holds reset codes only sealed: Open with the
// same key gives the code back, another key or another row's user gives
// nothing, and the scrubbed payload holds neither.
func TestResetCodeSealed(t *testing.T) {
	key := []byte(strings.Repeat("k", account.MinSealKeyLen))
	sealer, err := account.NewSealer(key)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := account.NewSealer(key[:account.MinSealKeyLen-1]); err == nil {
		t.Error("NewSealer took a short key")
	}
	a := accounttest.New(t, accounttest.Config{Options: account.Options{Sealer: sealer, ForgotPasswordFloor: time.Millisecond}})
	u, err := a.Service.Register(t.Context(), account.RegisterParams{Username: "bob", Password: "BigBob27!", ChatID: "55"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.Service.AnswerChatClaim(t.Context(), 55, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Service.ResetFromChat(t.Context(), 55, u.ID); err != nil {
		t.Fatal(err)
	}
	msgs, err := a.Store.ClaimOutbox(t.Context(), "test", a.Clock.Now(), time.Minute, 10)
	if err != nil || len(msgs) != 2 {
		t.Fatalf("ClaimOutbox = %d messages, %v; want the question and the code", len(msgs), err)
	}
	payload := msgs[1].Payload
	n, err := account.DecodeNotice(payload)
	if err != nil {
		t.Fatal(err)
	}
	if n.Code != "" || n.SealedCode == "" {
		t.Fatalf("payload %s: want only a sealed code", payload)
	}

	other, _ := account.NewSealer([]byte(strings.Repeat("x", account.MinSealKeyLen)))
	for _, tt := range []struct {
		name   string
		sealer *account.Sealer
		userID int64
	}{
		{"another key", other, n.UserID},
		{"no key", nil, n.UserID},
		{"another user's row", sealer, n.UserID + 1},
	} {
		m := n
		m.UserID = tt.userID
		if err := m.Open(tt.sealer); err == nil || m.Code != "" {
			t.Errorf("%s: Open = %v, code %q; want an error and no code", tt.name, err, m.Code)
		}
	}
	if err := n.Open(sealer); err != nil || len(n.Code) != account.ChatCodeDigits {
		t.Fatalf("Open = %v, code %q; want the %d-digit code", err, n.Code, account.ChatCodeDigits)
	}
	if strings.Contains(string(payload), n.Code) {
		t.Errorf("payload %s holds the code %s", payload, n.Code)
	}
	if s := string(n.Scrubbed()); strings.Contains(s, n.Code) || strings.Contains(s, "sealed_code") {
		t.Errorf("scrubbed payload %s still holds the code", s)
	}
}
