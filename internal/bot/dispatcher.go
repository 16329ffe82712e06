package bot

import (
	"context"
	"crypto/rand"
	"fmt"
	"log/slog"
	mrand "math/rand/v2"
	"sync"
	"time"

	"tgauth/internal/account"
	"tgauth/internal/metrics"
)

// DispatcherOptions tune a Dispatcher. Zero values take the defaults noted.
type DispatcherOptions struct {
	PollInterval time.Duration // 200ms: how often an idle dispatcher looks for due rows
	// Wake, when set, says that messages were queued (PostgreSQL's
	// LISTEN/NOTIFY): an idle dispatcher then sleeps until woken or until
	// the next message falls due, looking anyway every IdlePoll, instead
	// of polling every PollInterval.
	Wake        <-chan struct{}
	IdlePoll    time.Duration    // 5s
	Lease       time.Duration    // 30s: how long a claim lasts before another may take the row
	Batch       int              // 50: rows claimed at once
	Workers     int              // 8: sends in flight at once
	MinBackoff  time.Duration    // 2s: the first retry after a passing fault
	MaxBackoff  time.Duration    // 10m
	MaxAttempts int              // 25 failed tries and a message is given up
	Now         func() time.Time // time.Now
	Metrics     *metrics.Bot     // nil: none recorded
	// Sealer opens the reset codes the API sealed; nil for an outbox that
	// holds none (a sealed one is then given up, saying why).
	Sealer *account.Sealer
}

func (o *DispatcherOptions) defaults() {
	set := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	set(&o.PollInterval, 200*time.Millisecond)
	set(&o.Lease, 30*time.Second)
	set(&o.IdlePoll, 5*time.Second)
	set(&o.MinBackoff, 2*time.Second)
	set(&o.MaxBackoff, 10*time.Minute)
	if o.Batch <= 0 {
		o.Batch = 50
	}
	if o.Workers <= 0 {
		o.Workers = 8
	}
	if o.MaxAttempts <= 0 {
		o.MaxAttempts = 25
	}
	if o.Now == nil {
		o.Now = time.Now
	}
}

// Dispatcher delivers the outbox to Telegram at least once: it claims due
// rows under a lease, sends them within Telegram's limits, and marks each
// sent, rescheduled or dead. Any number may run against one database.
type Dispatcher struct {
	outbox   account.Outbox
	sender   Sender
	signer   *Signer
	pacer    *Pacer
	log      *slog.Logger
	opts     DispatcherOptions
	claimant string
}

// NewDispatcher returns a Dispatcher sending through sender, paced by
// pacer (shared with anything else this process sends).
func NewDispatcher(outbox account.Outbox, sender Sender, signer *Signer, pacer *Pacer, log *slog.Logger, opts DispatcherOptions) *Dispatcher {
	opts.defaults()
	id := make([]byte, 8)
	_, _ = rand.Read(id)
	return &Dispatcher{
		outbox: outbox, sender: sender, signer: signer, pacer: pacer, log: log, opts: opts,
		claimant: fmt.Sprintf("dispatcher-%x", id),
	}
}

// Run delivers until ctx ends. Sends in flight then finish (or their
// lease lapses and another dispatcher takes the rows); it returns nil.
func (d *Dispatcher) Run(ctx context.Context) error {
	for {
		n, err := d.pass(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			d.log.Warn("outbox pass failed", slog.String("error", err.Error()))
		}
		if n > 0 && err == nil {
			continue
		}
		t := time.NewTimer(d.idle(ctx))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil
		case <-d.opts.Wake: // nil without Wake: never ready
			t.Stop()
		case <-t.C:
		}
	}
}

// idle returns how long a dispatcher that found nothing to claim waits
// before it looks again.
func (d *Dispatcher) idle(ctx context.Context) time.Duration {
	if d.opts.Wake == nil {
		return d.opts.PollInterval
	}
	next, ok, err := d.outbox.NextDue(ctx)
	switch {
	case err != nil:
		d.log.Warn("outbox next due", slog.String("error", err.Error()))
		return d.opts.PollInterval
	case !ok:
		return d.opts.IdlePoll
	}
	return min(max(next.Sub(d.opts.Now()), 0), d.opts.IdlePoll)
}

// pass claims one batch and settles every row of it. It returns how many
// rows it claimed.
func (d *Dispatcher) pass(ctx context.Context) (int, error) {
	msgs, err := d.outbox.ClaimOutbox(ctx, d.claimant, d.opts.Now(), d.opts.Lease, d.opts.Batch)
	if err != nil || len(msgs) == 0 {
		return 0, err
	}
	// Settling must outlive a cancelled ctx: a send that went out is
	// marked, so it is not sent again.
	settle := context.WithoutCancel(ctx)
	var wg sync.WaitGroup
	workers := make(chan struct{}, d.opts.Workers)
	later := make(map[int64]time.Time, len(msgs)) // chat -> its next turn, once this batch has seen it
	for _, m := range msgs {
		// One message per chat per turn: the rest wait for the chat's
		// next turn, and no chat holds back the others.
		if next, seen := later[m.ChatID]; seen {
			d.opts.Metrics.Send(metrics.SendDeferred)
			d.reschedule(settle, m, next, false, "")
			continue
		}
		// A worker first, then the slot: a slot booked while every worker
		// is busy would be missed.
		select {
		case workers <- struct{}{}:
		case <-ctx.Done():
			d.opts.Metrics.Send(metrics.SendDeferred)
			d.reschedule(settle, m, d.opts.Now(), false, "")
			continue
		}
		ok, slot, retry := d.pacer.Reserve(ctx, m.ChatID)
		if !ok {
			<-workers
			later[m.ChatID] = retry
			d.opts.Metrics.Send(metrics.SendDeferred)
			d.reschedule(settle, m, retry, false, "")
			continue
		}
		later[m.ChatID] = slot.Add(d.pacer.turn())
		wg.Go(func() {
			defer func() { <-workers }()
			d.deliver(ctx, settle, m, slot)
		})
	}
	wg.Wait()
	return len(msgs), nil
}

