package bot

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"testing"
	"unicode"

	"github.com/google/go-cmp/cmp"

	"tgauth/internal/account"
)

func TestParseCommand(t *testing.T) {
	tests := []struct {
		in        string
		name, arg string
		ok        bool
	}{
		{"/start", "start", "", true},
		{"/start abc_DEF-123", "start", "abc_DEF-123", true},
		{"/start@tgauth_test_bot abc", "start", "abc", true},
		{"/start@tgauth_test_bot", "start", "", true},
		{"/Help", "help", "", true},
		{"/start   spaced  out ", "start", "spaced  out", true},
		{"/start\tcode", "start", "code", true},
		{"/start\ncode", "start", "code", true},
		{"/whoami", "whoami", "", true},
		{"/foo-bar baz", "", "", false},
		{"/ start", "", "", false},
		{"/", "", "", false},
		{"/@bot", "", "", false},
		{"", "", "", false},
		{"hello", "", "", false},
		{"hello /start", "", "", false},
		{" /start", "", "", false},
		{"/привет", "", "", false},
		{"/" + strings.Repeat("a", 33), "", "", false},
	}
	for _, tt := range tests {
		name, arg, ok := parseCommand(tt.in)
		if name != tt.name || arg != tt.arg || ok != tt.ok {
			t.Errorf("parseCommand(%q) = %q, %q, %v, want %q, %q, %v", tt.in, name, arg, ok, tt.name, tt.arg, tt.ok)
		}
	}
}

func FuzzParseCommand(f *testing.F) {
	for _, s := range []string{"/start", "/start abc", "/start@bot x y", "/help", "hi", "/", "/ x", "/a\u00a0b", "/x\x00", "/A", "/Start@Bot  Code "} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		name, arg, ok := parseCommand(text)
		if !ok {
			if name != "" || arg != "" {
				t.Fatalf("parseCommand(%q) = %q, %q, false: want empty results", text, name, arg)
			}
			return
		}
		if len(name) == 0 || len(name) > 32 || text[0] != '/' || strings.ToLower(text[1:1+len(name)]) != name {
			t.Fatalf("parseCommand(%q) name %q is not the text's command", text, name)
		}
		for _, c := range []byte(name) {
			if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '_' {
				t.Fatalf("parseCommand(%q) name %q has %q", text, name, c)
			}
		}
		if strings.TrimSpace(arg) != arg {
			t.Fatalf("parseCommand(%q) arg %q is not trimmed", text, arg)
		}
		if !strings.Contains(text, arg) {
			t.Fatalf("parseCommand(%q) arg %q is not in the text", text, arg)
		}
		// Round trip: the canonical form parses to the same.
		canon := "/" + name
		if arg != "" {
			canon += " " + arg
		}
		if n2, a2, ok2 := parseCommand(canon); n2 != name || a2 != arg || !ok2 {
			t.Fatalf("parseCommand(%q) = %q, %q, %v, want %q, %q, true", canon, n2, a2, ok2, name, arg)
		}
		// The argument is what follows the first space, trimmed.
		want := ""
		if j := strings.IndexFunc(text, unicode.IsSpace); j >= 0 {
			want = strings.TrimSpace(text[j:])
		}
		if arg != want {
			t.Fatalf("parseCommand(%q) arg = %q, want %q", text, arg, want)
		}
	})
}

func TestStartShowsChatID(t *testing.T) {
	e := newEnv(t)
	e.run(testPollerOptions)

	for _, cmd := range []string{"/start", "/start@" + "tgauth_test_bot", "/start   "} {
		m := e.say(42, cmd)
		if m.Text != replyStart(42) {
			t.Errorf("%s: reply = %q, want %q", cmd, m.Text, replyStart(42))
		}
		if !strings.Contains(m.Text, "This chat's id is 42.") || !strings.Contains(m.Text, "/help") {
			t.Errorf("%s: reply %q does not give the chat id and /help", cmd, m.Text)
		}
		if m.ParseMode != "" || m.ReplyMarkup != "" {
			t.Errorf("%s: parse mode %q, markup %q, want plain text", cmd, m.ParseMode, m.ReplyMarkup)
		}
	}
}

