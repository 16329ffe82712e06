package telegramtest

import (
	"cmp"
	"encoding/json"
	"slices"
	"time"
)

// typedMessage is a text the user sent in their chat with the bot.
type typedMessage struct {
	id   int
	date int64
	text string
}

// ChatMessage is one message of a private chat with the bot, as a Telegram
// app shows it now: after its edits, with the inline keyboard it has left.
type ChatMessage struct {
	ID       int             `json:"id"`
	FromUser bool            `json:"from_user"` // else from the bot
	Date     time.Time       `json:"date"`
	Text     string          `json:"text"`
	Entities json.RawMessage `json:"entities,omitempty"` // as sent; offsets in UTF-16 units
	Buttons  [][]ChatButton  `json:"buttons,omitempty"`
	Edited   bool            `json:"edited"`
}

// ChatButton is one inline keyboard button: Data is sent back when it is
// pressed, URL opened instead.
type ChatButton struct {
	Text string `json:"text"`
	Data string `json:"data,omitempty"`
	URL  string `json:"url,omitempty"`
}

// Chat returns the messages of chatID's private chat with the bot, oldest
// first.
func (s *Server) Chat(chatID int64) []ChatMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []ChatMessage
	for _, m := range s.typed[chatID] {
		out = append(out, ChatMessage{ID: m.id, FromUser: true, Date: time.Unix(m.date, 0).UTC(), Text: m.text})
	}
	for k, m := range s.messages {
		if k.chatID != chatID {
			continue
		}
		cm := ChatMessage{ID: k.messageID, Date: time.Unix(m.date, 0).UTC(), Text: m.text, Edited: m.edited}
		if m.entities != "" {
			cm.Entities = json.RawMessage(m.entities)
		}
		if m.markup != "" {
			var kb struct {
				InlineKeyboard [][]struct {
					Text         string `json:"text"`
					CallbackData string `json:"callback_data"`
					URL          string `json:"url"`
				} `json:"inline_keyboard"`
			}
			_ = json.Unmarshal([]byte(m.markup), &kb) // checked when sent
			for _, row := range kb.InlineKeyboard {
				var r []ChatButton
				for _, b := range row {
					r = append(r, ChatButton{Text: b.Text, Data: b.CallbackData, URL: b.URL})
				}
				cm.Buttons = append(cm.Buttons, r)
			}
		}
		out = append(out, cm)
	}
	slices.SortFunc(out, func(a, b ChatMessage) int { return cmp.Compare(a.ID, b.ID) })
	return out
}

// Chats returns the chats that have a message, in ascending order.
func (s *Server) Chats() []int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ids []int64
	for id := range s.typed {
		ids = append(ids, id)
	}
	for k := range s.messages {
		ids = append(ids, k.chatID)
	}
	slices.Sort(ids)
	return slices.Compact(ids)
}

// ChatAnswers returns the texts the bot answered chatID's button presses
// with, oldest first: what an app shows for a moment over the chat.
func (s *Server) ChatAnswers(chatID int64) []CallbackAnswer {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []CallbackAnswer
	for _, a := range s.answers {
		if s.callbackChat[a.CallbackQueryID] == chatID {
			out = append(out, a)
		}
	}
	return out
}
