package bot

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"tgauth/internal/account"
)

// What the bot says to people who write to it. Plain text: no parse mode,
// so nothing in a name can be taken for markup.
const (
	replyHelp = "Commands:\n" +
		"/start – show this chat's id (the id to register with)\n" +
		"/whoami – the accounts linked to this chat\n" +
		"/reset – send a password reset code for a linked account to this chat\n" +
		"/unlink – unlink an account from this chat\n" +
		"/help – this list"
	replyBadLink = "This link is used, expired or unknown, so no account was linked to this chat. " +
		"Ask your app for a new link and open it within 15 minutes."
	replyFailed        = "Something went wrong. Please try again in a moment."
	replyNoAccount     = "No account is linked to this chat."
	replyWhichReset    = "Which account? A password reset code for it will be sent to this chat."
	replyInvalidButton = "This button is not valid."
	replyStaleButton   = "That is no longer possible: the account is not linked to this chat."
	replyCancelled     = "Cancelled."
)

func replyStart(chatID int64) string {
	return fmt.Sprintf("This chat's id is %d.\n\n"+
		"To create an account that uses this chat, register with %d as its account "+
		"(the \"account\" field). To link an account you already have, open the link your app gives you.\n\n"+
		"/help lists the commands.", chatID, chatID)
}

func replyResetQueued(name string) string {
	return "A reset code for " + name + " is on its way."
}

func replyResetRecent(name string) string {
	return "A reset code for " + name + " was sent less than a minute ago: use that one, or try again in a minute."
}

// parseCommand splits a bot command, "/name[@botname] [arg]", into its
// lower-cased name and its argument with surrounding space trimmed. ok is
// false for a text that is not a command: one that does not start with "/"
// followed by a name of ASCII letters, digits and "_".
func parseCommand(text string) (name, arg string, ok bool) {
	rest, found := strings.CutPrefix(text, "/")
	if !found {
		return "", "", false
	}
	word := rest
	if i := strings.IndexFunc(rest, unicode.IsSpace); i >= 0 {
		word, arg = rest[:i], rest[i:]
	}
	// "@botname" addresses one bot in a group; in a private chat it can
	// only be us.
	name, _, _ = strings.Cut(word, "@")
	if name == "" || len(name) > 32 {
		return "", "", false
	}
	for _, c := range []byte(name) {
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && (c < '0' || c > '9') && c != '_' {
			return "", "", false
		}
	}
	return strings.ToLower(name), strings.TrimSpace(arg), true
}

// handleMessage answers a message in a private chat; groups get nothing.
// Anything that is not a known command gets the help text.
func (p *Poller) handleMessage(ctx context.Context, msg *tgbotapi.Message) error {
	if msg.Chat == nil || !msg.Chat.IsPrivate() {
		return nil
	}
	chatID := msg.Chat.ID
	err := p.command(ctx, chatID, msg.Text)
	if err == nil {
		return nil
	}
	text, unexpected := replyFor(err)
	if !unexpected {
		err = nil
	}
	return errors.Join(err, p.say(ctx, chatID, text))
}

// command carries out one message's command; an error is answered from
// the replies table.
func (p *Poller) command(ctx context.Context, chatID int64, text string) error {
	name, arg, _ := parseCommand(text)
	switch name {
	case "start":
		return p.start(ctx, chatID, arg)
	case "whoami":
		return p.whoami(ctx, chatID)
	case "reset":
		return p.reset(ctx, chatID)
	case "unlink":
		return p.unlink(ctx, chatID)
	default:
		return p.say(ctx, chatID, replyHelp)
	}
}

// errNoAccount: a command's account is not (any more) linked to the chat.
var errNoAccount = errors.New("no account linked to this chat")

// replies is the one table from an error to what the chat is told, as
// httpapi's problemFor is for HTTP: the first entry the error matches
// wins. An error that matches none is unexpected: the chat is told
// replyFailed and the error is logged.
var replies = []struct {
	err  error
	text string
}{
	{errBadButton, replyInvalidButton},
	{errNoAccount, replyNoAccount},
	{account.ErrInvalidCode, replyBadLink},
	{account.ErrNotFound, replyStaleButton},
}

