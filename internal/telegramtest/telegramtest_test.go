package telegramtest_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"tgauth/internal/clocktest"
	"tgauth/internal/telegramtest"
)

const token = "123456:TEST-token_abc"

// newBot connects the library to srv over its listener.
func newBot(t *testing.T, srv *telegramtest.Server) *tgbotapi.BotAPI {
	t.Helper()
	bot, err := tgbotapi.NewBotAPIWithClient(token, srv.URL+"/bot%s/%s", &http.Client{Timeout: 10 * time.Second})
	if err != nil {
		t.Fatalf("NewBotAPIWithClient: %v", err)
	}
	return bot
}

// newInProcessBot connects the library to srv without a socket, for synctest.
func newInProcessBot(t *testing.T, srv *telegramtest.Server, timeout time.Duration) *tgbotapi.BotAPI {
	t.Helper()
	c := srv.Client()
	c.Timeout = timeout
	bot, err := tgbotapi.NewBotAPIWithClient(token, srv.URL+"/bot%s/%s", c)
	if err != nil {
		t.Fatalf("NewBotAPIWithClient: %v", err)
	}
	return bot
}

// apiError returns err as the library's *tgbotapi.Error or fails the test.
func apiError(t *testing.T, err error) *tgbotapi.Error {
	t.Helper()
	e, ok := errors.AsType[*tgbotapi.Error](err)
	if !ok {
		t.Fatalf("error = %v (%T), want *tgbotapi.Error", err, err)
	}
	return e
}

func wantAPIError(t *testing.T, err error, code int, message string) {
	t.Helper()
	e := apiError(t, err)
	if e.Code != code || e.Message != message {
		t.Errorf("error = %d %q, want %d %q", e.Code, e.Message, code, message)
	}
}

// recordingTB observes Errorf without failing the real test.
type recordingTB struct {
	testing.TB
	mu   sync.Mutex
	errs []string
}

func (r *recordingTB) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errs = append(r.errs, fmt.Sprintf(format, args...))
}

func (r *recordingTB) errors() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.errs...)
}

func TestGetMe(t *testing.T) {
	tests := []struct {
		name string
		opts []telegramtest.Option
		want string
	}{
		{"default", nil, telegramtest.DefaultUsername},
		{"WithUsername", []telegramtest.Option{telegramtest.WithUsername("other_bot")}, "other_bot"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := telegramtest.New(t, token, tt.opts...)
			bot := newBot(t, srv)
			if bot.Self.UserName != tt.want || !bot.Self.IsBot || bot.Self.ID != 123456 {
				t.Errorf("Self = %+v, want bot 123456 @%s", bot.Self, tt.want)
			}
			if got := srv.Calls("getMe"); got != 1 {
				t.Errorf("Calls(getMe) = %d, want 1", got)
			}
		})
	}
}

func TestWrongToken(t *testing.T) {
	rec := &recordingTB{TB: t}
	srv := telegramtest.New(rec, token)
	_, err := tgbotapi.NewBotAPIWithAPIEndpoint("654321:wrong", srv.URL+"/bot%s/%s")
	wantAPIError(t, err, 401, "Unauthorized")
	if errs := rec.errors(); len(errs) != 0 {
		t.Errorf("Errorf calls = %q, want none", errs)
	}
}

func TestUnknownMethodFailsTest(t *testing.T) {
	rec := &recordingTB{TB: t}
	srv := telegramtest.New(rec, token)
	bot := newBot(t, srv)

	_, err := bot.Request(tgbotapi.NewChatAction(42, tgbotapi.ChatTyping))
	wantAPIError(t, err, 404, "Not Found")
	errs := rec.errors()
	if len(errs) != 1 || !strings.Contains(errs[0], `"sendChatAction"`) {
		t.Errorf("Errorf calls = %q, want one naming sendChatAction", errs)
	}
	if got := srv.Calls("sendChatAction"); got != 1 {
		t.Errorf("Calls(sendChatAction) = %d, want 1", got)
	}
	for _, e := range errs {
		if strings.Contains(e, token) {
			t.Errorf("Errorf text %q contains the token", e)
		}
	}
}

