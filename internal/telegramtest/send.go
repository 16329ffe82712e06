package telegramtest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"time"
	"unicode/utf16"
)

// Flood limits as Telegram applies them to sendMessage.
const (
	perChatInterval = time.Second // at most one message per chat per second
	globalPerSecond = 30          // at most 30 messages per second overall
	maxTextLen      = 4096        // UTF-16 units of a message text
)

// Sent is a message the fake accepted from sendMessage.
type Sent struct {
	ChatID                int64
	Text                  string // exactly as sent
	ParseMode             string
	ReplyMarkup           string // raw JSON as sent; "" when none
	Entities              string // raw JSON as sent; "" when none
	DisableWebPagePreview bool
	MessageID             int
	At                    time.Time // by the server's clock
}

// Edit is an accepted editMessageText or editMessageReplyMarkup call.
type Edit struct {
	Method          string // "editMessageText" or "editMessageReplyMarkup"
	ChatID          int64
	MessageID       int
	InlineMessageID string
	Text            string // the message's text after the edit
	ParseMode       string
	ReplyMarkup     string // raw JSON as sent; "" removes the inline keyboard
	Entities        string // raw JSON as sent; "" when none
	At              time.Time
}

// CallbackAnswer is an accepted answerCallbackQuery call.
type CallbackAnswer struct {
	CallbackQueryID string
	Text            string
	ShowAlert       bool
	URL             string
	At              time.Time
}

type messageKey struct {
	chatID    int64
	messageID int
}

// botMessage is the current state of a message the bot sent.
type botMessage struct {
	date     int64
	text     string
	markup   string // compact JSON of an inline keyboard, or ""
	entities string // raw JSON as sent; "" when none
	edited   bool
}

// entities is the raw JSON of a call's entities, "" when none (the
// library sends "null" for none).
func entities(p params) string {
	if e := p["entities"]; e != "null" {
		return e
	}
	return ""
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}

func checkText(text string) error {
	if text == "" {
		return badRequest("message text is empty")
	}
	if utf16Len(text) > maxTextLen {
		return badRequest("message is too long")
	}
	return nil
}

// checkMarkup validates reply_markup and returns it as compact JSON.
func checkMarkup(raw string) (string, error) {
	if raw == "" {
		return "", nil
	}
	var kb struct {
		InlineKeyboard [][]struct {
			CallbackData *string `json:"callback_data"`
		} `json:"inline_keyboard"`
	}
	if err := json.Unmarshal([]byte(raw), &kb); err != nil {
		return "", badRequest("can't parse reply keyboard markup JSON object")
	}
	for _, row := range kb.InlineKeyboard {
		for _, b := range row {
			if b.CallbackData != nil && (len(*b.CallbackData) < 1 || len(*b.CallbackData) > 64) {
				return "", badRequest("BUTTON_DATA_INVALID")
			}
		}
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, []byte(raw)); err != nil {
		return "", badRequest("can't parse reply keyboard markup JSON object")
	}
	return buf.String(), nil
}

// inlineMarkup is markup if it is an inline keyboard, which Telegram keeps
// on the message and echoes back; other keyboards are not part of it.
func inlineMarkup(markup string) json.RawMessage {
	if markup == "" {
		return nil
	}
	var m map[string]json.RawMessage
	if json.Unmarshal([]byte(markup), &m) != nil {
		return nil
	}
	if _, ok := m["inline_keyboard"]; !ok {
		return nil
	}
	return json.RawMessage(markup)
}

// allowSend applies the flood limits to a sendMessage to chatID at now and
// returns the seconds to wait when refused; s.mu must be held.
func (s *Server) allowSend(chatID int64, now time.Time) (retryAfter int, ok bool) {
	if !s.limits {
		return 0, true
	}
	if last, seen := s.lastSend[chatID]; seen && now.Sub(last) < perChatInterval {
		return ceilSeconds(last.Add(perChatInterval).Sub(now)), false
	}
	i := 0
	for i < len(s.window) && now.Sub(s.window[i]) >= time.Second {
		i++
	}
	s.window = s.window[i:]
	if len(s.window) >= globalPerSecond {
		return ceilSeconds(s.window[0].Add(time.Second).Sub(now)), false
	}
	return 0, true
}

