package bot

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"path/filepath"
	"sort"
	"testing"
	"testing/synctest"
	"time"

	"tgauth/internal/account"
	"tgauth/internal/store/sqlite"
	"tgauth/internal/telegramtest"
)

// A burst of 500 notices to 50 chats keeps Telegram's limits. It runs in
// a synctest bubble: the dispatcher, the pacer and the fake share a fake
// clock, so the ten seconds the burst needs pass at once and the limits
// are measured on that clock, not by sleeping.
func TestDispatchBurstKeepsLimits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		st, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "tgauth.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		if _, err := st.Migrate(ctx); err != nil {
			t.Fatal(err)
		}
		const chats, perChat = 50, 10
		now := time.Now().UTC()
		err = st.InTx(ctx, func(tx account.Tx) error {
			for i := range chats * perChat {
				payload, _ := json.Marshal(account.Notice{Account: "bob", At: now})
				m := &account.OutboxMessage{ChatID: int64(1000 + i/perChat), Kind: account.NoticeSignedOut,
					Payload: payload, CreatedAt: now, NextAttemptAt: now}
				if err := tx.InsertOutbox(ctx, m); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}

		tg := telegramtest.New(t, dispatchToken, telegramtest.WithoutListener())
		client := NewClient(dispatchToken, tg.URL, tg.Client())
		log := slog.New(slog.NewTextHandler(io.Discard, nil))
		d := NewDispatcher(st, client, NewSigner([]byte("k")), NewPacer(OverallRate, PerChatGap, nil), log, DispatcherOptions{})
		done := make(chan error, 1)
		start := time.Now()
		go func() { done <- d.Run(ctx) }()

		waitCtx, stop := context.WithTimeout(ctx, 5*time.Minute) // fake time
		defer stop()
		sent, err := tg.WaitForSent(waitCtx, chats*perChat)
		if err != nil {
			t.Fatalf("sent %d of %d: %v", len(tg.Sent()), chats*perChat, err)
		}
		elapsed := time.Since(start)
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run = %v", err)
		}

		if v := tg.LimitViolations(); v != 0 {
			t.Errorf("the fake refused %d sends for Telegram's limits", v)
		}
		byChat := map[int64][]time.Time{}
		var all []time.Time
		for _, m := range sent {
			byChat[m.ChatID] = append(byChat[m.ChatID], m.At)
			all = append(all, m.At)
		}
		for chat, times := range byChat {
			if len(times) != perChat {
				t.Errorf("chat %d got %d messages, want %d", chat, len(times), perChat)
			}
			for i := 1; i < len(times); i++ {
				if gap := times[i].Sub(times[i-1]); gap < PerChatGap {
					t.Errorf("chat %d: messages %v apart", chat, gap)
				}
			}
		}
		sort.Slice(all, func(i, j int) bool { return all[i].Before(all[j]) })
		for i := range all {
			j := i
			for j < len(all) && all[j].Sub(all[i]) < time.Second {
				j++
			}
			if n := j - i; n > 30 {
				t.Fatalf("%d messages within one second from %v", n, all[i])
			}
		}
		// 500 messages at 28/s take about 18s; well beyond means stalls.
		if elapsed > 40*time.Second {
			t.Errorf("the burst took %v of fake time", elapsed)
		}
		t.Logf("500 notices to 50 chats in %v of fake time", elapsed)
	})
}