func TestStartWithCodeBinds(t *testing.T) {
	e := newEnv(t)
	e.run(testPollerOptions)
	u := e.registerUnlinked("carol@example.com")
	code := e.linkCode(u.ID)

	e.tg.InjectMessage(42, "/start "+code)
	// No reply of its own: the first message is the one to /whoami.
	if m := e.say(42, "/whoami"); m.Text != "This chat is linked to carol@example.com." {
		t.Errorf("after /start <code>, first message = %q, want the /whoami reply", m.Text)
	}
	if got := e.chatNames(42); !slices.Equal(got, []string{"carol@example.com"}) {
		t.Errorf("ChatAccounts(42) = %q, want [carol@example.com]", got)
	}
	linked := e.outboxFor(42, account.NoticeAccountLinked)
	if len(linked) != 1 || linked[0].Notice.UserID != u.ID {
		t.Errorf("account_linked rows for chat 42 = %+v, want one for user %d", linked, u.ID)
	}
	if strings.Contains(e.logs.String(), code) {
		t.Errorf("the log holds the link code:\n%s", e.logs)
	}
}

func TestStartWithBadCode(t *testing.T) {
	tests := []struct {
		name string
		code func(e *env) string
	}{
		{"unknown", func(*env) string { return "no-such-code" }},
		{"too long", func(*env) string { return strings.Repeat("x", 200) }},
		{"used", func(e *env) string {
			code := e.linkCode(e.registerUnlinked("dave@example.com").ID)
			if _, err := e.svc.BindChat(context.Background(), code, 7); err != nil {
				e.t.Fatal(err)
			}
			return code
		}},
		{"expired", func(e *env) string {
			code := e.linkCode(e.registerUnlinked("erin@example.com").ID)
			e.clock.Advance(account.LinkCodeTTL)
			return code
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t)
			e.run(testPollerOptions)
			code := tt.code(e)
			before := len(e.outbox())

			m := e.say(42, "/start "+code)
			if m.Text != replyBadLink {
				t.Errorf("reply = %q, want %q", m.Text, replyBadLink)
			}
			if got := e.chatNames(42); len(got) != 0 {
				t.Errorf("ChatAccounts(42) = %q, want none", got)
			}
			if n := len(e.outbox()); n != before {
				t.Errorf("outbox grew from %d to %d rows", before, n)
			}
		})
	}
}

func TestHelpAndUnknown(t *testing.T) {
	e := newEnv(t)
	e.run(testPollerOptions)
	for _, text := range []string{"/help", "/HELP@tgauth_test_bot", "/nope", "/foo-bar", "hello", "привет"} {
		if m := e.say(42, text); m.Text != replyHelp {
			t.Errorf("%q: reply = %q, want the help text", text, m.Text)
		}
	}
	for _, cmd := range []string{"/start", "/whoami", "/reset", "/unlink", "/help"} {
		if !strings.Contains(replyHelp, "\n"+cmd+" – ") {
			t.Errorf("help text lacks a line for %s", cmd)
		}
	}
}

func TestWhoami(t *testing.T) {
	e := newEnv(t)
	e.run(testPollerOptions)
	e.register("zed", 50) // another chat's account, never shown

	if m := e.say(42, "/whoami"); m.Text != replyNoAccount {
		t.Errorf("0 accounts: reply = %q, want %q", m.Text, replyNoAccount)
	}
	e.register("alice", 42)
	if m := e.say(42, "/whoami"); m.Text != "This chat is linked to alice." {
		t.Errorf("1 account: reply = %q", m.Text)
	}
	e.register("bob", 42)
	want := "This chat is linked to these accounts:\n• alice\n• bob"
	if m := e.say(42, "/whoami"); m.Text != want {
		t.Errorf("2 accounts: reply = %q, want %q", m.Text, want)
	}
}