// deliver sends one claimed message at its slot and settles it.
func (d *Dispatcher) deliver(ctx, settle context.Context, m account.OutboxMessage, slot time.Time) {
	now := d.opts.Now()
	n, err := account.DecodeNotice(m.Payload)
	if err != nil {
		d.dead(settle, m, m.Payload, fmt.Sprintf("notice %d: %v", m.ID, err))
		return
	}
	settled := n.Scrubbed() // the payload once the message is settled
	if n.Expired(now) {
		d.dead(settle, m, settled, "reset code expired before it could be sent")
		return
	}
	if err := n.Open(d.opts.Sealer); err != nil {
		d.dead(settle, m, settled, err.Error())
		return
	}
	msg, err := render(m, n, d.signer)
	if err != nil {
		d.dead(settle, m, settled, err.Error())
		return
	}
	if err := d.pacer.WaitSlot(ctx, slot); err != nil {
		// Late or stopping: the message goes back for a later pass.
		d.opts.Metrics.Send(metrics.SendDeferred)
		d.reschedule(settle, m, slot.Add(d.pacer.turn()), false, "")
		return
	}
	sendCtx, cancel := context.WithTimeout(settle, callTimeout)
	start := time.Now()
	id, err := d.sender.Send(sendCtx, msg)
	d.opts.Metrics.ObserveSend(time.Since(start))
	cancel()
	now = d.opts.Now()
	if err == nil {
		d.opts.Metrics.Send(metrics.SendSent)
		d.pacer.Sent(settle, m.ChatID)
		if err := d.outbox.MarkSent(settle, m.ID, d.claimant, id, settled, now); err != nil {
			d.log.Warn("outbox mark sent", slog.Int64("outbox_id", m.ID), slog.String("error", err.Error()))
		}
		d.log.Info("sent", slog.Int64("outbox_id", m.ID), slog.Int64("chat_id", m.ChatID), slog.String("kind", msg.Kind))
		return
	}
	switch outcome, wait := Classify(err); {
	case outcome == Permanent:
		d.dead(settle, m, settled, err.Error())
	case outcome == Throttled:
		d.opts.Metrics.Throttled()
		d.opts.Metrics.Send(metrics.SendRetried)
		d.pacer.Delay(settle, m.ChatID, now.Add(wait))
		d.reschedule(settle, m, now.Add(wait), false, err.Error())
	case m.Attempts+1 >= d.opts.MaxAttempts:
		d.dead(settle, m, settled, fmt.Sprintf("gave up after %d tries: %s", m.Attempts+1, err))
	default:
		d.opts.Metrics.Send(metrics.SendRetried)
		d.reschedule(settle, m, now.Add(d.backoff(m.Attempts)), true, err.Error())
	}
}

// backoff is the wait before try attempts+2: exponential from MinBackoff,
// capped at MaxBackoff, with ±20% jitter so retries do not march in step.
func (d *Dispatcher) backoff(attempts int) time.Duration {
	b := d.opts.MinBackoff << min(attempts, 20)
	if b <= 0 || b > d.opts.MaxBackoff {
		b = d.opts.MaxBackoff
	}
	return time.Duration(float64(b) * (0.8 + 0.4*mrand.Float64())) // #nosec G404 -- jitter, not a secret
}

func (d *Dispatcher) reschedule(ctx context.Context, m account.OutboxMessage, next time.Time, failed bool, reason string) {
	if failed {
		d.log.Warn("send failed, will retry", slog.Int64("outbox_id", m.ID), slog.Int64("chat_id", m.ChatID),
			slog.Time("next_attempt_at", next), slog.String("error", reason))
	}
	if err := d.outbox.Reschedule(ctx, m.ID, d.claimant, next, failed, reason); err != nil {
		d.log.Warn("outbox reschedule", slog.Int64("outbox_id", m.ID), slog.String("error", err.Error()))
	}
}

// dead gives m up, keeping payload (its notice without the code) and why.
func (d *Dispatcher) dead(ctx context.Context, m account.OutboxMessage, payload []byte, reason string) {
	d.opts.Metrics.Send(metrics.SendDead)
	d.log.Warn("message given up", slog.Int64("outbox_id", m.ID), slog.Int64("chat_id", m.ChatID),
		slog.String("kind", string(m.Kind)), slog.String("reason", reason))
	if err := d.outbox.MarkDead(ctx, m.ID, d.claimant, reason, payload, d.opts.Now()); err != nil {
		d.log.Warn("outbox mark dead", slog.Int64("outbox_id", m.ID), slog.String("error", err.Error()))
	}
}
