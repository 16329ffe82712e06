// Package bot is tgauth's Telegram side: a dispatcher that delivers the
// outbox to chats, and the handling of what people send the bot (commands
// and button presses). Both call account.Service; neither holds a rule of
// its own about accounts.
package bot

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode/utf16"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"
)

// Message is one message to send to a chat: plain text, optionally with
// inline buttons.
type Message struct {
	ChatID  int64
	Text    string
	Buttons [][]Button // rows of buttons; nil for none
	// Inert are user-supplied strings in Text (an account name): each
	// place they appear is sent as code, which no Telegram app shows as
	// a link, a mention or a command.
	Inert []string
	// Kind names what the message is, for logs; it is not sent.
	Kind string
}

// Button is an inline button whose press sends Data back to the bot.
type Button struct {
	Text string
	Data string // at most 64 bytes
}

// Sender sends a message to a chat and returns Telegram's message id.
type Sender interface {
	Send(ctx context.Context, m Message) (int, error)
}

// Client talks to the Telegram Bot API through go-telegram-bot-api, with
// what that library lacks: a context and a timeout on every call, no
// getMe at start (so the bot starts while Telegram is unreachable), and
// errors from which the bot token has been removed.
type Client struct {
	token string
	base  tgbotapi.BotAPI
	http  *http.Client
}

// NewClient returns a Client for the bot token at apiURL (Telegram's
// https://api.telegram.org, a self-hosted Bot API server, or a fake).
// httpClient carries no timeout of its own: each call sets one.
func NewClient(token, apiURL string, httpClient *http.Client) *Client {
	c := &Client{token: token, http: httpClient}
	c.base = tgbotapi.BotAPI{Token: token, Buffer: 100}
	c.base.SetAPIEndpoint(strings.TrimRight(apiURL, "/") + "/bot%s/%s")
	return c
}

// callTimeout bounds a call other than a long poll.
const callTimeout = 15 * time.Second

// api returns a BotAPI whose requests carry ctx. The library builds its
// requests without a context, so each call gets a copy of the base with a
// client that adds one.
func (c *Client) api(ctx context.Context) *tgbotapi.BotAPI {
	b := c.base
	b.Client = ctxDoer{ctx: ctx, c: c.http}
	return &b
}

type ctxDoer struct {
	ctx context.Context
	c   *http.Client
}

func (d ctxDoer) Do(r *http.Request) (*http.Response, error) {
	return d.c.Do(r.WithContext(d.ctx)) // #nosec G704 -- the configured telegram.api_url
}

// Send sends m and returns its message id.
func (c *Client) Send(ctx context.Context, m Message) (int, error) {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	cfg := tgbotapi.NewMessage(m.ChatID, m.Text)
	cfg.Entities = codeEntities(m.Text, m.Inert)
	cfg.DisableWebPagePreview = true
	if m.Buttons != nil {
		cfg.ReplyMarkup = keyboard(m.Buttons)
	}
	sent, err := c.api(ctx).Send(cfg)
	if err != nil {
		return 0, c.redact(fmt.Errorf("send message: %w", err))
	}
	return sent.MessageID, nil
}

// Updates long-polls for updates from offset on, waiting up to wait.
func (c *Client) Updates(ctx context.Context, offset int, wait time.Duration) ([]tgbotapi.Update, error) {
	ctx, cancel := context.WithTimeout(ctx, wait+callTimeout)
	defer cancel()
	cfg := tgbotapi.NewUpdate(offset)
	cfg.Timeout = int(wait / time.Second)
	cfg.AllowedUpdates = []string{"message", "callback_query"}
	updates, err := c.api(ctx).GetUpdates(cfg)
	if err != nil {
		return nil, c.redact(fmt.Errorf("get updates: %w", err))
	}
	return updates, nil
}

// AnswerCallback acknowledges a button press, showing text to the user.
func (c *Client) AnswerCallback(ctx context.Context, id, text string) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	if _, err := c.api(ctx).Request(tgbotapi.NewCallback(id, text)); err != nil {
		return c.redact(fmt.Errorf("answer callback: %w", err))
	}
	return nil
}