func TestSendRecordedAndWaited(t *testing.T) {
	clk := clocktest.New()
	srv := telegramtest.New(t, token, telegramtest.WithClock(clk.Now))
	bot := newBot(t, srv)

	kb := tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(
		tgbotapi.NewInlineKeyboardButtonData("Yes", "confirm:1")))
	msg := tgbotapi.NewMessage(42, "Your code is <b>123456</b>")
	msg.ParseMode = tgbotapi.ModeHTML
	msg.DisableWebPagePreview = true
	msg.ReplyMarkup = kb
	got, err := bot.Send(msg)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}
	if got.MessageID != 1 || got.Chat == nil || got.Chat.ID != 42 || got.Text != msg.Text {
		t.Errorf("Send = %+v, want message 1 in chat 42", got)
	}
	if got.ReplyMarkup == nil || got.ReplyMarkup.InlineKeyboard[0][0].Text != "Yes" {
		t.Errorf("Send reply markup = %+v, want the inline keyboard", got.ReplyMarkup)
	}

	clk.Advance(time.Second)
	if _, err := bot.Send(tgbotapi.NewMessage(42, "second")); err != nil {
		t.Fatalf("Send second: %v", err)
	}

	ctx := t.Context()
	first, err := srv.WaitForMessage(ctx, 42)
	if err != nil {
		t.Fatalf("WaitForMessage: %v", err)
	}
	markup, _ := json.Marshal(kb)
	want := telegramtest.Sent{
		ChatID:                42,
		Text:                  "Your code is <b>123456</b>",
		ParseMode:             "HTML",
		ReplyMarkup:           string(markup),
		DisableWebPagePreview: true,
		MessageID:             1,
		At:                    clocktest.New().Now(),
	}
	if diff := cmp.Diff(want, first); diff != "" {
		t.Errorf("WaitForMessage (-want +got):\n%s", diff)
	}
	second, err := srv.WaitForMessage(ctx, 42)
	if err != nil {
		t.Fatalf("WaitForMessage second: %v", err)
	}
	if second.Text != "second" || second.MessageID != 2 {
		t.Errorf("WaitForMessage second = %+v, want message 2 %q", second, "second")
	}
	all, err := srv.WaitForSent(ctx, 2)
	if err != nil || len(all) != 2 {
		t.Errorf("WaitForSent(2) = %d messages, %v; want 2", len(all), err)
	}
	if n := len(srv.SentTo(42)); n != 2 {
		t.Errorf("len(SentTo(42)) = %d, want 2", n)
	}
	if n := len(srv.SentTo(7)); n != 0 {
		t.Errorf("len(SentTo(7)) = %d, want 0", n)
	}
	if n := srv.Calls("sendMessage"); n != 2 {
		t.Errorf("Calls(sendMessage) = %d, want 2", n)
	}
}

func TestWaitForMessageEndsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := telegramtest.New(t, token, telegramtest.WithoutListener())
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		_, err := srv.WaitForMessage(ctx, 42)
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("WaitForMessage = %v, want context.DeadlineExceeded", err)
		}
	})
}

func TestInjectedCommand(t *testing.T) {
	tests := []struct {
		text                  string
		isCommand             bool
		command, withAt, args string
	}{
		{"/start abc_DEF-123", true, "start", "start", "abc_DEF-123"},
		{"/start", true, "start", "start", ""},
		{"/start@tgauth_test_bot abc", true, "start", "start@tgauth_test_bot", "abc"},
		{"/foo-bar baz", true, "foo", "foo", "bar baz"}, // the library drops the "-"
		{"hello /start", false, "", "", ""},
		{"/ start", false, "", "", ""},
		{"привет", false, "", "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.text, func(t *testing.T) {
			srv := telegramtest.New(t, token)
			bot := newBot(t, srv)
			id := srv.InjectMessage(42, tt.text)

			ups, err := bot.GetUpdates(tgbotapi.UpdateConfig{})
			if err != nil {
				t.Fatalf("GetUpdates: %v", err)
			}
			if len(ups) != 1 || ups[0].UpdateID != id || ups[0].Message == nil {
				t.Fatalf("GetUpdates = %+v, want one message update %d", ups, id)
			}
			m := ups[0].Message
			if m.Text != tt.text || m.Chat.ID != 42 || m.Chat.Type != "private" || m.From.ID != 42 {
				t.Errorf("message = %+v, want %q from user 42 in private chat 42", m, tt.text)
			}
			if m.IsCommand() != tt.isCommand || m.Command() != tt.command ||
				m.CommandWithAt() != tt.withAt || m.CommandArguments() != tt.args {
				t.Errorf("IsCommand, Command, CommandWithAt, CommandArguments = %v %q %q %q, want %v %q %q %q",
					m.IsCommand(), m.Command(), m.CommandWithAt(), m.CommandArguments(),
					tt.isCommand, tt.command, tt.withAt, tt.args)
			}
		})
	}
}

func updateIDs(ups []tgbotapi.Update) []int {
	ids := []int{}
	for _, u := range ups {
		ids = append(ids, u.UpdateID)
	}
	return ids
}

