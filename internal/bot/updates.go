package bot

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime/debug"
	"time"

	tgbotapi "github.com/go-telegram-bot-api/telegram-bot-api/v5"

	"tgauth/internal/account"
	"tgauth/internal/metrics"
)

// Poller defaults.
const (
	pollDefaultWait       = 25 * time.Second
	pollDefaultMinBackoff = time.Second
	pollDefaultMaxBackoff = time.Minute

	// pollHandleTimeout bounds the handling of one update. An update in hand
	// when Run's ctx ends is still finished within it, so that a code
	// spent by BindChat, say, is not left without its reply.
	pollHandleTimeout = 15 * time.Second
	// pollConfirmTimeout bounds the call that confirms handled updates on the
	// way out.
	pollConfirmTimeout = 2 * time.Second
	// maxReplyRetryAfter is the longest 429 retry_after a reply waits out
	// (once) before it is given up.
	maxReplyRetryAfter = 30 * time.Second
)

// Poller reads updates with long polling and answers them. Only one Poller
// may run per bot token (Telegram answers 409 to a second); run it in one
// replica.
//
// Updates are handled one at a time, in order: a chat's replies keep the
// order of its messages.
type Poller struct {
	client   *Client
	accounts *account.Service
	signer   *Signer
	log      *slog.Logger

	wait       time.Duration
	minBackoff time.Duration
	maxBackoff time.Duration
	pace       func(ctx context.Context, chatID int64) error
	sent       func(ctx context.Context, chatID int64)
	metrics    *metrics.Bot
}

// PollerOptions tune a Poller. Zero values take the defaults noted.
type PollerOptions struct {
	// Wait is the long-poll timeout: 25s. Telegram counts it in whole
	// seconds; less than a second is taken as one.
	Wait time.Duration
	// MinBackoff and MaxBackoff bound the wait after a failed poll: 1s and
	// 60s, doubling with each failure in a row, with jitter. A 429's
	// retry_after is honoured when it is longer.
	MinBackoff, MaxBackoff time.Duration
	// Pace is called before every message the poller sends to a chat, so
	// that replies share the dispatcher's rate limits; an error drops the
	// reply. Nil: no pacing.
	Pace func(ctx context.Context, chatID int64) error
	// Sent is called after Telegram accepted a reply, so that the chat's
	// gap counts from then (Pacer.Sent), as it does for notices. Nil:
	// nothing is recorded.
	Sent func(ctx context.Context, chatID int64)
	// Metrics counts updates and 429s; nil records none.
	Metrics *metrics.Bot
}

// NewPoller returns a Poller that reads updates through client and acts
// on them through accounts, checking buttons with signer.
func NewPoller(client *Client, accounts *account.Service, signer *Signer, log *slog.Logger, opts PollerOptions) *Poller {
	p := &Poller{
		client:     client,
		accounts:   accounts,
		signer:     signer,
		log:        log,
		wait:       cmp.Or(opts.Wait, pollDefaultWait),
		minBackoff: cmp.Or(opts.MinBackoff, pollDefaultMinBackoff),
		maxBackoff: cmp.Or(opts.MaxBackoff, pollDefaultMaxBackoff),
		pace:       opts.Pace,
		sent:       opts.Sent,
		metrics:    opts.Metrics,
	}
	// Telegram's timeout is whole seconds: 0 would turn the long poll into
	// a busy loop.
	p.wait = max(p.wait, time.Second)
	p.minBackoff = max(p.minBackoff, time.Millisecond)
	p.maxBackoff = max(p.maxBackoff, p.minBackoff)
	return p
}

// Run polls until ctx ends, then returns nil. It never logs the bot token
// (the Client's errors are redacted) nor a message's text.
func (p *Poller) Run(ctx context.Context) error {
	var (
		offset    int  // the next update wanted: last handled update_id + 1
		confirmed int  // the offset of the last poll Telegram answered
		failures  int  // failed polls in a row
		conflict  bool // a 409 was logged in this run of failures
	)
	for ctx.Err() == nil {
		updates, err := p.client.Updates(ctx, offset, p.wait)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			failures++
			delay := p.pollFailed(err, failures, &conflict)
			if sleep(ctx, delay) != nil {
				break
			}
			continue
		}
		confirmed, failures, conflict = offset, 0, false
		for _, u := range updates {
			if ctx.Err() != nil {
				break // the rest come again on the next start
			}
			if u.UpdateID < offset {
				continue // already handled
			}
			p.handle(ctx, u)
			offset = u.UpdateID + 1
		}
	}
	if offset != confirmed {
		p.confirm(ctx, offset)
	}
	return nil
}