func ceilSeconds(d time.Duration) int {
	n := int((d + time.Second - 1) / time.Second)
	return max(n, 1)
}

func (s *Server) sendMessage(_ context.Context, p params) (any, error) {
	chatID, err := p.chatID()
	if err != nil {
		return nil, err
	}
	text := p["text"]
	if err := checkText(text); err != nil {
		return nil, err
	}
	markup, err := checkMarkup(p["reply_markup"])
	if err != nil {
		return nil, err
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.chatError(chatID); err != nil {
		return nil, err
	}
	now := s.now()
	if retryAfter, ok := s.allowSend(chatID, now); !ok {
		s.violations++
		s.notify()
		return nil, tooManyRequests(retryAfter)
	}
	if s.limits {
		s.lastSend[chatID] = now
		s.window = append(s.window, now)
	}
	id := s.newMessageID(chatID)
	m := &botMessage{date: now.Unix(), text: text, markup: string(inlineMarkup(markup)), entities: entities(p)}
	s.messages[messageKey{chatID, id}] = m
	s.sent = append(s.sent, Sent{
		ChatID:                chatID,
		Text:                  text,
		ParseMode:             p["parse_mode"],
		ReplyMarkup:           p["reply_markup"],
		Entities:              entities(p),
		DisableWebPagePreview: p.boolParam("disable_web_page_preview"),
		MessageID:             id,
		At:                    now,
	})
	s.notify()
	return s.wireMessage(chatID, id, m, 0), nil
}

// wireMessage is the bot's message as Telegram answers it; s.mu must be held.
func (s *Server) wireMessage(chatID int64, id int, m *botMessage, editDate int64) wireMessage {
	return wireMessage{
		MessageID:   id,
		From:        &s.bot,
		Chat:        chat(chatID),
		Date:        m.date,
		EditDate:    editDate,
		Text:        m.text,
		ReplyMarkup: inlineMarkup(m.markup),
	}
}

func (s *Server) editMessageText(_ context.Context, p params) (any, error) {
	text := p["text"]
	if err := checkText(text); err != nil {
		return nil, err
	}
	return s.edit("editMessageText", p, &text)
}

func (s *Server) editMessageReplyMarkup(_ context.Context, p params) (any, error) {
	return s.edit("editMessageReplyMarkup", p, nil)
}

// edit replaces a message's text (unless text is nil) and its inline
// keyboard: as in Telegram, an edit without reply_markup removes it.
func (s *Server) edit(method string, p params, text *string) (any, error) {
	markup, err := checkMarkup(p["reply_markup"])
	if err != nil {
		return nil, err
	}
	inline := string(inlineMarkup(markup))
	if markup != "" && inline == "" {
		return nil, badRequest("inline keyboard expected")
	}
	rec := Edit{
		Method:      method,
		ParseMode:   p["parse_mode"],
		ReplyMarkup: p["reply_markup"],
		Entities:    entities(p),
	}
	if text != nil {
		rec.Text = *text
	}

	if id := p["inline_message_id"]; id != "" {
		s.mu.Lock()
		defer s.mu.Unlock()
		rec.InlineMessageID = id
		rec.At = s.now()
		s.edits = append(s.edits, rec)
		s.notify()
		return true, nil
	}

	chatID, err := p.chatID()
	if err != nil {
		return nil, err
	}
	messageID, err := p.int64Param("message_id")
	if err != nil {
		return nil, err
	}
	if messageID == 0 {
		return nil, badRequest("message identifier is not specified")
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.chatError(chatID); err != nil {
		return nil, err
	}
	m, ok := s.messages[messageKey{chatID, int(messageID)}]
	if !ok {
		return nil, badRequest("message to edit not found")
	}
	newText := m.text
	if text != nil {
		newText = *text
	}
	if newText == m.text && inline == m.markup {
		return nil, badRequest("message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message")
	}
	m.text, m.markup, m.edited = newText, inline, true
	if text != nil {
		m.entities = rec.Entities
	}
	now := s.now()
	rec.ChatID, rec.MessageID, rec.Text, rec.At = chatID, int(messageID), newText, now
	s.edits = append(s.edits, rec)
	s.notify()
	return s.wireMessage(chatID, int(messageID), m, now.Unix()), nil
}

// answerCallbackQuery accepts one answer per injected callback query.
func (s *Server) answerCallbackQuery(_ context.Context, p params) (any, error) {
	id := p["callback_query_id"]
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.callbacks[id] {
		return nil, badRequest("query is too old and response timeout expired or query ID is invalid")
	}
	s.callbacks[id] = false
	s.answers = append(s.answers, CallbackAnswer{
		CallbackQueryID: id,
		Text:            p["text"],
		ShowAlert:       p.boolParam("show_alert"),
		URL:             p["url"],
		At:              s.now(),
	})
	s.notify()
	return true, nil
}

// Sent returns every message accepted so far, in order.
func (s *Server) Sent() []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.sent)
}

