package bot

import (
	"context"
	"errors"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/time/rate"

	"tgauth/internal/telegramtest"
)

func TestNewPollerDefaults(t *testing.T) {
	p := NewPoller(nil, nil, nil, nil, PollerOptions{})
	if p.wait != 25*time.Second || p.minBackoff != time.Second || p.maxBackoff != time.Minute || p.pace != nil {
		t.Errorf("defaults = wait %v, backoff %v..%v, pace %v", p.wait, p.minBackoff, p.maxBackoff, p.pace != nil)
	}
	p = NewPoller(nil, nil, nil, nil, PollerOptions{Wait: time.Millisecond, MinBackoff: time.Second, MaxBackoff: time.Millisecond})
	if p.wait != time.Second || p.maxBackoff != time.Second {
		t.Errorf("Wait 1ms, MaxBackoff < MinBackoff: wait %v, max backoff %v, want 1s and 1s", p.wait, p.maxBackoff)
	}
}

func TestBackoff(t *testing.T) {
	p := NewPoller(nil, nil, nil, nil, PollerOptions{MinBackoff: time.Second, MaxBackoff: time.Minute})
	for failures := 1; failures <= 12; failures++ {
		base := min(time.Second<<(failures-1), time.Minute)
		for range 50 {
			if d := p.backoff(failures); d < base/2 || d > base {
				t.Fatalf("backoff(%d) = %v, want within [%v, %v]", failures, d, base/2, base)
			}
		}
	}
	if d := p.backoff(1000); d > time.Minute {
		t.Errorf("backoff(1000) = %v, want at most MaxBackoff", d)
	}
}

func TestGroupsIgnored(t *testing.T) {
	e := newEnv(t)
	e.run(testPollerOptions)
	e.register("alice", 42)
	groups := []int64{-100, -1_000_000_000_123}
	for _, g := range groups {
		for _, text := range []string{"/start", "/help", "/whoami", "/reset", "/unlink", "/start@tgauth_test_bot abc", "hello"} {
			e.tg.InjectMessage(g, text)
		}
	}
	e.barrier()
	for _, g := range groups {
		if sent := e.tg.SentTo(g); len(sent) != 0 {
			t.Errorf("sent to group %d: %+v, want nothing", g, sent)
		}
	}
	if n := len(e.outbox()); n != 1 { // alice's account_linked
		t.Errorf("outbox rows = %d, want 1", n)
	}
}

// runPoller starts a Poller whose context the test controls.
func runPoller(e *env, opts PollerOptions) (cancel context.CancelFunc, done <-chan error) {
	p := NewPoller(e.client, e.svc, e.signer, e.log, opts)
	ctx, cancel := context.WithCancel(context.Background())
	ch := make(chan error, 1)
	go func() {
		ch <- p.Run(ctx)
		close(ch) // a second receive (the cleanup's) gets nil at once
	}()
	e.t.Cleanup(func() { cancel(); <-ch })
	return cancel, ch
}

func TestRunStopsAndConfirms(t *testing.T) {
	e := newEnv(t)
	// Two updates in one batch; the poller is stopped while it handles
	// the first: that one is finished and confirmed, the second is left
	// for the next start.
	e.tg.InjectMessage(1, "/help")
	e.tg.InjectMessage(2, "/help")
	entered, release := make(chan struct{}), make(chan struct{})
	opts := testPollerOptions
	opts.Pace = func(ctx context.Context, chatID int64) error {
		if chatID == 1 {
			close(entered)
			<-release
		}
		return nil
	}
	cancel, done := runPoller(e, opts)
	<-entered
	cancel()
	close(release)
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-e.waitCtx().Done():
		t.Fatal("Run did not return after cancel")
	}
	if n := len(e.tg.SentTo(1)); n != 1 {
		t.Errorf("replies to the update in hand = %d, want 1", n)
	}
	if n := len(e.tg.SentTo(2)); n != 0 {
		t.Errorf("replies to the update after the cancel = %d, want 0", n)
	}

	e.run(testPollerOptions)
	e.next(2)
	e.barrier()
	if n := len(e.tg.SentTo(1)); n != 1 {
		t.Errorf("after a restart, replies to chat 1 = %d, want still 1 (confirmed on exit)", n)
	}
}