func TestOffsetsConfirmUpdates(t *testing.T) {
	srv := telegramtest.New(t, token)
	bot := newBot(t, srv)
	a := srv.InjectMessage(1, "a")
	b := srv.InjectMessage(2, "b")
	c := srv.InjectMessage(3, "c")

	steps := []struct {
		name string
		cfg  tgbotapi.UpdateConfig
		want []int
	}{
		{"no offset returns all", tgbotapi.UpdateConfig{}, []int{a, b, c}},
		{"unconfirmed stay", tgbotapi.UpdateConfig{}, []int{a, b, c}},
		{"limit", tgbotapi.UpdateConfig{Limit: 1}, []int{a}},
		{"offset confirms below", tgbotapi.UpdateConfig{Offset: b}, []int{b, c}},
		{"confirmed are gone", tgbotapi.UpdateConfig{}, []int{b, c}},
		{"negative offset keeps the last", tgbotapi.UpdateConfig{Offset: -1}, []int{c}},
		{"all confirmed", tgbotapi.UpdateConfig{Offset: c + 1}, []int{}},
	}
	for _, st := range steps {
		ups, err := bot.GetUpdates(st.cfg)
		if err != nil {
			t.Fatalf("%s: GetUpdates: %v", st.name, err)
		}
		if diff := cmp.Diff(st.want, updateIDs(ups)); diff != "" {
			t.Errorf("%s: GetUpdates(%+v) ids (-want +got):\n%s", st.name, st.cfg, diff)
		}
	}
}

func TestLongPoll(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := telegramtest.New(t, token, telegramtest.WithoutListener())
		bot := newInProcessBot(t, srv, 60*time.Second)

		start := time.Now()
		ups, err := bot.GetUpdates(tgbotapi.UpdateConfig{Timeout: 5})
		if err != nil || len(ups) != 0 {
			t.Fatalf("GetUpdates(timeout 5) = %v, %v; want none", ups, err)
		}
		if d := time.Since(start); d != 5*time.Second {
			t.Errorf("empty long poll took %v, want 5s", d)
		}

		type result struct {
			ups []tgbotapi.Update
			err error
		}
		done := make(chan result, 1)
		go func() {
			ups, err := bot.GetUpdates(tgbotapi.UpdateConfig{Timeout: 30})
			done <- result{ups, err}
		}()
		synctest.Wait() // the poll is waiting
		start = time.Now()
		id := srv.InjectMessage(42, "/start")
		r := <-done
		if r.err != nil || len(r.ups) != 1 || r.ups[0].UpdateID != id {
			t.Fatalf("GetUpdates = %+v, %v; want update %d", r.ups, r.err, id)
		}
		if d := time.Since(start); d != 0 {
			t.Errorf("long poll answered %v after the injection, want at once", d)
		}
	})
}

func TestConcurrentPollConflict(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := telegramtest.New(t, token, telegramtest.WithoutListener())
		bot := newInProcessBot(t, srv, 60*time.Second)

		done := make(chan error, 1)
		go func() {
			_, err := bot.GetUpdates(tgbotapi.UpdateConfig{Timeout: 30})
			done <- err
		}()
		synctest.Wait()

		_, err := bot.GetUpdates(tgbotapi.UpdateConfig{})
		e := apiError(t, err)
		if e.Code != 409 || !strings.HasPrefix(e.Message, "Conflict: terminated by other getUpdates request") {
			t.Errorf("second poll = %d %q, want 409 Conflict", e.Code, e.Message)
		}
		srv.InjectMessage(42, "hi")
		if err := <-done; err != nil {
			t.Errorf("first poll: %v", err)
		}
		if _, err := bot.GetUpdates(tgbotapi.UpdateConfig{}); err != nil {
			t.Errorf("poll after the first ended: %v", err)
		}
	})
}