// replyFor returns what the chat is told for err, and whether err was
// unexpected.
func replyFor(err error) (text string, unexpected bool) {
	for _, r := range replies {
		if errors.Is(err, r.err) {
			return r.text, false
		}
	}
	return replyFailed, true
}

// say sends text to chatID.
func (p *Poller) say(ctx context.Context, chatID int64, text string) error {
	return p.reply(ctx, Message{ChatID: chatID, Text: text})
}

func (p *Poller) start(ctx context.Context, chatID int64, code string) error {
	if code == "" {
		return p.say(ctx, chatID, replyStart(chatID))
	}
	if _, err := p.accounts.BindChat(ctx, code, chatID); err != nil {
		return fmt.Errorf("start: %w", err)
	}
	// Linked. BindChat queued an "account linked" notice in the same
	// transaction, which the dispatcher delivers: replying here as well
	// would say it twice.
	return nil
}

// chatAccounts returns the accounts linked to chatID for the command cmd,
// or none after telling the chat it has none.
func (p *Poller) chatAccounts(ctx context.Context, chatID int64, cmd string) ([]account.User, error) {
	users, err := p.accounts.ChatAccounts(ctx, chatID)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", cmd, err)
	}
	if len(users) == 0 {
		return nil, p.say(ctx, chatID, replyNoAccount)
	}
	return users, nil
}

func (p *Poller) whoami(ctx context.Context, chatID int64) error {
	users, err := p.chatAccounts(ctx, chatID, "whoami")
	if err != nil || users == nil {
		return err
	}
	if len(users) == 1 {
		return p.say(ctx, chatID, "This chat is linked to "+users[0].Name()+".")
	}
	var b strings.Builder
	b.WriteString("This chat is linked to these accounts:")
	for _, u := range users {
		b.WriteString("\n• " + u.Name())
	}
	return p.say(ctx, chatID, b.String())
}

func (p *Poller) reset(ctx context.Context, chatID int64) error {
	users, err := p.chatAccounts(ctx, chatID, "reset")
	if err != nil || users == nil {
		return err
	}
	if len(users) == 1 {
		u, queued, err := p.accounts.ResetFromChat(ctx, chatID, users[0].ID)
		switch {
		case errors.Is(err, account.ErrNotFound): // unlinked meanwhile
			return errNoAccount
		case err != nil:
			return fmt.Errorf("reset: %w", err)
		case !queued:
			return p.say(ctx, chatID, replyResetRecent(u.Name()))
		}
		return p.say(ctx, chatID, replyResetQueued(u.Name()))
	}
	rows := make([][]Button, len(users))
	for i, u := range users {
		rows[i] = []Button{{Text: u.Name(), Data: p.signer.Sign(chatID, ActionReset, strconv.FormatInt(u.ID, 10))}}
	}
	return p.reply(ctx, Message{ChatID: chatID, Text: replyWhichReset, Buttons: rows})
}

func (p *Poller) unlink(ctx context.Context, chatID int64) error {
	users, err := p.chatAccounts(ctx, chatID, "unlink")
	if err != nil || users == nil {
		return err
	}
	text := "Unlink " + users[0].Name() + " from this chat? It will no longer get reset codes or notices here."
	if len(users) > 1 {
		text = "Which account should be unlinked from this chat? It will no longer get reset codes or notices here."
	}
	rows := make([][]Button, 0, len(users)+1)
	for _, u := range users {
		rows = append(rows, []Button{{
			Text: "Unlink " + u.Name(),
			Data: p.signer.Sign(chatID, ActionUnlink, strconv.FormatInt(u.ID, 10)),
		}})
	}
	rows = append(rows, []Button{{Text: "Cancel", Data: p.signer.Sign(chatID, ActionCancel, "0")}})
	return p.reply(ctx, Message{ChatID: chatID, Text: text, Buttons: rows})
}

// errBadButton: a button whose data is signed but makes no sense.
var errBadButton = errors.New("bad button")

// pressOutcome is what a button press did: Answer pops up over the chat;
// Edit, when not "", is added to the message, whose buttons go (Replace:
// it becomes the message's whole text). Name is the account the edit
// names, shown as code (Message.Inert).
type pressOutcome struct {
	Answer  string
	Edit    string
	Replace bool
	Name    string
}