func TestRunStopsDuringLongPoll(t *testing.T) {
	e := newEnv(t)
	cancel, done := runPoller(e, PollerOptions{Wait: time.Hour})
	e.say(42, "/help") // the poller is up; now it waits in a long poll
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-e.waitCtx().Done():
		t.Fatal("Run did not return after cancel")
	}
}

func TestPollerRestartGetsConflict(t *testing.T) {
	e := newEnv(t)
	stop := e.run(testPollerOptions)
	e.say(42, "/help")
	stop()
	// The fake may still count the stopped poll as in flight and answer
	// the next one 409: the new poller backs off and gets through.
	e.run(testPollerOptions)
	if m := e.say(42, "/start"); m.Text != replyStart(42) {
		t.Errorf("reply = %q", m.Text)
	}
	if n := len(e.tg.SentTo(42)); n != 2 {
		t.Errorf("messages to chat 42 = %d, want 2: an update was handled twice", n)
	}
}

// TestPollerRecovers runs on the bubble's clock, so backoffs, a hung call
// and a 429's retry_after pass at once.
func TestPollerRecovers(t *testing.T) {
	a := newAccounts(t)
	synctest.Test(t, func(t *testing.T) {
		tg := telegramtest.New(t, testToken, telegramtest.WithoutListener(), telegramtest.WithoutRateLimits())
		e := newEnvWith(t, a, tg, NewClient(testToken, tg.URL, tg.Client()))
		e.waitFor = time.Hour
		tg.FailNext("getUpdates", telegramtest.Hang())
		tg.FailNext("getUpdates", telegramtest.ServerError())
		tg.FailNext("getUpdates", telegramtest.BadGateway())
		tg.FailNext("getUpdates", telegramtest.TooManyRequests(30))
		conflict := telegramtest.APIError(409, "Conflict: terminated by other getUpdates request; make sure that only one bot instance is running")
		tg.FailNext("getUpdates", conflict)
		tg.FailNext("getUpdates", conflict)
		tg.FailNext("getUpdates", conflict)
		tg.FailNext("getUpdates", telegramtest.APIError(401, "Unauthorized"))
		tg.InjectMessage(42, "/help")

		start := time.Now()
		cancel, done := runPoller(e, PollerOptions{MinBackoff: time.Second, MaxBackoff: 4 * time.Second})
		m := e.next(42)
		elapsed := time.Since(start)
		if m.Text != replyHelp {
			t.Errorf("reply = %q, want the help text", m.Text)
		}
		// The hang lasts the Client's bound (25s poll + 15s), the 429 its
		// retry_after; the backoffs add at least 0.5+1+2+2+2+2+2 s.
		if min := 40*time.Second + 30*time.Second + 11*time.Second; elapsed < min || elapsed > min+20*time.Second {
			t.Errorf("reply after %v, want about %v of waiting", elapsed, min)
		}
		synctest.Wait() // the poller is back in a long poll
		if n := tg.Calls("getUpdates"); n != 10 {
			t.Errorf("getUpdates calls = %d, want 10 (8 failures, the update, the next poll)", n)
		}

		logs := e.logs.String()
		if n := strings.Count(logs, "another bot instance is polling"); n != 1 {
			t.Errorf("conflict warnings = %d, want 1:\n%s", n, logs)
		}
		if strings.Contains(logs, testTokenSecret) {
			t.Errorf("the log holds the bot token:\n%s", logs)
		}
		for _, want := range []string{"context deadline exceeded", "retry_in=30s", "level=ERROR msg=\"get updates refused\""} {
			if !strings.Contains(logs, want) {
				t.Errorf("log lacks %q:\n%s", want, logs)
			}
		}

		// After a success, a new conflict is worth a new warning.
		tg.FailNext("getUpdates", conflict) // for the poll after the one waiting now
		e.say(42, "/help")
		synctest.Wait() // the poller has met the conflict and waits out its backoff
		if n := strings.Count(e.logs.String(), "another bot instance is polling"); n != 2 {
			t.Errorf("conflict warnings = %d, want 2", n)
		}

		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	})
}