// SentTo returns the messages accepted for chatID, in order.
func (s *Server) SentTo(chatID int64) []Sent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sentTo(chatID)
}

func (s *Server) sentTo(chatID int64) []Sent {
	var out []Sent
	for _, m := range s.sent {
		if m.ChatID == chatID {
			out = append(out, m)
		}
	}
	return out
}

// Answers returns the accepted callback query answers, in order.
func (s *Server) Answers() []CallbackAnswer {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.answers)
}

// Edits returns the accepted message edits, in order.
func (s *Server) Edits() []Edit {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.edits)
}

// LimitViolations reports how many sendMessage calls the flood limits
// refused with 429; a bot that keeps the limits scores 0. Scripted
// TooManyRequests faults are not counted.
func (s *Server) LimitViolations() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.violations
}

// WaitForMessage returns the first message to chatID that no earlier
// WaitForMessage for chatID returned, waiting for it if need be, so that
// successive calls step through the chat. It returns ctx's error, wrapped,
// if ctx ends first.
func (s *Server) WaitForMessage(ctx context.Context, chatID int64) (Sent, error) {
	var got Sent
	err := s.await(ctx, func() bool {
		msgs := s.sentTo(chatID)
		if len(msgs) <= s.waited[chatID] {
			return false
		}
		got = msgs[s.waited[chatID]]
		s.waited[chatID]++
		return true
	})
	if err != nil {
		return Sent{}, fmt.Errorf("telegramtest: wait for message to chat %d (%d sent to any chat): %w",
			chatID, len(s.Sent()), err)
	}
	return got, nil
}

// WaitForSent waits until at least n messages in all were accepted and
// returns them all. It returns ctx's error, wrapped, if ctx ends first.
func (s *Server) WaitForSent(ctx context.Context, n int) ([]Sent, error) {
	var got []Sent
	err := s.await(ctx, func() bool {
		if len(s.sent) < n {
			return false
		}
		got = slices.Clone(s.sent)
		return true
	})
	if err != nil {
		return nil, fmt.Errorf("telegramtest: wait for %d sent messages (%d sent): %w", n, len(s.Sent()), err)
	}
	return got, nil
}

// WaitForAnswer waits for the answer to callback query callbackID. It
// returns ctx's error, wrapped, if ctx ends first.
func (s *Server) WaitForAnswer(ctx context.Context, callbackID string) (CallbackAnswer, error) {
	var got CallbackAnswer
	err := s.await(ctx, func() bool {
		for _, a := range s.answers {
			if a.CallbackQueryID == callbackID {
				got = a
				return true
			}
		}
		return false
	})
	if err != nil {
		return CallbackAnswer{}, fmt.Errorf("telegramtest: wait for answer to callback %q: %w", callbackID, err)
	}
	return got, nil
}
