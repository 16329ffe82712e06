package bot

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// Telegram's limits for one bot: about 30 messages a second overall and
// one a second to a chat. The exact figures are not published; we stay a
// little under them and honour every retry_after.
const (
	OverallRate = 28 // messages per second
	PerChatGap  = time.Second
)

// SharedTurns keeps pacing state in the database, so that every bot
// replica on it keeps one set of limits: postgres.Store.
type SharedTurns interface {
	// TakeChatTurn takes the chat's turn if it has come (setting the
	// next to now+gap), or reports when it comes.
	TakeChatTurn(ctx context.Context, chatID int64, now time.Time, gap time.Duration) (ok bool, at time.Time, err error)
	// DelayChat pushes the chat's next turn to at least t.
	DelayChat(ctx context.Context, chatID int64, t time.Time) error
	// TakeSendSlot reserves the bot's next free send slot, interval apart
	// from the one before, and returns when it is.
	TakeSendSlot(ctx context.Context, now time.Time, interval time.Duration) (at time.Time, err error)
}

// SharedStore is a store several bot replicas can share (postgres.Store;
// cmd/bot checks that it still is at compile time): pacing is kept in it,
// it says when rows are queued, and it lets one replica at a time poll
// Telegram for updates.
type SharedStore interface {
	SharedTurns
	ListenOutbox(ctx context.Context, wake chan<- struct{}) error
	RunExclusive(ctx context.Context, key string, fn func(context.Context) error) error
}

// sharedTimeout bounds one pacing query: a pacer waiting on a stuck
// database would stall every send.
const sharedTimeout = 5 * time.Second

// Pacer keeps Telegram's limits for everything one bot sends: the
// dispatcher's notices and the poller's replies alike. NewPacer keeps them
// in this process (one bot replica); NewSharedPacer in the database, for
// every replica together.
type Pacer struct {
	gap    time.Duration
	now    func() time.Time
	shared SharedTurns   // nil: the state below
	every  time.Duration // the time between two send slots
	log    *slog.Logger

	overall *rate.Limiter
	mu      sync.Mutex
	next    map[int64]time.Time // per chat: the earliest time of its next message
}

// NewPacer returns a Pacer allowing perSecond messages a second overall
// and one per gap to a chat, counted in this process.
func NewPacer(perSecond float64, gap time.Duration, now func() time.Time) *Pacer {
	if now == nil {
		now = time.Now
	}
	return &Pacer{
		overall: rate.NewLimiter(rate.Limit(perSecond), 1), every: time.Duration(float64(time.Second) / perSecond),
		gap: gap, now: now, next: make(map[int64]time.Time),
	}
}

// NewSharedPacer returns a Pacer like NewPacer's whose state is turns', so
// that the limits hold across processes. Failures of turns are logged and
// put sends off rather than risk a 429.
func NewSharedPacer(turns SharedTurns, perSecond float64, gap time.Duration, now func() time.Time, log *slog.Logger) *Pacer {
	if now == nil {
		now = time.Now
	}
	return &Pacer{shared: turns, every: time.Duration(float64(time.Second) / perSecond), gap: gap, now: now, log: log}
}

// Reserve books the next send slot the overall rate allows and, for that
// moment, the chat's turn: ok, the caller sends to the chat at slot (and
// reports Sent); not ok, the chat's turn comes at retry and nothing is
// booked. The turn is taken for the slot's time, not for now, so that a
// send waiting for its slot cannot overlap the chat's next turn, which may
// be another replica's; and a tenth of the gap longer, as the send may go
// out a little after its slot while the next one goes out on time. It
// does not wait.
func (p *Pacer) Reserve(ctx context.Context, chatID int64) (ok bool, slot, retry time.Time) {
	now := p.now()
	if p.shared != nil {
		ctx, cancel := context.WithTimeout(ctx, sharedTimeout)
		defer cancel()
		slot, err := p.shared.TakeSendSlot(ctx, now, p.every)
		if err == nil {
			ok, retry, err = p.shared.TakeChatTurn(ctx, chatID, slot, p.turn())
		}
		if err != nil {
			p.log.Warn("pacing: reserve", slog.String("error", err.Error()))
			return false, time.Time{}, now.Add(p.gap)
		}
		return ok, slot, retry // a refused chat wastes the slot: a race between replicas
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	r := p.overall.ReserveN(now, 1)
	slot = now.Add(r.DelayFrom(now))
	if n := p.next[chatID]; slot.Before(n) {
		r.CancelAt(now)
		return false, time.Time{}, n
	}
	p.next[chatID] = slot.Add(p.turn())
	p.forget(now)
	return true, slot, time.Time{}
}

// turn is how long a reservation holds the chat: the gap and a margin.
func (p *Pacer) turn() time.Duration { return p.gap + p.gap/10 }

// Delay pushes the chat's next turn to at least t (after a 429).
func (p *Pacer) Delay(ctx context.Context, chatID int64, t time.Time) {
	if p.shared != nil {
		// The send is over; its record must not be lost with the caller's ctx.
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), sharedTimeout)
		defer cancel()
		if err := p.shared.DelayChat(ctx, chatID, t); err != nil {
			p.log.Warn("pacing: delay chat", slog.String("error", err.Error()))
		}
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.After(p.next[chatID]) {
		p.next[chatID] = t
	}
}

// Sent records that a message to the chat just went out: the gap counts
// from Telegram's answer, the latest moment it can have counted it.
func (p *Pacer) Sent(ctx context.Context, chatID int64) {
	p.Delay(ctx, chatID, p.now().Add(p.gap))
}

// ErrLate is WaitSlot's answer when it woke too long after the slot.
var ErrLate = errors.New("pacing: woke too late for the send slot")

// minLate is the least lateness WaitSlot calls late, whatever the rate: a
// timer may well fire that much after its time.
const minLate = 5 * time.Millisecond

// WaitSlot sleeps until slot. It returns ErrLate when it woke more than one
// slot's length after it (a busy machine): the send must not go out then,
// as late sends bunch up with the ones on time and break the overall rate.
func (p *Pacer) WaitSlot(ctx context.Context, slot time.Time) error {
	if err := sleep(ctx, slot.Sub(p.now())); err != nil {
		return err
	}
	if p.now().Sub(slot) > max(p.every, minLate) {
		return ErrLate
	}
	return nil
}

// Wait blocks until the chat may be sent to, and books that send: for
// replies, which cannot be put off like notices.
func (p *Pacer) Wait(ctx context.Context, chatID int64) error {
	for {
		ok, slot, retry := p.Reserve(ctx, chatID)
		if ok {
			err := p.WaitSlot(ctx, slot)
			if !errors.Is(err, ErrLate) {
				return err
			}
			continue // the chat stays booked until slot+turn: Reserve says when
		}
		if err := sleep(ctx, retry.Sub(p.now())); err != nil {
			return err
		}
	}
}

// sleep waits d or until ctx ends, returning ctx's error then.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// forget drops chats whose turn has long come, keeping the map small.
// Callers hold p.mu.
func (p *Pacer) forget(now time.Time) {
	if len(p.next) < 4096 {
		return
	}
	for id, n := range p.next {
		if now.After(n) {
			delete(p.next, id)
		}
	}
}