// TestReplyThrottled: a reply refused with 429 is sent again after
// retry_after; with Pace keeping one message a second per chat, none is
// refused.
func TestReplyThrottled(t *testing.T) {
	a := newAccounts(t)
	t.Run("no pacing", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tg := telegramtest.New(t, testToken, telegramtest.WithoutListener())
			e := newEnvWith(t, a, tg, NewClient(testToken, tg.URL, tg.Client()))
			e.waitFor = time.Minute
			tg.InjectMessage(42, "/help")
			tg.InjectMessage(42, "/start")
			cancel, done := runPoller(e, testPollerOptions)
			m1, m2 := e.next(42), e.next(42)
			if m1.Text != replyHelp || m2.Text != replyStart(42) {
				t.Errorf("replies = %q, %q", m1.Text, m2.Text)
			}
			if d := m2.At.Sub(m1.At); d < time.Second {
				t.Errorf("second reply %v after the first, want at least 1s", d)
			}
			if n := tg.LimitViolations(); n != 1 {
				t.Errorf("LimitViolations = %d, want 1 (the refused reply)", n)
			}
			cancel()
			<-done
		})
	})
	t.Run("paced", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			tg := telegramtest.New(t, testToken, telegramtest.WithoutListener())
			e := newEnvWith(t, a, tg, NewClient(testToken, tg.URL, tg.Client()))
			e.waitFor = time.Minute
			var mu sync.Mutex
			limiters := map[int64]*rate.Limiter{}
			opts := testPollerOptions
			opts.Pace = func(ctx context.Context, chatID int64) error {
				mu.Lock()
				l, ok := limiters[chatID]
				if !ok {
					l = rate.NewLimiter(rate.Every(time.Second), 1)
					limiters[chatID] = l
				}
				mu.Unlock()
				return l.Wait(ctx)
			}
			for range 3 {
				tg.InjectMessage(42, "/help")
			}
			cancel, done := runPoller(e, opts)
			for range 3 {
				e.next(42)
			}
			if n := tg.LimitViolations(); n != 0 {
				t.Errorf("LimitViolations = %d, want 0", n)
			}
			cancel()
			<-done
		})
	})
}

// TestHandlerFailures: an error or a panic in one update's handling is
// logged with its chat and update id, never its text, and the loop goes on.
func TestHandlerFailures(t *testing.T) {
	e := newEnv(t)
	var mu sync.Mutex
	var paced []int64
	opts := testPollerOptions
	opts.Pace = func(ctx context.Context, chatID int64) error {
		mu.Lock()
		paced = append(paced, chatID)
		mu.Unlock()
		switch chatID {
		case 13:
			return errors.New("pace refused")
		case 666:
			panic("pace exploded")
		}
		return nil
	}
	e.run(opts)
	u13 := e.tg.InjectMessage(13, "/start secret-text-one")
	u666 := e.tg.InjectMessage(666, "/help secret-text-two")
	e.barrier()

	if n := len(e.tg.SentTo(13)) + len(e.tg.SentTo(666)); n != 0 {
		t.Errorf("%d replies to the failed chats, want 0", n)
	}
	mu.Lock()
	if want := []int64{13, 666, barrierChat}; !slices.Equal(paced, want) {
		t.Errorf("Pace calls = %v, want %v", paced, want)
	}
	mu.Unlock()
	logs := e.logs.String()
	for _, want := range []string{
		"msg=\"handle update\" update_id=" + strconv.Itoa(u13) + " chat_id=13 error=\"pace reply: pace refused\"",
		"msg=\"update handler panicked\" update_id=" + strconv.Itoa(u666) + " chat_id=666 panic=\"pace exploded\"",
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("log lacks %q:\n%s", want, logs)
		}
	}
	if strings.Contains(logs, "secret-text") {
		t.Errorf("the log holds a message's text:\n%s", logs)
	}
}

// TestCallbackPanicAnswered: a panic while handling a button press still
// answers it, so the user's spinner stops.
func TestCallbackPanicAnswered(t *testing.T) {
	e := newEnv(t)
	p := NewPoller(e.client, nil, e.signer, e.log, testPollerOptions) // no service: a press panics
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- p.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })

	id := e.tg.InjectCallback(42, 1, e.signer.Sign(42, ActionUnlink, "1"))
	a, err := e.tg.WaitForAnswer(e.waitCtx(), id)
	if err != nil {
		t.Fatal(err)
	}
	if a.Text != replyFailed {
		t.Errorf("answer = %q, want %q", a.Text, replyFailed)
	}
	e.barrier() // the loop goes on
	if !strings.Contains(e.logs.String(), "update handler panicked") {
		t.Errorf("log lacks the panic:\n%s", e.logs)
	}
}
