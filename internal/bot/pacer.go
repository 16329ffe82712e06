package bot

import (
	"context"
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

// Pacer keeps Telegram's limits for everything one process sends: the
// dispatcher's notices and the poller's replies alike.
type Pacer struct {
	overall *rate.Limiter
	gap     time.Duration
	now     func() time.Time

	mu   sync.Mutex
	next map[int64]time.Time // per chat: the earliest time of its next message
}

// NewPacer returns a Pacer allowing perSecond messages a second overall
// and one per gap to a chat.
func NewPacer(perSecond float64, gap time.Duration, now func() time.Time) *Pacer {
	if now == nil {
		now = time.Now
	}
	return &Pacer{overall: rate.NewLimiter(rate.Limit(perSecond), 1), gap: gap, now: now, next: make(map[int64]time.Time)}
}

// TryChat takes the chat's turn if it has come, reporting otherwise when
// it comes. It does not wait.
func (p *Pacer) TryChat(chatID int64) (ok bool, at time.Time) {
	now := p.now()
	p.mu.Lock()
	defer p.mu.Unlock()
	if n := p.next[chatID]; now.Before(n) {
		return false, n
	}
	p.next[chatID] = now.Add(p.gap)
	p.forget(now)
	return true, time.Time{}
}

// Delay pushes the chat's next turn to at least t (after a 429).
func (p *Pacer) Delay(chatID int64, t time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if t.After(p.next[chatID]) {
		p.next[chatID] = t
	}
}

// Sent records that a message to the chat just went out: the gap counts
// from Telegram's answer, the latest moment it can have counted it.
func (p *Pacer) Sent(chatID int64) {
	p.Delay(chatID, p.now().Add(p.gap))
}

// WaitOverall blocks until the overall rate allows one more message.
func (p *Pacer) WaitOverall(ctx context.Context) error {
	return p.overall.Wait(ctx)
}

// Wait blocks until the chat's turn has come and takes it, then waits for
// the overall rate: for replies, which cannot be put off like notices.
func (p *Pacer) Wait(ctx context.Context, chatID int64) error {
	for {
		ok, at := p.TryChat(chatID)
		if ok {
			return p.WaitOverall(ctx)
		}
		t := time.NewTimer(at.Sub(p.now()))
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
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
