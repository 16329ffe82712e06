package e2e

import (
	"context"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"tgauth/internal/accounttest"
	"tgauth/internal/app"
	"tgauth/internal/bot"
	"tgauth/internal/config"
	"tgauth/internal/telegramtest"
)

// 1,000 notices through a Telegram that answers a third of the sends with
// a 429, a 500 page, a 502 or no answer at all past the client's timeout,
// and refuses some chats with 403: each notice is delivered or, for a
// refusing chat, given up with the reason; none is left waiting or leased. The dispatcher runs in-process, with short backoffs, on a
// real SQLite file, against the fake over HTTP.
func TestDeliveryUnderFaultMix(t *testing.T) {
	t.Parallel()
	const (
		notices = 1000
		chats   = 200
		// Every 25th chat has blocked the bot.
		blockEvery = 25
		// The client gives up on a hung call after this long.
		clientTimeout = 400 * time.Millisecond
		// Sends a second our pacer allows.
		faultMixRate = 500
	)
	tg := telegramtest.New(t, botToken, telegramtest.WithoutRateLimits())
	tg.FailRandomly("sendMessage", 20261125, 0.3,
		telegramtest.TooManyRequests(1), telegramtest.ServerError(), telegramtest.BadGateway(), telegramtest.Hang())
	for chat := int64(blockEvery); chat <= chats; chat += blockEvery {
		tg.BlockChat(chat)
	}
	ctx := waitCtx(t)
	cfg := config.Defaults()
	cfg.Database.Path = filepath.Join(t.TempDir(), "tgauth.db")
	rows := queueNotices(ctx, t, cfg.Database.Path, notices, chats)

	logs := &accounttest.LogBuffer{}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("dispatcher log:\n%s", logs)
		}
	})
	log := app.NewLogger(logs, cfg.Log)
	store, err := app.OpenStore(ctx, cfg.Database, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	key, err := app.CallbackKey(ctx, store)
	if err != nil {
		t.Fatal(err)
	}
	client := bot.NewClient(botToken, tg.URL, &http.Client{Timeout: clientTimeout})
	// Pacing of ours far above Telegram's: the fake keeps no flood limits,
	// and the 429s are the mix's. Not unlimited: a send that wakes more
	// than a slot (1/rate) late goes back to the queue, so a slot must
	// outlast a busy machine's timer delays.
	d := bot.NewDispatcher(store, client, bot.NewSigner(key), bot.NewPacer(faultMixRate, 0, nil), log, bot.DispatcherOptions{
		PollInterval: 10 * time.Millisecond,
		Lease:        10 * time.Second, // far above a send, hung ones included
		// Large batches and many workers, so hung sends, which hold up
		// the end of a batch, cost little time.
		Batch:      250,
		Workers:    32,
		MinBackoff: 5 * time.Millisecond,
		MaxBackoff: 100 * time.Millisecond,
	})
	runCtx, stop := context.WithCancel(ctx)
	defer stop()
	ran := make(chan error, 1)
	start := time.Now()
	go func() { ran <- d.Run(runCtx) }()

	db := openDB(t, cfg.Database.Path)
	err = pollUntil(ctx, func() (bool, error) {
		n := queryInt(ctx, t, db, `SELECT count(*) FROM outbox WHERE sent_at IS NULL AND dead_at IS NULL`)
		return n == 0, nil
	})
	settled := time.Since(start)
	stop()
	select {
	case err := <-ran:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the dispatcher did not stop within 30s of its context ending")
	}
	if err != nil {
		t.Fatalf("outbox: %v", err)
	}
	served := tg.FaultsServed("sendMessage")
	t.Logf("settled %d notices in %v: %d sendMessage calls, %d of them faults",
		notices, settled.Round(time.Millisecond), tg.Calls("sendMessage"), served)
	if served < notices/10 {
		t.Errorf("only %d faults served, want the mix to hit a good share of %d notices", served, notices)
	}

	if n := queryInt(ctx, t, db, `SELECT count(*) FROM outbox WHERE claimed_by IS NOT NULL OR claimed_until IS NOT NULL`); n != 0 {
		t.Errorf("%d rows still leased after the run, want none", n)
	}
	sends := sendsByName(t, tg.Sent())
	rs, err := db.QueryContext(ctx, `SELECT id, chat_id, sent_at IS NOT NULL, dead_at IS NOT NULL,
		coalesce(last_error, ''), coalesce(telegram_message_id, 0) FROM outbox`)
	if err != nil {
		t.Fatal(err)
	}
	defer rs.Close()
	var sent, dead, dups int
	for rs.Next() {
		var (
			id, chat       int64
			isSent, isDead bool
			reason         string
			msgID          int
		)
		if err := rs.Scan(&id, &chat, &isSent, &isDead, &reason, &msgID); err != nil {
			t.Fatal(err)
		}
		name := rows[id]
		got := sends[name]
		switch {
		case chat%blockEvery == 0:
			dead++
			if !isDead || isSent || len(got) != 0 {
				t.Errorf("row %d (%s) to a chat that blocked the bot: sent %v, dead %v, %d messages; want given up, none sent",
					id, name, isSent, isDead, len(got))
			} else if !strings.Contains(reason, "Forbidden: bot was blocked by the user") {
				t.Errorf("row %d (%s) given up for %q, want Telegram's 403 kept as the reason", id, name, reason)
			}
		default:
			sent++
			if !isSent || isDead {
				t.Errorf("row %d (%s): sent %v, dead %v (%q), want sent", id, name, isSent, isDead, reason)
			}
			if !slices.Contains(got, msgID) {
				t.Errorf("row %d (%s) marked as message %d; Telegram took it as %v", id, name, msgID, got)
			}
			dups += max(len(got)-1, 0)
		}
	}
	if err := rs.Err(); err != nil {
		t.Fatal(err)
	}
	if sent+dead != notices {
		t.Errorf("%d rows in the outbox, want %d", sent+dead, notices)
	}
	// A send answered after the client's timeout went out although the
	// dispatcher saw a failure: on a loaded machine a few may, and are
	// sent again. Many would mean retries of sends that succeeded.
	t.Logf("%d delivered, %d given up for a 403; %d duplicates", sent, dead, dups)
	if dups > notices/100 {
		t.Errorf("%d duplicates, want at most %d", dups, notices/100)
	}
}