func TestCallbackRoundTrip(t *testing.T) {
	srv := telegramtest.New(t, token)
	bot := newBot(t, srv)

	msg := tgbotapi.NewMessage(42, "Sign out everywhere?")
	msg.ReplyMarkup = tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(
		tgbotapi.NewInlineKeyboardButtonData("Yes", "signout:yes")))
	sent, err := bot.Send(msg)
	if err != nil {
		t.Fatalf("Send: %v", err)
	}

	cbID := srv.InjectCallback(42, sent.MessageID, "signout:yes")
	ups, err := bot.GetUpdates(tgbotapi.UpdateConfig{})
	if err != nil || len(ups) != 1 || ups[0].CallbackQuery == nil {
		t.Fatalf("GetUpdates = %+v, %v; want one callback query", ups, err)
	}
	q := ups[0].CallbackQuery
	if q.ID != cbID || q.Data != "signout:yes" || q.From.ID != 42 ||
		q.Message == nil || q.Message.MessageID != sent.MessageID || q.Message.Chat.ID != 42 ||
		q.Message.Text != msg.Text {
		t.Errorf("callback query = %+v (message %+v), want %q on message %d", q, q.Message, cbID, sent.MessageID)
	}

	if _, err := bot.Request(tgbotapi.NewCallbackWithAlert(q.ID, "Done")); err != nil {
		t.Fatalf("answer: %v", err)
	}
	ans, err := srv.WaitForAnswer(t.Context(), cbID)
	if err != nil {
		t.Fatalf("WaitForAnswer: %v", err)
	}
	if diff := cmp.Diff(telegramtest.CallbackAnswer{CallbackQueryID: cbID, Text: "Done", ShowAlert: true}, ans,
		cmpopts.IgnoreFields(telegramtest.CallbackAnswer{}, "At")); diff != "" {
		t.Errorf("answer (-want +got):\n%s", diff)
	}
	_, err = bot.Request(tgbotapi.NewCallback(q.ID, "again"))
	wantAPIError(t, err, 400, "Bad Request: query is too old and response timeout expired or query ID is invalid")

	edited, err := bot.Send(tgbotapi.NewEditMessageText(42, sent.MessageID, "Signed out."))
	if err != nil {
		t.Fatalf("edit: %v", err)
	}
	if edited.Text != "Signed out." || edited.ReplyMarkup != nil || edited.EditDate == 0 {
		t.Errorf("edited = %+v, want new text, keyboard removed, edit date", edited)
	}
	_, err = bot.Send(tgbotapi.NewEditMessageText(42, sent.MessageID, "Signed out."))
	e := apiError(t, err)
	if e.Code != 400 || !strings.HasPrefix(e.Message, "Bad Request: message is not modified") {
		t.Errorf("same edit = %d %q, want 400 message is not modified", e.Code, e.Message)
	}
	_, err = bot.Send(tgbotapi.NewEditMessageText(42, 99, "x"))
	wantAPIError(t, err, 400, "Bad Request: message to edit not found")

	kb := tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(
		tgbotapi.NewInlineKeyboardButtonData("Undo", "signout:undo")))
	if _, err := bot.Send(tgbotapi.NewEditMessageReplyMarkup(42, sent.MessageID, kb)); err != nil {
		t.Fatalf("edit markup: %v", err)
	}
	edits := srv.Edits()
	if len(edits) != 2 || edits[0].Method != "editMessageText" || edits[0].Text != "Signed out." ||
		edits[1].Method != "editMessageReplyMarkup" || edits[1].Text != "Signed out." ||
		!strings.Contains(edits[1].ReplyMarkup, "signout:undo") {
		t.Errorf("Edits = %+v, want the text edit then the markup edit", edits)
	}
}

