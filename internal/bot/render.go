package bot

import (
	"fmt"
	"net/netip"
	"strconv"
	"time"

	"tgauth/internal/account"
)

// render turns an outbox message, whose notice is n (decoded and opened), into the text a person reads. Times are
// shown in UTC: the bot does not know the reader's zone.
func render(m account.OutboxMessage, n account.Notice, signer *Signer) (Message, error) {
	name := "“" + n.Account + "”"
	// The name is the account's own, but a registration may send it to
	// any chat: it is shown as code, never as a link.
	out := Message{ChatID: m.ChatID, Kind: string(m.Kind), Inert: []string{n.Account}}
	switch m.Kind {
	case account.NoticeConfirmChat:
		arg := strconv.FormatInt(n.UserID, 10)
		out.Text = "The account " + name + " was registered at " + clock(n.At) + " with this chat's id. " +
			"Link it to this chat? Password-reset codes and security notices for it would come here.\n\n" +
			"If you did not register it, press No: nothing more about it will be sent here."
		out.Buttons = [][]Button{{
			{Text: "Yes, link it", Data: signer.Sign(m.ChatID, ActionClaimYes, arg)},
			{Text: "No", Data: signer.Sign(m.ChatID, ActionClaimNo, arg)},
		}}
	case account.NoticeChatMoved:
		out.Text = "The account " + name + " was moved to another Telegram chat at " + clock(n.At) +
			", with its password. Every other session was signed out, and its reset codes and notices now go to the other chat.\n\n" +
			"If this was not you, someone has your password: sign in and change it if you still can, or ask your administrator."
	case account.NoticeResetPaused:
		out.Text = "Someone entered " + fmt.Sprint(account.MaxCodeFailures) + " wrong password reset codes for " + name +
			" in the last day, so codes asked for through the app are paused until " + clock(n.LockedUntil) + ".\n\n" +
			"If you need to reset your password, send /reset here: that code only this chat can ask for."
	case account.NoticeAccountLinked:
		out.Text = "This chat is now linked to the account " + name + ". Password-reset codes and security notices for it will come here.\n\n" +
			"If you did not link it, send /unlink."
	case account.NoticeResetCode:
		out.Inert = append(out.Inert, n.Code) // monospace: an app copies it with a tap
		out.Text = "Your password reset code for " + name + " is " + n.Code + "\n\n" +
			"It works once, until " + clock(n.ExpiresAt) + ". If you did not ask for it, ignore this message: your password stays as it is."
	case account.NoticePasswordChanged:
		out.Text = "The password of " + name + " was changed at " + clock(n.At) + ". Every other session was signed out.\n\n" +
			"If this was not you, send /reset now to take the account back."
	case account.NoticePasswordReset:
		out.Text = "The password of " + name + " was reset with a code at " + clock(n.At) + ", and every session was signed out.\n\n" +
			"If this was not you, send /reset now to take the account back."
	case account.NoticeNewSignIn:
		out.Text = "New sign-in to " + name + " at " + clock(n.At) + from(n) + ".\n\n" +
			"If this was you, there is nothing to do."
		out.Buttons = [][]Button{{{Text: "Not me: sign out everywhere", Data: signer.Sign(m.ChatID, ActionNotMe, n.SessionID)}}}
	case account.NoticeSignedOut:
		out.Text = "Every session of " + name + " was signed out at " + clock(n.At) + "."
	case account.NoticeAccountLocked:
		out.Text = "Sign-ins to " + name + " are blocked until " + clock(n.LockedUntil) + " after " +
			fmt.Sprint(account.MaxFailedLogins) + " wrong passwords in a row.\n\n" +
			"If this was not you, someone may be guessing your password: send /reset to choose a new one."
	case account.NoticeRefreshReused:
		out.Text = "A sign-in token of " + name + " was used twice, which can mean it was copied. The session it belonged to" +
			from(n) + " has been signed out.\n\nIf you do not recognise it, send /reset to change your password."
	default:
		return Message{}, fmt.Errorf("render notice %d: unknown kind %q", m.ID, m.Kind)
	}
	return out, nil
}

// clock formats a time for a notice: "2026-11-25 12:00 UTC".
func clock(t time.Time) string {
	return t.UTC().Format("2006-01-02 15:04 MST")
}

// from describes where a session came from: its address, when it is one,
// and the device its agent names (see device), or nothing when unknown.
func from(n account.Notice) string {
	var out string
	if ip, err := netip.ParseAddr(n.IP); err == nil {
		out = " from " + ip.String()
	}
	if n.UserAgent != "" {
		out += " (" + device(n.UserAgent) + ")"
	}
	return out
}