// EditText replaces the text of a message the bot sent, dropping its
// buttons; inert are shown as code, as Message.Inert.
func (c *Client) EditText(ctx context.Context, chatID int64, messageID int, text string, inert ...string) error {
	ctx, cancel := context.WithTimeout(ctx, callTimeout)
	defer cancel()
	cfg := tgbotapi.NewEditMessageText(chatID, messageID, text)
	cfg.Entities = codeEntities(text, inert)
	cfg.DisableWebPagePreview = true
	if _, err := c.api(ctx).Request(cfg); err != nil {
		return c.redact(fmt.Errorf("edit message: %w", err))
	}
	return nil
}

func keyboard(rows [][]Button) tgbotapi.InlineKeyboardMarkup {
	kb := make([][]tgbotapi.InlineKeyboardButton, len(rows))
	for i, row := range rows {
		for _, b := range row {
			kb[i] = append(kb[i], tgbotapi.NewInlineKeyboardButtonData(b.Text, b.Data))
		}
	}
	return tgbotapi.NewInlineKeyboardMarkup(kb...)
}

// redact returns err without the bot token in its text: transport errors
// (*url.Error) print the request URL, which holds the token. An API error
// keeps its type, so callers can still read its code.
func (c *Client) redact(err error) error {
	if c.token == "" || !strings.Contains(err.Error(), c.token) {
		return err
	}
	return &redactedError{msg: strings.ReplaceAll(err.Error(), c.token, "<token>"), err: err}
}

// redactedError carries the text of an error with the token removed. It
// unwraps to the original so errors.Is and errors.As still work; only its
// text is safe to log.
type redactedError struct {
	msg string
	err error
}

func (e *redactedError) Error() string { return e.msg }
func (e *redactedError) Unwrap() error { return e.err }

// Outcome is what a failed send means for the message.
type Outcome int

// Outcomes of a failed send.
const (
	// Transient: a passing fault (5xx, network, timeout): back off, retry.
	Transient Outcome = iota
	// Throttled: Telegram answered 429: retry after the time it gave.
	Throttled
	// Permanent: the chat cannot receive (blocked, not found, a bad
	// request): retrying will not help.
	Permanent
)

// Classify tells what a send error means, and for Throttled how long
// Telegram asked us to wait.
func Classify(err error) (Outcome, time.Duration) {
	var apiErr *tgbotapi.Error
	if !errors.As(err, &apiErr) {
		return Transient, 0
	}
	switch {
	case apiErr.Code == http.StatusTooManyRequests:
		return Throttled, time.Duration(max(apiErr.RetryAfter, 1)) * time.Second
	case apiErr.Code == http.StatusForbidden, apiErr.Code == http.StatusBadRequest,
		apiErr.Code == http.StatusUnauthorized, apiErr.Code == http.StatusNotFound:
		return Permanent, 0
	default:
		return Transient, 0
	}
}

// DryRun is a Sender that logs what it would send instead of calling
// Telegram: the chat and the kind of message, never its text (which may
// hold a code). Messages it "sends" count as delivered.
type DryRun struct {
	Log *slog.Logger
}

// Send logs m's chat and kind and returns message id 0.
func (d DryRun) Send(ctx context.Context, m Message) (int, error) {
	d.Log.InfoContext(ctx, "dry run: would send", slog.Int64("chat_id", m.ChatID), slog.String("kind", m.Kind),
		slog.Int("buttons", len(m.Buttons)))
	return 0, nil
}

// codeEntities marks every place one of inert appears in text as code,
// but where it overlaps a place marked already (a code inside an account
// name): Telegram refuses overlapping entities. Offsets and lengths count
// UTF-16 units, as Telegram does.
func codeEntities(text string, inert []string) []tgbotapi.MessageEntity {
	var (
		ents   []tgbotapi.MessageEntity
		marked = make([]bool, len(text))
	)
	for _, part := range inert {
		if part == "" {
			continue
		}
		for i := 0; ; {
			j := strings.Index(text[i:], part)
			if j < 0 {
				break
			}
			start := i + j
			i = start + len(part)
			if slices.Contains(marked[start:i], true) {
				continue
			}
			for k := start; k < i; k++ {
				marked[k] = true
			}
			ents = append(ents, tgbotapi.MessageEntity{
				Type:   "code",
				Offset: utf16Len(text[:start]),
				Length: utf16Len(part),
			})
		}
	}
	return ents
}

func utf16Len(s string) int {
	n := 0
	for _, r := range s {
		n += utf16.RuneLen(r)
	}
	return n
}