func TestFaults(t *testing.T) {
	tests := []struct {
		name  string
		fault telegramtest.Fault
		check func(t *testing.T, err error)
	}{
		{"TooManyRequests", telegramtest.TooManyRequests(7), func(t *testing.T, err error) {
			e := apiError(t, err)
			if e.Code != 429 || e.RetryAfter != 7 {
				t.Errorf("error = %d retry_after %d, want 429 retry_after 7", e.Code, e.RetryAfter)
			}
		}},
		{"Blocked", telegramtest.Blocked(), func(t *testing.T, err error) {
			wantAPIError(t, err, 403, "Forbidden: bot was blocked by the user")
		}},
		{"ChatNotFound", telegramtest.ChatNotFound(), func(t *testing.T, err error) {
			wantAPIError(t, err, 400, "Bad Request: chat not found")
		}},
		{"BadGateway", telegramtest.BadGateway(), func(t *testing.T, err error) {
			wantAPIError(t, err, 502, "Bad Gateway")
		}},
		{"APIError", telegramtest.APIError(400, "Bad Request: group chat was upgraded to a supergroup chat"), func(t *testing.T, err error) {
			wantAPIError(t, err, 400, "Bad Request: group chat was upgraded to a supergroup chat")
		}},
		{"ServerError", telegramtest.ServerError(), func(t *testing.T, err error) {
			// The HTML page is no JSON: the library reports a syntax error
			// and the status is lost.
			if err == nil {
				t.Fatal("error = nil, want one")
			}
			if _, ok := errors.AsType[*tgbotapi.Error](err); ok {
				t.Errorf("error = %v, want no *tgbotapi.Error", err)
			}
			if _, ok := errors.AsType[*json.SyntaxError](err); !ok {
				t.Errorf("error = %v (%T), want *json.SyntaxError", err, err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := telegramtest.New(t, token)
			bot := newBot(t, srv)
			srv.FailNext("sendMessage", tt.fault)
			_, err := bot.Send(tgbotapi.NewMessage(42, "code 123456"))
			tt.check(t, err)
			if n := len(srv.Sent()); n != 0 {
				t.Errorf("len(Sent()) = %d after a fault, want 0", n)
			}
			if _, err := bot.Send(tgbotapi.NewMessage(42, "code 123456")); err != nil {
				t.Errorf("Send after the fault: %v", err)
			}
			if n := srv.LimitViolations(); n != 0 {
				t.Errorf("LimitViolations() = %d, want 0 for a scripted fault", n)
			}
		})
	}
}

func TestFaultsConsumedInOrder(t *testing.T) {
	srv := telegramtest.New(t, token)
	bot := newBot(t, srv)
	srv.FailNext("getUpdates", telegramtest.BadGateway())
	srv.FailNext("getUpdates", telegramtest.TooManyRequests(3))
	srv.FailNext("sendMessage", telegramtest.Blocked())

	_, err := bot.GetUpdates(tgbotapi.UpdateConfig{})
	wantAPIError(t, err, 502, "Bad Gateway")
	_, err = bot.GetUpdates(tgbotapi.UpdateConfig{})
	wantAPIError(t, err, 429, "Too Many Requests: retry after 3")
	if _, err := bot.GetUpdates(tgbotapi.UpdateConfig{}); err != nil {
		t.Errorf("third GetUpdates: %v", err)
	}
	if n := srv.Calls("getUpdates"); n != 3 {
		t.Errorf("Calls(getUpdates) = %d, want 3", n)
	}
}

func TestHang(t *testing.T) {
	t.Run("synctest", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			srv := telegramtest.New(t, token, telegramtest.WithoutListener())
			bot := newInProcessBot(t, srv, 10*time.Second)
			srv.FailNext("sendMessage", telegramtest.Hang())
			start := time.Now()
			_, err := bot.Send(tgbotapi.NewMessage(42, "hi"))
			if ue, ok := errors.AsType[*url.Error](err); !ok || !ue.Timeout() {
				t.Errorf("Send = %v, want a *url.Error timeout", err)
			}
			if d := time.Since(start); d != 10*time.Second {
				t.Errorf("hung call ended after %v, want the 10s client timeout", d)
			}
		})
	})
	t.Run("listener", func(t *testing.T) {
		srv := telegramtest.New(t, token)
		bot, err := tgbotapi.NewBotAPIWithClient(token, srv.URL+"/bot%s/%s", &http.Client{Timeout: 200 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		srv.FailNext("sendMessage", telegramtest.Hang())
		_, err = bot.Send(tgbotapi.NewMessage(42, "hi"))
		if ue, ok := errors.AsType[*url.Error](err); !ok || !ue.Timeout() {
			t.Errorf("Send = %v, want a *url.Error timeout", err)
		}
	})
	t.Run("cleanup ends it", func(t *testing.T) {
		done := make(chan error, 1)
		synctest.Test(t, func(t *testing.T) {
			srv := telegramtest.New(t, token, telegramtest.WithoutListener())
			bot := newInProcessBot(t, srv, 0) // no client timeout: only cleanup ends the call
			srv.FailNext("sendMessage", telegramtest.Hang())
			go func() {
				_, err := bot.Send(tgbotapi.NewMessage(42, "hi"))
				done <- err
			}()
			synctest.Wait()
			if n := srv.Calls("sendMessage"); n != 1 {
				t.Errorf("Calls(sendMessage) = %d, want 1 hung call", n)
			}
		})
		// The bubble's cleanup closed the server, so the call did not outlive it.
		if err := <-done; err == nil {
			t.Errorf("Send across cleanup = nil error, want one")
		}
	})
}

func TestChatState(t *testing.T) {
	srv := telegramtest.New(t, token)
	bot := newBot(t, srv)
	srv.BlockChat(5)
	srv.ForgetChat(6)

	_, err := bot.Send(tgbotapi.NewMessage(5, "hi"))
	wantAPIError(t, err, 403, "Forbidden: bot was blocked by the user")
	_, err = bot.Send(tgbotapi.NewMessage(6, "hi"))
	wantAPIError(t, err, 400, "Bad Request: chat not found")
	_, err = bot.Send(tgbotapi.NewMessage(6, "again"))
	wantAPIError(t, err, 400, "Bad Request: chat not found")
	if _, err := bot.Send(tgbotapi.NewMessage(7, "hi")); err != nil {
		t.Errorf("Send to chat 7: %v", err)
	}
	if n := srv.LimitViolations(); n != 0 {
		t.Errorf("LimitViolations() = %d, want 0", n)
	}
}

func TestRateLimitPerChat(t *testing.T) {
	clk := clocktest.New()
	srv := telegramtest.New(t, token, telegramtest.WithClock(clk.Now))
	bot := newBot(t, srv)

	if _, err := bot.Send(tgbotapi.NewMessage(42, "one")); err != nil {
		t.Fatalf("first Send: %v", err)
	}
	clk.Advance(400 * time.Millisecond)
	_, err := bot.Send(tgbotapi.NewMessage(42, "two"))
	e := apiError(t, err)
	if e.Code != 429 || e.RetryAfter != 1 {
		t.Errorf("second Send = %d retry_after %d, want 429 retry_after 1", e.Code, e.RetryAfter)
	}
	if n := srv.LimitViolations(); n != 1 {
		t.Errorf("LimitViolations() = %d, want 1", n)
	}
	if _, err := bot.Send(tgbotapi.NewMessage(43, "other chat")); err != nil {
		t.Errorf("Send to another chat: %v", err)
	}
	clk.Advance(600 * time.Millisecond) // 1s after the accepted one
	if _, err := bot.Send(tgbotapi.NewMessage(42, "two")); err != nil {
		t.Errorf("Send 1s later: %v", err)
	}
	if n := srv.LimitViolations(); n != 1 {
		t.Errorf("LimitViolations() = %d, want 1", n)
	}
	if got := len(srv.SentTo(42)); got != 2 {
		t.Errorf("len(SentTo(42)) = %d, want 2", got)
	}
}

func TestRateLimitGlobal(t *testing.T) {
	clk := clocktest.New()
	srv := telegramtest.New(t, token, telegramtest.WithClock(clk.Now))
	bot := newBot(t, srv)

	for i := range 30 {
		if _, err := bot.Send(tgbotapi.NewMessage(int64(100+i), "hi")); err != nil {
			t.Fatalf("Send %d: %v", i+1, err)
		}
		clk.Advance(10 * time.Millisecond)
	}
	_, err := bot.Send(tgbotapi.NewMessage(200, "31st"))
	e := apiError(t, err)
	if e.Code != 429 || e.RetryAfter < 1 {
		t.Errorf("31st Send = %d retry_after %d, want 429 retry_after >= 1", e.Code, e.RetryAfter)
	}
	if n := srv.LimitViolations(); n != 1 {
		t.Errorf("LimitViolations() = %d, want 1", n)
	}
	clk.Advance(time.Second - 300*time.Millisecond) // the first send left the window
	if _, err := bot.Send(tgbotapi.NewMessage(200, "31st")); err != nil {
		t.Errorf("Send after the window moved: %v", err)
	}
}

func TestWithoutRateLimits(t *testing.T) {
	clk := clocktest.New()
	srv := telegramtest.New(t, token, telegramtest.WithClock(clk.Now), telegramtest.WithoutRateLimits())
	bot := newBot(t, srv)
	for i := range 31 {
		if _, err := bot.Send(tgbotapi.NewMessage(int64(1+i%2), "hi")); err != nil {
			t.Fatalf("Send %d: %v", i+1, err)
		}
	}
	if n := srv.LimitViolations(); n != 0 {
		t.Errorf("LimitViolations() = %d, want 0", n)
	}
}

func TestValidation(t *testing.T) {
	long := strings.Repeat("я", 4097)
	tooLongData := strings.Repeat("x", 65)
	tests := []struct {
		name string
		msg  tgbotapi.MessageConfig
		want string
	}{
		{"empty text", tgbotapi.NewMessage(42, ""), "Bad Request: message text is empty"},
		{"no chat", tgbotapi.NewMessage(0, "hi"), "Bad Request: chat_id is empty"},
		{"text too long", tgbotapi.NewMessage(42, long), "Bad Request: message is too long"},
		{"callback data too long", func() tgbotapi.MessageConfig {
			m := tgbotapi.NewMessage(42, "hi")
			m.ReplyMarkup = tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(
				tgbotapi.NewInlineKeyboardButtonData("x", tooLongData)))
			return m
		}(), "Bad Request: BUTTON_DATA_INVALID"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := telegramtest.New(t, token)
			bot := newBot(t, srv)
			_, err := bot.Send(tt.msg)
			wantAPIError(t, err, 400, tt.want)
		})
	}
	t.Run("4096 characters pass", func(t *testing.T) {
		srv := telegramtest.New(t, token)
		bot := newBot(t, srv)
		if _, err := bot.Send(tgbotapi.NewMessage(42, long[len("я"):])); err != nil {
			t.Errorf("Send: %v", err)
		}
	})
}

