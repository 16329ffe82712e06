package bot

import (
	"context"
	"slices"
	"strings"
	"testing"

	"tgauth/internal/account"
	"tgauth/internal/telegramtest"
)

// deliver sends the outbox row q as the dispatcher would, rendered, and
// returns it as Telegram got it.
func (e *env) deliver(q queued) telegramtest.Sent {
	e.t.Helper()
	m, err := render(account.OutboxMessage{ChatID: q.ChatID, Kind: q.Kind}, q.Notice, e.signer)
	if err != nil {
		e.t.Fatal(err)
	}
	if _, err := e.client.Send(context.Background(), m); err != nil {
		e.t.Fatal(err)
	}
	return e.next(q.ChatID)
}

// pressButton presses the button of m whose text is text.
func (e *env) pressButton(m telegramtest.Sent, text string) string {
	e.t.Helper()
	for _, b := range buttons(e.t, m) {
		if b.Text == text {
			return e.press(m.ChatID, m.MessageID, b.Data).Text
		}
	}
	e.t.Fatalf("message %q has no button %q", m.Text, text)
	return ""
}

// A chat named at registration is only claimed: it is asked once, gets
// nothing else, and holds the account only after Yes.
func TestRegisteredChatMustConfirm(t *testing.T) {
	e := newEnv(t)
	e.run(testPollerOptions)
	ctx := context.Background()
	bob := e.registerPending("bob", 42)
	carol := e.registerPending("carol", 43)

	// Nothing but the question reaches the chats: no code, no sign-in.
	if err := e.svc.ForgotPassword(ctx, account.Name{Username: "bob"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Login(ctx, account.LoginParams{Name: account.Name{Username: "bob"}, Password: testPassword, IP: "192.0.2.7"}); err != nil {
		t.Fatal(err)
	}
	var kinds []account.NoticeKind
	for _, q := range e.outbox() {
		kinds = append(kinds, q.Kind)
	}
	if want := []account.NoticeKind{account.NoticeConfirmChat, account.NoticeConfirmChat}; !slices.Equal(kinds, want) {
		t.Fatalf("outbox kinds = %q, want only the two questions", kinds)
	}
	if m := e.say(42, "/whoami"); m.Text != replyNoAccount {
		t.Errorf("/whoami before answering = %q, want %q", m.Text, replyNoAccount)
	}
	if m := e.say(42, "/reset"); m.Text != replyNoAccount {
		t.Errorf("/reset before answering = %q, want %q", m.Text, replyNoAccount)
	}

	ask := e.deliver(e.outboxFor(42, account.NoticeConfirmChat)[0])
	if !strings.Contains(ask.Text, "“bob”") || len(buttons(t, ask)) != 2 {
		t.Fatalf("question = %q with %s, want bob named and Yes / No", ask.Text, ask.ReplyMarkup)
	}
	// Chat 43 cannot answer for chat 42: the buttons are signed per chat.
	if a := e.press(43, ask.MessageID, buttons(t, ask)[0].Data); a.Text != replyInvalidButton {
		t.Errorf("Yes pressed in another chat = %q, want %q", a.Text, replyInvalidButton)
	}
	if a := e.pressButton(ask, "Yes, link it"); a != "Linked." {
		t.Errorf("Yes = %q, want Linked.", a)
	}
	if m := e.say(42, "/whoami"); m.Text != "This chat is linked to bob." {
		t.Errorf("/whoami after Yes = %q", m.Text)
	}
	if err := e.svc.ForgotPassword(ctx, account.Name{Username: "bob"}); err != nil {
		t.Fatal(err)
	}
	if n := len(e.outboxFor(42, account.NoticeResetCode)); n != 1 {
		t.Errorf("reset codes to chat 42 after Yes = %d, want 1", n)
	}

	// No: the account is unlinked, and the chat hears no more of it.
	no := e.deliver(e.outboxFor(43, account.NoticeConfirmChat)[0])
	if a := e.pressButton(no, "No"); a != "Not linked." {
		t.Errorf("No = %q, want Not linked.", a)
	}
	if u, err := e.svc.Profile(ctx, account.Principal{UserID: carol.ID}); err != nil || u.ChatID != 0 {
		t.Errorf("carol after No: %+v, %v; want no chat", u, err)
	}
	if a := e.pressButton(no, "Yes, link it"); a != replyStaleButton {
		t.Errorf("Yes after No = %q, want %q", a, replyStaleButton)
	}
	if u, _ := e.svc.Profile(ctx, account.Principal{UserID: bob.ID}); !u.ChatConfirmed() {
		t.Errorf("bob's chat is not confirmed after Yes")
	}
}

// Moving a linked account to another chat takes its password (in the
// link request) and a fresh link: the old chat is told, every session
// but the asking one ends, and a link made before the move is dead.
func TestMoveToAnotherChat(t *testing.T) {
	e := newEnv(t)
	e.run(testPollerOptions)
	ctx := context.Background()
	alice := e.register("alice", 42)
	var (
		sessions []account.Principal
		access   []string
	)
	for range 2 {
		tok, err := e.svc.Login(ctx, account.LoginParams{Name: account.Name{Username: "alice"}, Password: testPassword, IP: "192.0.2.7"})
		if err != nil {
			t.Fatal(err)
		}
		pr, err := e.svc.Authenticate(ctx, tok.Access)
		if err != nil {
			t.Fatal(err)
		}
		sessions, access = append(sessions, pr), append(access, tok.Access)
	}

	// An access token without the password makes no link.
	if _, err := e.svc.CreateLink(ctx, sessions[0], "Wrong-Pass1!"); !strings.Contains(errString(err), "not the current password") {
		t.Fatalf("CreateLink with a wrong password = %v, want a wrong password", err)
	}
	stale, err := e.svc.CreateLink(ctx, sessions[1], testPassword)
	if err != nil {
		t.Fatal(err)
	}
	link, err := e.svc.CreateLink(ctx, sessions[0], testPassword)
	if err != nil {
		t.Fatal(err)
	}

	e.tg.InjectMessage(77, "/start "+startCode(t, link.URL))
	if m := e.say(77, "/whoami"); m.Text != "This chat is linked to alice." {
		t.Fatalf("/whoami in the new chat = %q", m.Text)
	}
	if m := e.say(42, "/whoami"); m.Text != replyNoAccount {
		t.Errorf("/whoami in the old chat = %q, want %q", m.Text, replyNoAccount)
	}
	moved := e.outboxFor(42, account.NoticeChatMoved)
	if len(moved) != 1 {
		t.Fatalf("chat_moved rows for the old chat = %+v, want one", moved)
	}
	if m := e.deliver(moved[0]); !strings.Contains(m.Text, "moved to another Telegram chat") {
		t.Errorf("the old chat was told %q", m.Text)
	}
	if _, err := e.svc.Authenticate(ctx, access[0]); err != nil {
		t.Errorf("the session that asked for the link: %v, want live", err)
	}
	if n := e.count(`SELECT count(*) FROM sessions WHERE user_id = ? AND revoked_at IS NULL`, alice.ID); n != 1 {
		t.Errorf("live sessions after the move = %d, want 1", n)
	}

	// The link made while the account was on chat 42 cannot move it on.
	if m := e.say(99, "/start "+startCode(t, stale.URL)); m.Text != replyBadLink {
		t.Errorf("a link from before the move = %q, want %q", m.Text, replyBadLink)
	}
	if got := e.chatNames(77); len(got) != 1 {
		t.Errorf("chat 77 holds %q after the stale link, want alice", got)
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func startCode(t *testing.T, url string) string {
	t.Helper()
	_, code, ok := strings.Cut(url, "?start=")
	if !ok {
		t.Fatalf("link %q has no start parameter", url)
	}
	return code
}