func TestResetNoAccount(t *testing.T) {
	e := newEnv(t)
	e.run(testPollerOptions)
	e.register("zed", 50)
	before := len(e.outbox())

	m := e.say(42, "/reset")
	if m.Text != replyNoAccount || m.ReplyMarkup != "" {
		t.Errorf("reply = %q (markup %q), want %q", m.Text, m.ReplyMarkup, replyNoAccount)
	}
	if n := len(e.outbox()); n != before {
		t.Errorf("outbox grew from %d to %d rows", before, n)
	}
}

func TestResetOneAccount(t *testing.T) {
	e := newEnv(t)
	e.run(testPollerOptions)
	u := e.register("alice", 42)

	if m := e.say(42, "/reset"); m.Text != "A reset code for alice is on its way." {
		t.Errorf("reply = %q", m.Text)
	}
	codes := e.outboxFor(42, account.NoticeResetCode)
	if len(codes) != 1 || codes[0].Notice.UserID != u.ID || len(codes[0].Notice.Code) != account.ChatCodeDigits {
		t.Fatalf("reset_code rows for chat 42 = %+v, want one for user %d", codes, u.ID)
	}

	m := e.say(42, "/reset")
	if !strings.Contains(m.Text, "less than a minute ago") || !strings.Contains(m.Text, "alice") {
		t.Errorf("second /reset: reply = %q, want one about the code sent less than a minute ago", m.Text)
	}
	if n := len(e.outboxFor(42, account.NoticeResetCode)); n != 1 {
		t.Errorf("reset_code rows after a second /reset = %d, want 1", n)
	}
	if strings.Contains(e.logs.String(), codes[0].Notice.Code) {
		t.Errorf("the log holds the reset code")
	}
}

func TestResetSeveralAccounts(t *testing.T) {
	e := newEnv(t)
	e.run(testPollerOptions)
	alice := e.register("alice", 42)
	bob := e.register("bob", 42)
	zed := e.register("zed", 50)

	m := e.say(42, "/reset")
	if !strings.HasPrefix(m.Text, "Which account?") {
		t.Errorf("reply = %q, want a question", m.Text)
	}
	bs := buttons(t, m)
	if got, want := []string{bs[0].Text, bs[1].Text}, []string{"alice", "bob"}; len(bs) != 2 || !slices.Equal(got, want) {
		t.Fatalf("buttons = %+v, want alice and bob", bs)
	}
	if bs[1].Data != e.signer.Sign(42, ActionReset, strconv.FormatInt(bob.ID, 10)) {
		t.Errorf("bob's button data = %q, want it signed for chat 42", bs[1].Data)
	}
	if n := len(e.outboxFor(42, account.NoticeResetCode)); n != 0 {
		t.Fatalf("reset_code rows before a press = %d, want 0", n)
	}

	t.Run("forged", func(t *testing.T) {
		before, edits := len(e.outbox()), len(e.tg.Edits())
		forged := map[string]string{
			"other chat":   e.signer.Sign(43, ActionReset, strconv.FormatInt(bob.ID, 10)),
			"changed arg":  strings.Replace(bs[1].Data, ":"+strconv.FormatInt(bob.ID, 10)+":", ":"+strconv.FormatInt(zed.ID, 10)+":", 1),
			"other key":    NewSigner([]byte("another key")).Sign(42, ActionReset, strconv.FormatInt(bob.ID, 10)),
			"garbage":      "r:1",
			"other action": "u" + bs[1].Data[1:],
		}
		for name, data := range forged {
			if data == bs[1].Data {
				t.Fatalf("%s: data unchanged", name)
			}
			if a := e.press(42, m.MessageID, data); a.Text != replyInvalidButton {
				t.Errorf("%s: answer = %q, want %q", name, a.Text, replyInvalidButton)
			}
		}
		if n := len(e.outbox()); n != before {
			t.Errorf("outbox grew from %d to %d rows", before, n)
		}
		if n := len(e.tg.Edits()); n != edits {
			t.Errorf("%d edits after forged presses, want none", n-edits)
		}
		if got := e.chatNames(42); !slices.Equal(got, []string{"alice", "bob"}) {
			t.Errorf("ChatAccounts(42) = %q, want alice and bob", got)
		}
	})

	t.Run("another chat's account", func(t *testing.T) {
		// Signed for chat 42 but naming an account of chat 50: as if our
		// own key had signed a stale or odd button.
		before := len(e.outbox())
		a := e.press(42, m.MessageID, e.signer.Sign(42, ActionReset, strconv.FormatInt(zed.ID, 10)))
		if a.Text != replyStaleButton {
			t.Errorf("answer = %q, want %q", a.Text, replyStaleButton)
		}
		if n := len(e.outbox()); n != before {
			t.Errorf("outbox grew from %d to %d rows", before, n)
		}
	})

	t.Run("press", func(t *testing.T) {
		a := e.press(42, m.MessageID, bs[1].Data)
		if a.Text != "A reset code is on its way." {
			t.Errorf("answer = %q", a.Text)
		}
		codes := e.outboxFor(42, account.NoticeResetCode)
		if len(codes) != 1 || codes[0].Notice.UserID != bob.ID {
			t.Fatalf("reset_code rows = %+v, want one for bob (%d), none for alice (%d)", codes, bob.ID, alice.ID)
		}
		edits := e.tg.Edits()
		if len(edits) != 1 {
			t.Fatalf("edits = %+v, want 1", edits)
		}
		want := m.Text + "\n\nA reset code for bob is on its way."
		if ed := edits[0]; ed.ChatID != 42 || ed.MessageID != m.MessageID || ed.Text != want || ed.ReplyMarkup != "" {
			t.Errorf("edit = %+v, want text %q and no buttons", ed, want)
		}
	})

	t.Run("again within a minute", func(t *testing.T) {
		a := e.press(42, m.MessageID, bs[1].Data)
		if !strings.Contains(a.Text, "less than a minute ago") {
			t.Errorf("answer = %q", a.Text)
		}
		if n := len(e.outboxFor(42, account.NoticeResetCode)); n != 1 {
			t.Errorf("reset_code rows = %d, want 1", n)
		}
		if n := len(e.tg.Edits()); n != 1 {
			t.Errorf("edits = %d, want still 1", n)
		}
	})
}