func TestOtherMethods(t *testing.T) {
	srv := telegramtest.New(t, token)
	bot := newBot(t, srv)
	if _, err := bot.Request(tgbotapi.DeleteWebhookConfig{DropPendingUpdates: true}); err != nil {
		t.Errorf("deleteWebhook: %v", err)
	}
	cmds := tgbotapi.NewSetMyCommands(tgbotapi.BotCommand{Command: "start", Description: "Link your account"})
	if _, err := bot.Request(cmds); err != nil {
		t.Errorf("setMyCommands: %v", err)
	}
	bad := tgbotapi.NewSetMyCommands(tgbotapi.BotCommand{Command: "Start", Description: "x"})
	_, err := bot.Request(bad)
	wantAPIError(t, err, 400, "Bad Request: BOT_COMMAND_INVALID")
}

// post sends body to method with contentType, outside the library.
func post(t *testing.T, srv *telegramtest.Server, method, contentType string, body io.Reader) (int, string) {
	t.Helper()
	resp, err := http.Post(srv.URL+"/bot"+token+"/"+method, contentType, body)
	if err != nil {
		t.Fatalf("POST %s: %v", method, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestParamEncodings(t *testing.T) {
	srv := telegramtest.New(t, token, telegramtest.WithoutRateLimits())

	status, body := post(t, srv, "sendMessage", "application/json",
		strings.NewReader(`{"chat_id": 42, "text": "json", "reply_markup": {"inline_keyboard": [[{"text": "a", "callback_data": "b"}]]}, "disable_web_page_preview": true}`))
	if status != 200 || !strings.Contains(body, `"chat":{"id":42`) {
		t.Errorf("JSON sendMessage = %d %s, want 200 with chat 42", status, body)
	}

	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	_ = mw.WriteField("chat_id", "43")
	_ = mw.WriteField("text", "multipart")
	_ = mw.Close()
	status, body = post(t, srv, "SENDMESSAGE", mw.FormDataContentType(), &buf)
	if status != 200 {
		t.Errorf("multipart sendMessage = %d %s, want 200", status, body)
	}

	status, body = post(t, srv, "sendMessage", "application/json", strings.NewReader(`{"chat_id": 44,`))
	if status != 400 || !strings.Contains(body, `"ok":false`) {
		t.Errorf("broken JSON sendMessage = %d %s, want 400", status, body)
	}

	sent := srv.Sent()
	want := []telegramtest.Sent{
		{ChatID: 42, Text: "json", ReplyMarkup: `{"inline_keyboard": [[{"text": "a", "callback_data": "b"}]]}`, DisableWebPagePreview: true, MessageID: 1},
		{ChatID: 43, Text: "multipart", MessageID: 1},
	}
	if diff := cmp.Diff(want, sent, cmpopts.IgnoreFields(telegramtest.Sent{}, "At")); diff != "" {
		t.Errorf("Sent (-want +got):\n%s", diff)
	}
	if n := srv.Calls("sendMessage"); n != 3 {
		t.Errorf("Calls(sendMessage) = %d, want 3", n)
	}
}

// FuzzInjectMessage checks that the entities the fake computes never make
// the library's command helpers panic or disagree with the text.
func FuzzInjectMessage(f *testing.F) {
	for _, s := range []string{"/start abc_DEF-123", "/start", "/", "/@", "/a@", "/a@b c", "x", "/ä", "/a\xff"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, text string) {
		srv := telegramtest.New(t, token, telegramtest.WithoutListener())
		bot := newInProcessBot(t, srv, 10*time.Second)
		srv.InjectMessage(42, text)
		ups, err := bot.GetUpdates(tgbotapi.UpdateConfig{})
		if err != nil || len(ups) != 1 {
			t.Fatalf("GetUpdates = %v, %v; want one update", ups, err)
		}
		m := ups[0].Message
		if !m.IsCommand() {
			return
		}
		if !strings.HasPrefix(text, "/"+m.CommandWithAt()) || m.Command() == "" {
			t.Errorf("CommandWithAt = %q, Command = %q for %q", m.CommandWithAt(), m.Command(), text)
		}
		_ = m.CommandArguments()
	})
}

// outcome sends one message and names what came back: "ok" or the error
// code.
func outcome(t *testing.T, bot *tgbotapi.BotAPI) string {
	t.Helper()
	_, err := bot.Send(tgbotapi.NewMessage(42, "hi"))
	if err == nil {
		return "ok"
	}
	return fmt.Sprint(apiError(t, err).Code)
}

func TestFailRandomly(t *testing.T) {
	run := func(seed uint64) []string {
		srv := telegramtest.New(t, token, telegramtest.WithoutRateLimits())
		bot := newBot(t, srv)
		srv.FailNext("sendMessage", telegramtest.Blocked())
		srv.FailRandomly("sendMessage", seed, 0.5, telegramtest.BadGateway(), telegramtest.TooManyRequests(2))
		var got []string
		for range 200 {
			got = append(got, outcome(t, bot))
		}
		counts := map[string]int{}
		for _, o := range got {
			counts[o]++
		}
		if got[0] != "403" {
			t.Errorf("first call = %s, want 403: FailNext goes before the mix", got[0])
		}
		// 199 draws at rate 0.5: far outside 60-140 means the rate is ignored.
		if failed := counts["502"] + counts["429"]; failed < 60 || failed > 140 || counts["502"] == 0 || counts["429"] == 0 {
			t.Errorf("outcomes of 199 calls with a 0.5 mix of 502 and 429: %v", counts)
		}
		if n, want := srv.FaultsServed("sendMessage"), 200-counts["ok"]; n != want {
			t.Errorf("FaultsServed = %d, want %d", n, want)
		}
		if n := len(srv.Sent()); n != counts["ok"] {
			t.Errorf("len(Sent()) = %d, want the %d calls answered ok", n, counts["ok"])
		}
		srv.FailRandomly("sendMessage", seed, 0)
		for i := range 20 {
			if o := outcome(t, bot); o != "ok" {
				t.Fatalf("call %d after the mix was removed = %s, want ok", i, o)
			}
		}
		return got
	}
	a, b := run(7), run(7)
	if diff := cmp.Diff(a, b); diff != "" {
		t.Errorf("two runs with seed 7 differ (-first +second):\n%s", diff)
	}
	if c := run(8); cmp.Equal(a, c) {
		t.Errorf("seeds 7 and 8 drew the same %d outcomes", len(c))
	}
}

func TestSendLatency(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv := telegramtest.New(t, token, telegramtest.WithoutListener(), telegramtest.WithSendLatency(3*time.Second))
		impatient := newInProcessBot(t, srv, time.Second)
		_, err := impatient.Send(tgbotapi.NewMessage(42, "first"))
		if ue, ok := errors.AsType[*url.Error](err); !ok || !ue.Timeout() {
			t.Errorf("Send with a 1s timeout = %v, want a *url.Error timeout", err)
		}
		// The message went out although its sender never heard.
		if got := srv.SentTo(42); len(got) != 1 || got[0].Text != "first" {
			t.Errorf("SentTo(42) = %+v, want the first message", got)
		}

		time.Sleep(time.Second) // Telegram's one message a second to a chat
		start := time.Now()
		if _, err := newInProcessBot(t, srv, 10*time.Second).Send(tgbotapi.NewMessage(42, "second")); err != nil {
			t.Fatalf("Send with a 10s timeout: %v", err)
		}
		if d := time.Since(start); d != 3*time.Second {
			t.Errorf("answer came after %v, want the 3s latency", d)
		}
	})
}