// handleCallback acts on a button press. The query is answered exactly
// once on every path (Telegram shows a spinner until it is), and the
// message is edited only when something was done.
func (p *Poller) handleCallback(ctx context.Context, q *tgbotapi.CallbackQuery) error {
	answered := false
	answer := func(text string) error {
		answered = true
		return p.client.AnswerCallback(ctx, q.ID, text)
	}
	defer func() {
		if !answered { // a panic on the way; handle logs it
			_ = p.client.AnswerCallback(ctx, q.ID, replyFailed)
		}
	}()

	msg := q.Message
	if msg == nil || msg.Chat == nil {
		// An inline-mode message: we never send buttons there.
		return answer(replyInvalidButton)
	}
	chatID := msg.Chat.ID
	action, arg, ok := p.signer.Verify(chatID, q.Data)
	if !ok {
		return answer(replyInvalidButton)
	}
	out, err := p.press(ctx, chatID, action, arg)
	if err != nil {
		text, unexpected := replyFor(err)
		if !unexpected {
			err = nil
		}
		return errors.Join(err, answer(text))
	}
	if err := answer(out.Answer); err != nil {
		return err
	}
	if out.Edit == "" {
		return nil
	}
	text := out.Edit
	if !out.Replace && msg.Text != "" && len(msg.Text)+len(out.Edit) < 4000 {
		text = msg.Text + "\n\n" + out.Edit
	}
	if err := p.client.EditText(ctx, chatID, msg.MessageID, text, out.Name); err != nil && !notModified(err) {
		return err
	}
	return nil
}

// press carries out a verified button's action for chatID.
func (p *Poller) press(ctx context.Context, chatID int64, action, arg string) (pressOutcome, error) {
	switch action {
	case ActionCancel:
		return pressOutcome{Answer: replyCancelled, Edit: replyCancelled, Replace: true}, nil
	case ActionNotMe:
		u, err := p.accounts.SignOutFromChat(ctx, chatID, arg)
		if err != nil {
			return pressOutcome{}, err
		}
		return pressOutcome{
			Answer: "Signed out everywhere.",
			Edit:   "Signed out everywhere: every session of " + u.Name() + " has ended.",
			Name:   u.Name(),
		}, nil
	}

	userID, err := strconv.ParseInt(arg, 10, 64)
	if err != nil {
		return pressOutcome{}, errBadButton
	}
	switch action {
	case ActionClaimYes, ActionClaimNo:
		yes := action == ActionClaimYes
		u, err := p.accounts.AnswerChatClaim(ctx, chatID, userID, yes)
		if err != nil {
			return pressOutcome{}, err
		}
		if !yes {
			return pressOutcome{Answer: "Not linked.", Edit: u.Name() + " is not linked to this chat.", Replace: true, Name: u.Name()}, nil
		}
		return pressOutcome{
			Answer:  "Linked.",
			Edit:    "This chat is now linked to " + u.Name() + ". Password-reset codes and security notices for it will come here.",
			Replace: true,
			Name:    u.Name(),
		}, nil
	case ActionUnlink:
		u, err := p.accounts.UnlinkChat(ctx, chatID, userID)
		if err != nil {
			return pressOutcome{}, err
		}
		return pressOutcome{
			Answer: "Unlinked.",
			Edit:   u.Name() + " is no longer linked to this chat.",
			Name:   u.Name(),
		}, nil
	case ActionReset:
		u, queued, err := p.accounts.ResetFromChat(ctx, chatID, userID)
		if err != nil {
			return pressOutcome{}, err
		}
		if !queued {
			// Keep the buttons: they work again in a minute.
			return pressOutcome{Answer: "A code was sent less than a minute ago: use that one, or try again in a minute."}, nil
		}
		return pressOutcome{Answer: "A reset code is on its way.", Edit: replyResetQueued(u.Name()), Name: u.Name()}, nil
	}
	return pressOutcome{}, errBadButton
}

// notModified reports whether an edit failed only because the message
// already reads so, as after a second press of the same button.
func notModified(err error) bool {
	var apiErr *tgbotapi.Error
	return errors.As(err, &apiErr) && strings.Contains(apiErr.Message, "message is not modified")
}
