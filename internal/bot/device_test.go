package bot

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode/utf16"

	"tgauth/internal/account"
	"tgauth/internal/telegramtest"
)

func TestDevice(t *testing.T) {
	tests := []struct{ ua, want string }{
		{"Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Linux"},
		{"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36 Edg/131.0.0.0", "Edge on Windows"},
		{"Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Mobile Safari/537.36", "Chrome on Android"},
		{"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1", "Safari on iOS"},
		{"Mozilla/5.0 (Macintosh; Intel Mac OS X 14_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Safari/605.1.15", "Safari on macOS"},
		{"curl/8.5.0", "curl"},
		{"python-requests/2.32.3", "Python requests"},
		{"tgauth-e2e/1.0", "an unknown device"},
		{"", "an unknown device"},
		{"Visit https://evil.example/login now", "an unknown device"},
		{"Linux\nYour account is blocked: www.evil.example", "a device with Linux"},
	}
	for _, tt := range tests {
		if got := device(tt.ua); got != tt.want {
			t.Errorf("device(%q) = %q, want %q", tt.ua, got, tt.want)
		}
	}
}

// A crafted User-Agent and a domain-like account name reach the chat as
// nothing anyone can tap: the agent only as the device it names, the name
// as code.
func TestNoticeTextIsInert(t *testing.T) {
	e := newDispatchEnv(t, DispatcherOptions{})
	e.run()
	phish := "Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0\n\nYour account is blocked. Log in at https://evil.example/login or www.evil.example @evil_bot"
	e.queue(5, account.NoticeNewSignIn, account.Notice{
		Account: "login-verify.example", SessionID: "sess-123", IP: "203.0.113.9\nhttps://evil.example", UserAgent: phish,
	})
	e.queue(6, account.NoticeConfirmChat, account.Notice{UserID: 7, Account: "secure.evil.example"})
	for _, chat := range []int64{5, 6} {
		m := e.waitFor(chat)
		for _, bad := range []string{"evil.example/login", "www.", "://", "@evil_bot", "blocked"} {
			if strings.Contains(m.Text, bad) {
				t.Errorf("chat %d got %q, which holds %q", chat, m.Text, bad)
			}
		}
		links, err := telegramtest.Tappable(m.Text, m.Entities)
		if err != nil {
			t.Fatal(err)
		}
		if len(links) != 0 {
			t.Errorf("chat %d: %q shows %q as links (entities %s)", chat, m.Text, links, m.Entities)
		}
	}
}

// A reset code reaches the chat in monospace, which an app copies with a
// tap, and a name holding the same digits does not make the two marks
// overlap (Telegram refuses overlapping entities).
func TestResetCodeIsMonospace(t *testing.T) {
	e := newDispatchEnv(t, DispatcherOptions{})
	e.run()
	e.queue(5, account.NoticeResetCode, account.Notice{Account: "bob123456", Code: "123456", ExpiresAt: time.Now().Add(time.Hour)})
	m := e.waitFor(5)
	var ents []struct {
		Type           string
		Offset, Length int
	}
	if err := json.Unmarshal([]byte(m.Entities), &ents); err != nil {
		t.Fatalf("entities %q: %v", m.Entities, err)
	}
	var marked []string
	end := 0
	for _, en := range ents {
		if en.Offset < end {
			t.Errorf("entities %s overlap", m.Entities)
		}
		end = en.Offset + en.Length
		marked = append(marked, string(utf16.Decode(utf16.Encode([]rune(m.Text))[en.Offset:end])))
	}
	if want := []string{"bob123456", "123456"}; !slices.Equal(marked, want) {
		t.Errorf("%q marks %q as code, want %q", m.Text, marked, want)
	}
}
