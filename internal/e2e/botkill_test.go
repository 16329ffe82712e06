package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"path/filepath"
	"regexp"
	"slices"
	"testing"
	"time"

	"tgauth/internal/account"
	"tgauth/internal/app"
	"tgauth/internal/config"
	"tgauth/internal/telegramtest"
)

// queueNotices puts n "signed out" notices into the outbox of the database
// at path, spread over chats chats, in one transaction, and returns the
// account name each row's text carries, by row id. The names are unique,
// so every message sent tells which row it came from.
func queueNotices(ctx context.Context, t *testing.T, path string, n, chats int) map[int64]string {
	t.Helper()
	cfg := config.Defaults()
	cfg.Database.Path = path
	store, err := app.OpenStore(ctx, cfg.Database, app.NewLogger(io.Discard, cfg.Log))
	if err != nil {
		t.Fatal(err)
	}
	defer store.Close()
	now := time.Now().UTC()
	rows := make(map[int64]string, n)
	err = store.InTx(ctx, func(tx account.Tx) error {
		for i := range n {
			name := fmt.Sprintf("n%04d", i)
			payload, err := json.Marshal(account.Notice{UserID: int64(i + 1), Account: name, At: now})
			if err != nil {
				return err
			}
			m := &account.OutboxMessage{
				ChatID: int64(1 + i%chats), Kind: account.NoticeSignedOut, Payload: payload,
				CreatedAt: now, NextAttemptAt: now,
			}
			if err := tx.InsertOutbox(ctx, m); err != nil {
				return err
			}
			rows[m.ID] = name
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != n {
		t.Fatalf("queued %d rows with distinct ids, want %d", len(rows), n)
	}
	return rows
}

// noticeName finds the account name in a sent notice.
var noticeName = regexp.MustCompile(`“(n[0-9]{4})”`)

// sendsByName counts the messages sent for each account name, and keeps
// the message ids sent for it.
func sendsByName(t *testing.T, sent []telegramtest.Sent) map[string][]int {
	t.Helper()
	out := make(map[string][]int)
	for _, m := range sent {
		sm := noticeName.FindStringSubmatch(m.Text)
		if sm == nil {
			t.Errorf("message %q to chat %d names no queued notice", m.Text, m.ChatID)
			continue
		}
		out[sm[1]] = append(out[sm[1]], m.MessageID)
	}
	return out
}

// The real cmd/bot binary, killed with SIGKILL while it works through a
// burst and started again on the same file, delivers every notice at least
// once and settles every row. What it had sent but not yet marked when it
// died goes out twice, once the dead process's lease lapses; the test
// counts those duplicates.
func TestBotKilledMidBurst(t *testing.T) {
	t.Parallel()
	const (
		notices = 200
		chats   = 100
		// The dispatcher's default: sends in flight at once, so the most
		// a kill can leave sent and unmarked.
		workers = 8
	)
	bin := buildCommand(t, "bot")
	// Each answer takes a while to come back, so sends are in flight, some
	// already accepted, when the kill comes.
	tg := telegramtest.New(t, botToken, telegramtest.WithSendLatency(100*time.Millisecond))
	dbPath := filepath.Join(t.TempDir(), "tgauth.db")
	ctx := waitCtx(t)
	rows := queueNotices(ctx, t, dbPath, notices, chats)

	env := baseEnv(
		"TGAUTH_DATABASE_PATH="+dbPath,
		"TGAUTH_TELEGRAM_TOKEN="+botToken,
		"TGAUTH_TELEGRAM_API_URL="+tg.URL,
		"TGAUTH_OUTBOX_POLL_INTERVAL=50ms",
		"TGAUTH_OUTBOX_LEASE=2s",
	)
	bot := startProc(t, bin, env)
	if _, err := tg.WaitForSent(ctx, notices/3); err != nil {
		t.Fatal(err)
	}
	bot.kill()
	atKill := len(tg.Sent())
	checkIntegrity(ctx, t, dbPath)
	db := openDB(t, dbPath)
	settledAtKill := queryInt(ctx, t, db, `SELECT count(*) FROM outbox WHERE sent_at IS NOT NULL`)
	leased := queryInt(ctx, t, db, `SELECT count(*) FROM outbox WHERE claimed_by IS NOT NULL AND sent_at IS NULL`)
	t.Logf("SIGKILL after %d of %d notices reached the fake; %d rows marked sent, %d still leased to the dead bot",
		atKill, notices, settledAtKill, leased)

	start := time.Now()
	bot = startProc(t, bin, env)
	err := pollUntil(ctx, func() (bool, error) {
		n := queryInt(ctx, t, db, `SELECT count(*) FROM outbox WHERE sent_at IS NULL AND dead_at IS NULL`)
		return n == 0, nil
	})
	if err != nil {
		t.Fatalf("outbox never settled after the restart: %v", err)
	}
	t.Logf("the restarted bot settled the rest in %v", time.Since(start).Round(time.Millisecond))
	bot.kill() // settled: nothing is left for it to send

	if n := queryInt(ctx, t, db, `SELECT count(*) FROM outbox WHERE dead_at IS NOT NULL OR sent_at IS NULL`); n != 0 {
		t.Errorf("%d rows given up or unsent, want every row sent", n)
	}
	if n := queryInt(ctx, t, db, `SELECT count(*) FROM outbox WHERE claimed_by IS NOT NULL OR claimed_until IS NOT NULL`); n != 0 {
		t.Errorf("%d settled rows still hold a lease, want none", n)
	}

	// Every row went out at least once, and the message id it was marked
	// with is one Telegram gave for it.
	sends := sendsByName(t, tg.Sent())
	dbIDs, err := db.QueryContext(ctx, `SELECT id, coalesce(telegram_message_id, 0) FROM outbox`)
	if err != nil {
		t.Fatal(err)
	}
	defer dbIDs.Close()
	for dbIDs.Next() {
		var id int64
		var msgID int
		if err := dbIDs.Scan(&id, &msgID); err != nil {
			t.Fatal(err)
		}
		name := rows[id]
		got := sends[name]
		switch {
		case len(got) == 0:
			t.Errorf("row %d (%s) is marked sent, but no message for it reached Telegram", id, name)
		case !slices.Contains(got, msgID):
			t.Errorf("row %d (%s) is marked sent as message %d, but Telegram gave it %v", id, name, msgID, got)
		}
	}
	if err := dbIDs.Err(); err != nil {
		t.Fatal(err)
	}
	dups := 0
	for name, ids := range sends {
		if len(ids) > 1 {
			dups += len(ids) - 1
			t.Logf("%s went out %d times", name, len(ids))
		}
	}
	t.Logf("%d messages sent for %d rows: %d duplicates; %d sends refused for the flood limits (the restarted bot's pacer starts afresh)",
		len(tg.Sent()), notices, dups, tg.LimitViolations())
	if dups > workers {
		t.Errorf("%d duplicates, want at most %d: only sends in flight at the kill may go out again", dups, workers)
	}
}
