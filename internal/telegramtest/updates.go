package telegramtest

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"time"
)

// Wire types: the fields of Telegram's objects that this fake fills in.

type wireUser struct {
	ID           int64  `json:"id"`
	IsBot        bool   `json:"is_bot"`
	FirstName    string `json:"first_name"`
	UserName     string `json:"username,omitempty"`
	LanguageCode string `json:"language_code,omitempty"`
}

type wireBot struct {
	wireUser
	CanJoinGroups           bool `json:"can_join_groups"`
	CanReadAllGroupMessages bool `json:"can_read_all_group_messages"`
	SupportsInlineQueries   bool `json:"supports_inline_queries"`
}

type wireChat struct {
	ID        int64  `json:"id"`
	Type      string `json:"type"`
	Title     string `json:"title,omitempty"`
	FirstName string `json:"first_name,omitempty"`
	UserName  string `json:"username,omitempty"`
}

type wireEntity struct {
	Type   string `json:"type"`
	Offset int    `json:"offset"`
	Length int    `json:"length"`
}

type wireMessage struct {
	MessageID   int             `json:"message_id"`
	From        *wireUser       `json:"from,omitempty"`
	Chat        wireChat        `json:"chat"`
	Date        int64           `json:"date"`
	EditDate    int64           `json:"edit_date,omitempty"`
	Text        string          `json:"text,omitempty"`
	Entities    []wireEntity    `json:"entities,omitempty"`
	ReplyMarkup json.RawMessage `json:"reply_markup,omitempty"`
}

type wireCallbackQuery struct {
	ID           string       `json:"id"`
	From         wireUser     `json:"from"`
	Message      *wireMessage `json:"message,omitempty"`
	ChatInstance string       `json:"chat_instance"`
	Data         string       `json:"data,omitempty"`
}

type wireUpdate struct {
	UpdateID      int                `json:"update_id"`
	Message       *wireMessage       `json:"message,omitempty"`
	CallbackQuery *wireCallbackQuery `json:"callback_query,omitempty"`
}

func (u wireUpdate) kind() string {
	if u.CallbackQuery != nil {
		return "callback_query"
	}
	return "message"
}

// user is the Telegram user who owns the private chat chatID.
func user(chatID int64) wireUser {
	return wireUser{
		ID:           chatID,
		FirstName:    "User",
		UserName:     fmt.Sprintf("user%d", chatID),
		LanguageCode: "en",
	}
}

// chat describes chatID: users' private chats have positive IDs, groups
// negative ones, supergroups below -10^12.
func chat(chatID int64) wireChat {
	switch {
	case chatID > 0:
		u := user(chatID)
		return wireChat{ID: chatID, Type: "private", FirstName: u.FirstName, UserName: u.UserName}
	case chatID <= -1_000_000_000_000:
		return wireChat{ID: chatID, Type: "supergroup", Title: "Supergroup"}
	default:
		return wireChat{ID: chatID, Type: "group", Title: "Group"}
	}
}

// commandEntity marks a leading bot command as Telegram does: "/" then one
// or more of A-Z a-z 0-9 _, optionally "@" and a username. Offsets are
// UTF-16 units in Telegram; a command is ASCII, so bytes are the same.
// "/start abc" marks "/start"; "/foo-bar" marks "/foo"; "/ x" marks nothing.
func commandEntity(text string) []wireEntity {
	n := commandLen(text)
	if n == 0 {
		return nil
	}
	return []wireEntity{{Type: "bot_command", Offset: 0, Length: n}}
}

func commandLen(text string) int {
	if len(text) < 2 || text[0] != '/' {
		return 0
	}
	n := 1 + wordLen(text[1:])
	if n == 1 {
		return 0
	}
	if n < len(text) && text[n] == '@' {
		if m := wordLen(text[n+1:]); m > 0 {
			n += 1 + m
		}
	}
	return n
}

func wordLen(s string) int {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return i
		}
	}
	return len(s)
}

// InjectMessage queues an update carrying a text message that user chatID
// sends in their private chat with the bot, and returns its update_id. A
// text that starts with a command ("/start abc") carries a bot_command
// entity, so the library's IsCommand, Command and CommandArguments work.
func (s *Server) InjectMessage(chatID int64, text string) (updateID int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	from := user(chatID)
	msg := &wireMessage{
		MessageID: s.newMessageID(chatID),
		From:      &from,
		Chat:      chat(chatID),
		Date:      s.now().Unix(),
		Text:      text,
		Entities:  commandEntity(text),
	}
	s.typed[chatID] = append(s.typed[chatID], typedMessage{msg.MessageID, msg.Date, text})
	return s.push(wireUpdate{Message: msg})
}

