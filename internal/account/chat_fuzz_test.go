package account_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"tgauth/internal/account"
	"tgauth/internal/accounttest"
	"tgauth/internal/clocktest"
)

// newService returns a Service over a real, migrated SQLite file, with
// cheap password hashing and a bot to link to.
func newService(tb testing.TB) (*account.Service, *clocktest.Clock) {
	a := accounttest.New(tb, accounttest.Config{Options: account.Options{BotUsername: "tgauth_bot"}})
	return a.Service, a.Clock
}

// The ways FuzzBindChatCode makes its candidate code from the fuzzed one.
const (
	candidateAsIs     = iota // the fuzzed code alone
	candidateAppended        // the live code, then the fuzzed one
	candidateMutated         // the live code with one byte replaced
	candidateReal            // the live code itself
	candidateExpired         // the live code, at its expiry
	candidateKinds
)

// FuzzBindChatCode offers BindChat random codes against an account with a
// live deep-link code: only that exact code, before it expires, binds a
// chat, and only once; anything else is ErrInvalidCode and leaves the
// account unlinked.
func FuzzBindChatCode(f *testing.F) {
	f.Add("", int64(7), uint8(candidateReal))
	f.Add("", int64(0), uint8(candidateReal))
	f.Add("x", int64(7), uint8(candidateAppended))
	f.Add("A", int64(7), uint8(candidateMutated))
	f.Add("", int64(7), uint8(candidateExpired))
	f.Add(strings.Repeat("A", 43), int64(7), uint8(candidateAsIs))
	f.Add("abc\x00", int64(-5), uint8(candidateAsIs))

	ctx := context.Background()
	svc, clk := newService(f)
	start := clk.Now()
	u, err := svc.CreateUser(ctx, account.CreateUserParams{Email: "bob@example.com", Password: "BigBob27!"})
	if err != nil {
		f.Fatal(err)
	}
	pr := account.Principal{UserID: u.ID}
	newCode := func(t testing.TB) (string, time.Time) {
		clk.Set(start)
		l, err := svc.CreateLink(ctx, pr, "BigBob27!")
		if err != nil {
			t.Fatal(err)
		}
		_, code, ok := strings.Cut(l.URL, "?start=")
		if !ok || code == "" {
			t.Fatalf("CreateLink URL = %q, want ?start=<code>", l.URL)
		}
		return code, l.ExpiresAt
	}
	live, expires := newCode(f)

	f.Fuzz(func(t *testing.T, code string, chatID int64, kind uint8) {
		clk.Set(start)
		candidate := code
		switch kind % candidateKinds {
		case candidateAppended:
			candidate = live + code
		case candidateMutated:
			b := []byte(live)
			var c byte = 'A'
			if code != "" {
				c = code[0]
			}
			b[len(code)%len(b)] = c
			candidate = string(b)
		case candidateReal:
			candidate = live
		case candidateExpired:
			candidate = live
			clk.Set(expires)
		}
		wantBind := candidate == live && chatID > 0 && kind%candidateKinds != candidateExpired

		got, err := svc.BindChat(ctx, candidate, chatID)
		clk.Set(start)
		me, perr := svc.Profile(ctx, pr)
		if perr != nil {
			t.Fatal(perr)
		}
		if !wantBind {
			if !errors.Is(err, account.ErrInvalidCode) || got != nil {
				t.Fatalf("BindChat(%q, %d) = %+v, %v; want ErrInvalidCode", candidate, chatID, got, err)
			}
			if me.ChatID != 0 {
				t.Fatalf("BindChat(%q, %d) failed but linked chat %d", candidate, chatID, me.ChatID)
			}
			return
		}
		if err != nil || got == nil || got.ID != u.ID || got.ChatID != chatID || me.ChatID != chatID {
			t.Fatalf("BindChat(live code, %d) = %+v, %v (account's chat %d); want the account linked", chatID, got, err, me.ChatID)
		}
		// Single use.
		if again, err := svc.BindChat(ctx, live, chatID); !errors.Is(err, account.ErrInvalidCode) || again != nil {
			t.Fatalf("BindChat(spent code) = %+v, %v; want ErrInvalidCode", again, err)
		}
		if _, err := svc.UnlinkChat(ctx, chatID, u.ID); err != nil {
			t.Fatal(err)
		}
		live, expires = newCode(t)
	})
}