// pollFailed logs a failed poll and returns how long to wait before the
// next.
func (p *Poller) pollFailed(err error, failures int, conflict *bool) time.Duration {
	delay := p.backoff(failures)
	outcome, retryAfter := Classify(err)
	var apiErr *tgbotapi.Error
	switch {
	case errors.As(err, &apiErr) && apiErr.Code == http.StatusConflict:
		// Another poller (or a webhook) holds this token. Say so once, not
		// on every retry, and keep backing off: it may go away.
		if !*conflict {
			*conflict = true
			p.log.Warn("another bot instance is polling with this token; only one may run",
				"error", err.Error(), "retry_in", delay)
		}
	case outcome == Throttled:
		p.metrics.Throttled()
		delay = max(delay, retryAfter)
		p.log.Warn("telegram throttled getUpdates", "retry_in", delay)
	case outcome == Permanent:
		// 401 (a wrong token) and the like: nothing this loop can fix, but
		// it keeps trying so a corrected server-side state is picked up.
		p.log.Error("get updates refused", "error", err.Error(), "failures", failures, "retry_in", delay)
	default:
		p.log.Warn("get updates failed", "error", err.Error(), "failures", failures, "retry_in", delay)
	}
	return delay
}

// backoff is the wait after failures failed polls in a row: MinBackoff
// doubled per failure up to MaxBackoff, of which a random half is taken
// off so that restarted replicas do not retry in step.
func (p *Poller) backoff(failures int) time.Duration {
	d := p.minBackoff
	for i := 1; i < failures && d < p.maxBackoff; i++ {
		d *= 2
	}
	d = min(d, p.maxBackoff)
	half := d / 2
	return d - half + rand.N(half+1) // #nosec G404 -- jitter, not a secret
}

// confirm tells Telegram that the updates below offset are handled, so a
// restart does not handle them again. Telegram confirms on the next
// getUpdates; on the way out that is a short one of its own.
func (p *Poller) confirm(ctx context.Context, offset int) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pollConfirmTimeout)
	defer cancel()
	// Whatever this returns is left for the next start: it is not
	// confirmed by this call.
	if _, err := p.client.Updates(ctx, offset, 0); err != nil {
		p.log.Warn("confirm handled updates", "error", err.Error(), "offset", offset)
	}
}

// handle answers one update. A panic or an error is logged with the chat
// and update id, never the text, and does not reach the loop.
func (p *Poller) handle(ctx context.Context, u tgbotapi.Update) {
	chatID := updateChatID(u)
	defer func() {
		if r := recover(); r != nil {
			p.log.Error("update handler panicked", "update_id", u.UpdateID, "chat_id", chatID,
				"panic", fmt.Sprint(r), "stack", string(debug.Stack()))
		}
	}()
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), pollHandleTimeout)
	defer cancel()

	var err error
	switch {
	case u.Message != nil:
		p.metrics.Update(metrics.UpdateMessage)
		err = p.handleMessage(ctx, u.Message)
	case u.CallbackQuery != nil:
		p.metrics.Update(metrics.UpdateCallback)
		err = p.handleCallback(ctx, u.CallbackQuery)
	default:
		p.metrics.Update(metrics.UpdateOther)
	}
	if err != nil {
		p.log.Error("handle update", "update_id", u.UpdateID, "chat_id", chatID, "error", err.Error())
	}
}

func updateChatID(u tgbotapi.Update) int64 {
	switch {
	case u.Message != nil && u.Message.Chat != nil:
		return u.Message.Chat.ID
	case u.CallbackQuery != nil && u.CallbackQuery.Message != nil && u.CallbackQuery.Message.Chat != nil:
		return u.CallbackQuery.Message.Chat.ID
	}
	return 0
}

// reply sends m after pacing. A 429 (which pacing should prevent) is
// waited out once.
func (p *Poller) reply(ctx context.Context, m Message) error {
	for attempt := 0; ; attempt++ {
		if p.pace != nil {
			if err := p.pace(ctx, m.ChatID); err != nil {
				return fmt.Errorf("pace reply: %w", err)
			}
		}
		_, err := p.client.Send(ctx, m)
		if err == nil {
			if p.sent != nil {
				p.sent(ctx, m.ChatID)
			}
			return nil
		}
		outcome, retryAfter := Classify(err)
		if outcome == Throttled {
			p.metrics.Throttled()
		}
		if outcome != Throttled || attempt > 0 || retryAfter > maxReplyRetryAfter {
			return err
		}
		if sleep(ctx, retryAfter) != nil {
			return err
		}
	}
}