// InjectCallback queues an update carrying a callback query: user chatID
// pressed a button with callback data on the bot's message messageID. It
// returns the query's ID, which answerCallbackQuery must name.
func (s *Server) InjectCallback(chatID int64, messageID int, data string) (callbackID string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nextCallback++
	callbackID = strconv.FormatInt(chatID, 10) + "-" + strconv.Itoa(s.nextCallback)
	s.callbacks[callbackID] = true
	s.callbackChat[callbackID] = chatID

	msg := &wireMessage{MessageID: messageID, From: &s.bot, Chat: chat(chatID), Date: s.now().Unix()}
	if m, ok := s.messages[messageKey{chatID, messageID}]; ok {
		msg.Date = m.date
		msg.Text = m.text
		msg.ReplyMarkup = inlineMarkup(m.markup)
	}
	s.push(wireUpdate{CallbackQuery: &wireCallbackQuery{
		ID:           callbackID,
		From:         user(chatID),
		Message:      msg,
		ChatInstance: "ci" + strconv.FormatInt(chatID, 10),
		Data:         data,
	}})
	return callbackID
}

// push queues u with the next update_id; s.mu must be held.
func (s *Server) push(u wireUpdate) int {
	u.UpdateID = s.nextUpdateID
	s.nextUpdateID++
	s.updates = append(s.updates, u)
	s.notify()
	return u.UpdateID
}

// newMessageID numbers messages per chat; s.mu must be held.
func (s *Server) newMessageID(chatID int64) int {
	s.nextMessageID[chatID]++
	return s.nextMessageID[chatID]
}

// getUpdates serves updates as Telegram does: an offset confirms (drops)
// every update below it, a negative offset keeps only the last -offset;
// with a timeout the call waits for an update that long. One call at a
// time: a concurrent one gets 409.
func (s *Server) getUpdates(ctx context.Context, p params) (any, error) {
	offset, err := p.int64Param("offset")
	if err != nil {
		return nil, err
	}
	limit, err := p.int64Param("limit")
	if err != nil {
		return nil, err
	}
	if limit <= 0 || limit > 100 {
		limit = 100
	}
	timeout, err := p.int64Param("timeout")
	if err != nil {
		return nil, err
	}
	var allowed []string
	// The library sends allowed_updates=null when none are set.
	if raw := p["allowed_updates"]; raw != "" && raw != "null" {
		if err := json.Unmarshal([]byte(raw), &allowed); err != nil {
			return nil, badRequest("can't parse allowed_updates JSON array")
		}
		if allowed == nil {
			allowed = []string{}
		}
	}

	s.mu.Lock()
	if s.polling {
		s.mu.Unlock()
		return nil, errConflict
	}
	s.polling = true
	if allowed != nil {
		s.allowed = allowed
	}
	s.confirm(offset)
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		s.polling = false
		s.mu.Unlock()
	}()

	var expired <-chan time.Time
	if timeout > 0 {
		tm := time.NewTimer(time.Duration(timeout) * time.Second)
		defer tm.Stop()
		expired = tm.C
	}
	for {
		s.mu.Lock()
		ups := s.pending(int(offset), int(limit))
		ch := s.changed
		s.mu.Unlock()
		if len(ups) > 0 || expired == nil {
			return ups, nil
		}
		select {
		case <-ch:
		case <-expired:
			return []wireUpdate{}, nil
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-s.done:
			return nil, errServerClosed
		}
	}
}

// confirm drops the updates an offset confirms; s.mu must be held.
func (s *Server) confirm(offset int64) {
	switch {
	case offset > 0:
		i := 0
		for i < len(s.updates) && int64(s.updates[i].UpdateID) < offset {
			i++
		}
		s.updates = s.updates[i:]
	case offset < 0:
		if keep := int(-offset); keep < len(s.updates) {
			s.updates = s.updates[len(s.updates)-keep:]
		}
	}
}

// pending lists up to limit unconfirmed updates from offset on, of the
// allowed kinds; s.mu must be held.
func (s *Server) pending(offset, limit int) []wireUpdate {
	out := []wireUpdate{}
	for _, u := range s.updates {
		if len(out) == limit {
			break
		}
		if u.UpdateID < offset || !s.isAllowed(u.kind()) {
			continue
		}
		out = append(out, u)
	}
	return out
}

func (s *Server) isAllowed(kind string) bool {
	return len(s.allowed) == 0 || slices.Contains(s.allowed, kind)
}
