package bot

import (
	"strings"
	"testing"
)

func TestSigner(t *testing.T) {
	s := NewSigner([]byte("k"))
	data := s.Sign(42, ActionNotMe, strings.Repeat("s", 24))
	if len(data) > 64 {
		t.Fatalf("len(%q) = %d, over Telegram's 64", data, len(data))
	}
	if a, arg, ok := s.Verify(42, data); !ok || a != ActionNotMe || arg != strings.Repeat("s", 24) {
		t.Fatalf("Verify(own data) = %q, %q, %v", a, arg, ok)
	}
	forged := []struct{ name, data string }{
		{"other chat", s.Sign(43, ActionNotMe, "x")},
		{"other key", NewSigner([]byte("j")).Sign(42, ActionNotMe, "x")},
		{"changed arg", strings.Replace(s.Sign(42, ActionReset, "1"), ":1:", ":2:", 1)},
		{"changed action", "u" + s.Sign(42, ActionReset, "1")[1:]},
		{"no mac", "r:1"},
		{"empty", ""},
		{"too long", s.Sign(42, ActionReset, strings.Repeat("1", 60))},
	}
	for _, f := range forged {
		if _, _, ok := s.Verify(42, f.data); ok {
			t.Errorf("%s: Verify(%q) = ok", f.name, f.data)
		}
	}
}

func FuzzVerify(f *testing.F) {
	s := NewSigner([]byte("k"))
	f.Add(int64(42), s.Sign(42, ActionNotMe, "abc"))
	f.Add(int64(1), "r:1:")
	f.Fuzz(func(t *testing.T, chatID int64, data string) {
		action, arg, ok := s.Verify(chatID, data)
		if ok && s.Sign(chatID, action, arg) != data {
			t.Errorf("Verify accepted %q, which Sign does not produce", data)
		}
	})
}