func TestUnlink(t *testing.T) {
	e := newEnv(t)
	e.run(testPollerOptions)

	if m := e.say(42, "/unlink"); m.Text != replyNoAccount || m.ReplyMarkup != "" {
		t.Errorf("0 accounts: reply = %q (markup %q), want %q", m.Text, m.ReplyMarkup, replyNoAccount)
	}
	alice := e.register("alice", 42)

	t.Run("cancel", func(t *testing.T) {
		m := e.say(42, "/unlink")
		if !strings.Contains(m.Text, "alice") {
			t.Errorf("confirmation = %q, want it to name alice", m.Text)
		}
		bs := buttons(t, m)
		if diff := cmp.Diff([]string{"Unlink alice", "Cancel"}, []string{bs[0].Text, bs[1].Text}); len(bs) != 2 || diff != "" {
			t.Fatalf("buttons = %+v, want Unlink alice and Cancel", bs)
		}
		edits := len(e.tg.Edits())
		if a := e.press(42, m.MessageID, bs[1].Data); a.Text != replyCancelled {
			t.Errorf("answer = %q, want %q", a.Text, replyCancelled)
		}
		got := e.tg.Edits()[edits:]
		if len(got) != 1 || got[0].Text != replyCancelled || got[0].ReplyMarkup != "" || got[0].MessageID != m.MessageID {
			t.Errorf("edits = %+v, want the message turned into %q", got, replyCancelled)
		}
		if names := e.chatNames(42); !slices.Equal(names, []string{"alice"}) {
			t.Errorf("ChatAccounts(42) = %q, want alice still linked", names)
		}
	})

	t.Run("confirm", func(t *testing.T) {
		m := e.say(42, "/unlink")
		bs := buttons(t, m)
		edits := len(e.tg.Edits())
		if a := e.press(42, m.MessageID, bs[0].Data); a.Text != "Unlinked." {
			t.Errorf("answer = %q", a.Text)
		}
		if names := e.chatNames(42); len(names) != 0 {
			t.Errorf("ChatAccounts(42) = %q, want none", names)
		}
		got := e.tg.Edits()[edits:]
		if len(got) != 1 || !strings.HasSuffix(got[0].Text, "alice is no longer linked to this chat.") || got[0].ReplyMarkup != "" {
			t.Errorf("edits = %+v, want the outcome and no buttons", got)
		}

		// The same button again, and a reset button for the account: stale.
		before, edits := len(e.outbox()), len(e.tg.Edits())
		for _, data := range []string{bs[0].Data, e.signer.Sign(42, ActionReset, strconv.FormatInt(alice.ID, 10))} {
			if a := e.press(42, m.MessageID, data); a.Text != replyStaleButton {
				t.Errorf("stale %q: answer = %q, want %q", data, a.Text, replyStaleButton)
			}
		}
		if n := len(e.outbox()); n != before {
			t.Errorf("outbox grew from %d to %d rows", before, n)
		}
		if n := len(e.tg.Edits()); n != edits {
			t.Errorf("%d edits after stale presses, want none", n-edits)
		}
		if m := e.say(42, "/unlink"); m.Text != replyNoAccount {
			t.Errorf("after unlinking: /unlink = %q, want %q", m.Text, replyNoAccount)
		}
	})
}