// Chat shows a chat as an app would: the user's texts and the bot's
// messages in order, each message as its last edit left it, and the
// answers to that chat's presses only.
func TestChatView(t *testing.T) {
	srv := telegramtest.New(t, token, telegramtest.WithoutRateLimits())
	bot := newBot(t, srv)

	srv.InjectMessage(42, "/reset")
	srv.InjectMessage(7, "/start")
	msg := tgbotapi.NewMessage(42, "Reset which account?")
	msg.ReplyMarkup = tgbotapi.NewInlineKeyboardMarkup(tgbotapi.NewInlineKeyboardRow(
		tgbotapi.NewInlineKeyboardButtonData("bob", "r:1"), tgbotapi.NewInlineKeyboardButtonURL("Docs", "https://example.com/")))
	sent, err := bot.Send(msg)
	if err != nil {
		t.Fatal(err)
	}
	code := tgbotapi.NewMessage(42, "Code 123456")
	code.Entities = []tgbotapi.MessageEntity{{Type: "code", Offset: 5, Length: 6}}
	if _, err := bot.Send(code); err != nil {
		t.Fatal(err)
	}
	cb7 := srv.InjectCallback(7, 1, "x")
	cb42 := srv.InjectCallback(42, sent.MessageID, "r:1")
	for _, id := range []string{cb7, cb42} {
		if _, err := bot.Request(tgbotapi.NewCallback(id, "answer "+id)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := bot.Send(tgbotapi.NewEditMessageText(42, sent.MessageID, "Code sent for bob.")); err != nil {
		t.Fatal(err)
	}

	got := srv.Chat(42)
	want := []telegramtest.ChatMessage{
		{ID: 1, FromUser: true, Text: "/reset"},
		{ID: 2, Text: "Code sent for bob.", Edited: true},
		{ID: 3, Text: "Code 123456", Entities: json.RawMessage(`[{"type":"code","offset":5,"length":6}]`)},
	}
	if diff := cmp.Diff(want, got, cmpopts.IgnoreFields(telegramtest.ChatMessage{}, "Date")); diff != "" {
		t.Errorf("Chat(42) (-want +got):\n%s", diff)
	}

	// Before the edit took it away, the keyboard was shown with both kinds of button.
	srv2 := telegramtest.New(t, token)
	if _, err := newBot(t, srv2).Send(msg); err != nil {
		t.Fatal(err)
	}
	wantButtons := [][]telegramtest.ChatButton{{{Text: "bob", Data: "r:1"}, {Text: "Docs", URL: "https://example.com/"}}}
	if got := srv2.Chat(42); len(got) != 1 || !cmp.Equal(got[0].Buttons, wantButtons) {
		t.Errorf("Chat(42) = %+v, want one message with buttons %+v", got, wantButtons)
	}

	if diff := cmp.Diff([]int64{7, 42}, srv.Chats()); diff != "" {
		t.Errorf("Chats (-want +got):\n%s", diff)
	}
	if a := srv.ChatAnswers(42); len(a) != 1 || a[0].Text != "answer "+cb42 {
		t.Errorf("ChatAnswers(42) = %+v, want only the answer to %s", a, cb42)
	}
}
