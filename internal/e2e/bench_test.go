package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"slices"
	"strconv"
	"testing"
	"time"

	"tgauth/internal/account"
	"tgauth/internal/bot"
	"tgauth/internal/telegramtest"
)

// Both benchmarks use b.N rather than b.Loop: each needs b.N rows or
// accounts in the database before its clock starts.

// BenchmarkNoticeDelivery measures the dispatcher alone: b.N notices to
// many chats, queued straight into the outbox, delivered to a fake with no
// rate limits through a pacer that allows any rate, so what is left is
// claiming, rendering, sending and settling.
func BenchmarkNoticeDelivery(b *testing.B) {
	s := newStack(b, telegramtest.WithoutRateLimits())
	ctx, cancel := context.WithTimeout(b.Context(), 10*time.Minute)
	defer cancel()

	const chats = 1000
	now := time.Now().UTC()
	kinds := []account.NoticeKind{account.NoticeSignedOut, account.NoticeNewSignIn, account.NoticePasswordChanged}
	err := s.store.InTx(ctx, func(tx account.Tx) error {
		for i := range b.N {
			chat := int64(1 + i%chats)
			payload, err := json.Marshal(account.Notice{
				UserID: chat, Account: "user" + strconv.FormatInt(chat, 10), At: now,
				SessionID: fmt.Sprintf("bench-session-%06d", i), IP: "192.0.2.1",
			})
			if err != nil {
				return err
			}
			err = tx.InsertOutbox(ctx, &account.OutboxMessage{
				ChatID: chat, Kind: kinds[i%len(kinds)], Payload: payload, CreatedAt: now, NextAttemptAt: now,
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	p := s.newBot(botOptions{pacer: bot.NewPacer(1e9, 0, nil), dispatcherOnly: true})

	b.ResetTimer()
	start := time.Now()
	p.start()
	if _, err := s.tg.WaitForSent(ctx, b.N); err != nil {
		b.Fatal(err)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "notices/s")
}

// BenchmarkResetCodeLatency measures how long a reset code takes to reach
// the chat after POST /v1/auth/forgot_password has answered, with the bot
// as cmd/bot runs it: the dispatcher's default 200ms poll, the default
// pacer, a fake that keeps Telegram's limits. Each iteration is a fresh
// account, so no per-chat gap or resend interval gets in the way.
//
// forgot_password commits the code and then holds its answer until 100ms
// have passed since the request, so a code can reach the chat before the
// answer: p50-ms and p99-ms, from the answer, may be negative; the
// -from-request figures count from when the request was sent. With b.N
// iterations p99 is the worst of fewer than 100 samples when b.N < 100.
func BenchmarkResetCodeLatency(b *testing.B) {
	s := newStack(b)
	ctx, cancel := context.WithTimeout(b.Context(), 10*time.Minute)
	defer cancel()

	chat := func(i int) int64 { return int64(700000 + i) }
	for i := range b.N {
		s.register(ctx, "user"+strconv.Itoa(i), chat(i))
	}
	// The "account linked" notices are for accounts registered long ago:
	// settle them as sent, so that each chat's first message is its code.
	const claimant = "bench-setup"
	for {
		msgs, err := s.store.ClaimOutbox(ctx, claimant, time.Now(), time.Minute, 500)
		if err != nil {
			b.Fatal(err)
		}
		if len(msgs) == 0 {
			break
		}
		for _, m := range msgs {
			if err := s.store.MarkSent(ctx, m.ID, claimant, 0, m.Payload, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	}
	s.startBot(botOptions{})

	fromAnswer := make([]time.Duration, 0, b.N)
	fromRequest := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := range b.N {
		// Requests come at random times, not in step with the
		// dispatcher's poll: without this pause each one would start
		// just after the poll that sent the code before.
		b.StopTimer()
		pause := time.NewTimer(rand.N(pollInterval))
		select {
		case <-pause.C:
		case <-ctx.Done():
			b.Fatal(ctx.Err())
		}
		b.StartTimer()

		asked := time.Now()
		s.expect(ctx, http.MethodPost, "/v1/auth/forgot_password", "", map[string]string{"username": "user" + strconv.Itoa(i)},
			http.StatusOK)
		answered := time.Now()
		m, err := s.tg.WaitForMessage(ctx, chat(i))
		if err != nil {
			b.Fatal(err)
		}
		resetCode(b, m.Text)
		fromAnswer = append(fromAnswer, m.At.Sub(answered))
		fromRequest = append(fromRequest, m.At.Sub(asked))
	}
	b.StopTimer()
	b.ReportMetric(ms(percentile(fromAnswer, 0.50)), "p50-ms")
	b.ReportMetric(ms(percentile(fromAnswer, 0.99)), "p99-ms")
	// forgot_password answers no sooner than 100ms after it asked, and
	// the code may be sent meanwhile: from the request, too.
	b.ReportMetric(ms(percentile(fromRequest, 0.50)), "p50-from-request-ms")
	b.ReportMetric(ms(percentile(fromRequest, 0.99)), "p99-from-request-ms")
}

// pollInterval is the dispatcher's default, which BenchmarkResetCodeLatency
// runs with.
const pollInterval = 200 * time.Millisecond

// percentile returns the nearest-rank p-th percentile of ds.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(math.Ceil(p*float64(len(s)))) - 1
	return s[min(max(i, 0), len(s)-1)]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