func TestUnlinkSeveralAccounts(t *testing.T) {
	e := newEnv(t)
	e.run(testPollerOptions)
	e.register("alice", 42)
	e.register("bob", 42)

	m := e.say(42, "/unlink")
	bs := buttons(t, m)
	var texts []string
	for _, b := range bs {
		texts = append(texts, b.Text)
	}
	if diff := cmp.Diff([]string{"Unlink alice", "Unlink bob", "Cancel"}, texts); diff != "" {
		t.Fatalf("buttons (-want +got):\n%s", diff)
	}
	e.press(42, m.MessageID, bs[1].Data)
	if names := e.chatNames(42); !slices.Equal(names, []string{"alice"}) {
		t.Errorf("ChatAccounts(42) = %q, want only alice", names)
	}
}

func TestNotMe(t *testing.T) {
	e := newEnv(t)
	e.run(testPollerOptions)
	alice := e.register("alice", 42)
	e.register("bob", 43)
	ctx := context.Background()
	for range 2 {
		if _, err := e.svc.Login(ctx, account.LoginParams{Name: account.Name{Username: "alice"}, Password: testPassword, IP: "192.0.2.7"}); err != nil {
			t.Fatal(err)
		}
	}
	signIns := e.outboxFor(42, account.NoticeNewSignIn)
	if len(signIns) != 2 {
		t.Fatalf("new_sign_in rows = %+v, want 2", signIns)
	}
	sid := signIns[1].Notice.SessionID
	live := func() int {
		return e.count(`SELECT count(*) FROM sessions WHERE user_id = ? AND revoked_at IS NULL`, alice.ID)
	}
	if n := live(); n != 2 {
		t.Fatalf("live sessions = %d, want 2", n)
	}

	// The notice as the dispatcher sends it, with its button.
	notice := "New sign-in to alice from 192.0.2.7."
	msgID, err := e.client.Send(ctx, Message{ChatID: 42, Text: notice, Buttons: [][]Button{{
		{Text: "Not me: sign out everywhere", Data: e.signer.Sign(42, ActionNotMe, sid)},
	}}})
	if err != nil {
		t.Fatal(err)
	}
	e.next(42) // the notice itself

	t.Run("refused", func(t *testing.T) {
		before := len(e.outbox())
		cases := []struct{ name, data, want string }{
			{"other chat", e.signer.Sign(43, ActionNotMe, sid), replyInvalidButton},
			{"changed session", strings.Replace(e.signer.Sign(42, ActionNotMe, sid), sid, strings.Repeat("A", len(sid)), 1), replyInvalidButton},
			{"unknown session", e.signer.Sign(42, ActionNotMe, strings.Repeat("A", len(sid))), replyStaleButton},
		}
		for _, c := range cases {
			if a := e.press(42, msgID, c.data); a.Text != c.want {
				t.Errorf("%s: answer = %q, want %q", c.name, a.Text, c.want)
			}
		}
		// Chat 43's own signature on alice's session: not its account.
		bobsMsg, err := e.client.Send(ctx, Message{ChatID: 43, Text: "x"})
		if err != nil {
			t.Fatal(err)
		}
		if a := e.press(43, bobsMsg, e.signer.Sign(43, ActionNotMe, sid)); a.Text != replyStaleButton {
			t.Errorf("another chat's account: answer = %q, want %q", a.Text, replyStaleButton)
		}
		if n := live(); n != 2 {
			t.Errorf("live sessions = %d, want 2", n)
		}
		if n := len(e.outbox()); n != before {
			t.Errorf("outbox grew from %d to %d rows", before, n)
		}
		if n := len(e.tg.Edits()); n != 0 {
			t.Errorf("edits = %d, want 0", n)
		}
	})

	t.Run("press", func(t *testing.T) {
		a := e.press(42, msgID, e.signer.Sign(42, ActionNotMe, sid))
		if a.Text != "Signed out everywhere." {
			t.Errorf("answer = %q", a.Text)
		}
		if n := live(); n != 0 {
			t.Errorf("live sessions = %d, want 0", n)
		}
		if rows := e.outboxFor(42, account.NoticeSignedOut); len(rows) != 1 || rows[0].Notice.UserID != alice.ID {
			t.Errorf("signed_out rows = %+v, want one for alice", rows)
		}
		edits := e.tg.Edits()
		want := notice + "\n\nSigned out everywhere: every session of alice has ended."
		if len(edits) != 1 || edits[0].Text != want || edits[0].ReplyMarkup != "" || edits[0].MessageID != msgID {
			t.Errorf("edits = %+v, want the notice with %q and no button", edits, want)
		}
	})

	t.Run("after unlink", func(t *testing.T) {
		if _, err := e.svc.Login(ctx, account.LoginParams{Name: account.Name{Username: "alice"}, Password: testPassword}); err != nil {
			t.Fatal(err)
		}
		sid := e.outboxFor(42, account.NoticeNewSignIn)[2].Notice.SessionID
		if _, err := e.svc.UnlinkChat(ctx, 42, alice.ID); err != nil {
			t.Fatal(err)
		}
		edits := len(e.tg.Edits())
		if a := e.press(42, msgID, e.signer.Sign(42, ActionNotMe, sid)); a.Text != replyStaleButton {
			t.Errorf("answer = %q, want %q", a.Text, replyStaleButton)
		}
		if n := live(); n != 1 {
			t.Errorf("live sessions = %d, want 1", n)
		}
		if n := len(e.tg.Edits()); n != edits {
			t.Errorf("%d edits, want none", n-edits)
		}
	})
}

func TestCallbackAnsweredOnce(t *testing.T) {
	e := newEnv(t)
	e.run(testPollerOptions)
	e.register("alice", 42)
	m := e.say(42, "/unlink")
	bs := buttons(t, m)
	e.press(42, m.MessageID, bs[1].Data)                             // cancel
	e.press(42, m.MessageID, "nonsense")                             // invalid
	e.press(42, 777, e.signer.Sign(42, ActionCancel, "0"))           // a message the fake does not know: the edit fails
	e.press(42, m.MessageID, e.signer.Sign(42, ActionUnlink, "abc")) // signed but malformed
	answers := e.tg.Answers()
	seen := map[string]int{}
	for _, a := range answers {
		seen[a.CallbackQueryID]++
	}
	if len(seen) != 4 {
		t.Errorf("answered %d queries, want 4: %+v", len(seen), answers)
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("query %s answered %d times", id, n)
		}
	}
	if got := e.tg.Calls("answerCallbackQuery"); got != 4 {
		t.Errorf("answerCallbackQuery calls = %d, want 4", got)
	}
}
