package postgres

import (
	"sync"
	"testing"
	"time"
)

var p0 = time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)

func TestTakeChatTurn(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	const gap = time.Second
	steps := []struct {
		name   string
		chat   int64
		now    time.Time
		wantOK bool
		wantAt time.Time
	}{
		{"first message", 1, p0, true, p0.Add(gap)},
		{"too soon", 1, p0.Add(gap - time.Microsecond), false, p0.Add(gap)},
		{"another chat", 2, p0, true, p0.Add(gap)},
		{"turn has come", 1, p0.Add(gap), true, p0.Add(2 * gap)},
		{"too soon again", 1, p0.Add(gap + time.Millisecond), false, p0.Add(2 * gap)},
	}
	for _, st := range steps {
		ok, at, err := s.TakeChatTurn(ctx, st.chat, st.now, gap)
		if err != nil {
			t.Fatalf("%s: TakeChatTurn: %v", st.name, err)
		}
		if ok != st.wantOK || !at.Equal(st.wantAt) || at.Location() != time.UTC {
			t.Errorf("%s: TakeChatTurn(%d, %v) = %v, %v; want %v, %v (UTC)", st.name, st.chat, st.now, ok, at, st.wantOK, st.wantAt)
		}
	}
}

// TestTakeChatTurnConcurrent: of many callers at one moment (the bot's
// replicas racing for one chat), exactly one gets the turn, and the others
// all learn when the next one comes.
func TestTakeChatTurnConcurrent(t *testing.T) {
	s := openTest(t)
	const callers, rounds, gap = 16, 3, time.Second
	for r := range rounds {
		now := p0.Add(time.Duration(r) * gap) // every round's turn has come
		var (
			wg   sync.WaitGroup
			mu   sync.Mutex
			wins int
		)
		for range callers {
			wg.Go(func() {
				ok, at, err := s.TakeChatTurn(t.Context(), 7, now, gap)
				if err != nil {
					t.Errorf("TakeChatTurn: %v", err)
					return
				}
				if !at.Equal(now.Add(gap)) {
					t.Errorf("round %d: TakeChatTurn = %v, %v; want the next turn at %v", r, ok, at, now.Add(gap))
				}
				if ok {
					mu.Lock()
					wins++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if wins != 1 {
			t.Errorf("round %d: %d of %d concurrent callers got the turn, want exactly 1", r, wins, callers)
		}
	}
}

func TestDelayChat(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	const gap = time.Second
	// A chat never seen: the delay alone holds it back.
	if err := s.DelayChat(ctx, 1, p0.Add(30*time.Second)); err != nil {
		t.Fatal(err)
	}
	if ok, at, err := s.TakeChatTurn(ctx, 1, p0, gap); err != nil || ok || !at.Equal(p0.Add(30*time.Second)) {
		t.Errorf("TakeChatTurn after DelayChat(+30s) = %v, %v, %v; want false, %v", ok, at, err, p0.Add(30*time.Second))
	}
	// An earlier time does not pull the turn back.
	if err := s.DelayChat(ctx, 1, p0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if ok, at, _ := s.TakeChatTurn(ctx, 1, p0.Add(2*time.Second), gap); ok || !at.Equal(p0.Add(30*time.Second)) {
		t.Errorf("TakeChatTurn after an earlier DelayChat = %v, %v; want false, %v", ok, at, p0.Add(30*time.Second))
	}
	if ok, _, _ := s.TakeChatTurn(ctx, 1, p0.Add(30*time.Second), gap); !ok {
		t.Error("TakeChatTurn when the delay is over = false, want true")
	}
}

func TestTakeSendSlot(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	const every = 35714 * time.Microsecond // 28 a second
	steps := []struct {
		now, want time.Time
	}{
		{p0, p0},            // the first slot is now
		{p0, p0.Add(every)}, // then one interval later
		{p0.Add(every / 2), p0.Add(2 * every)},
		{p0.Add(time.Minute), p0.Add(time.Minute)}, // idle: now again
	}
	for i, st := range steps {
		at, err := s.TakeSendSlot(ctx, st.now, every)
		if err != nil {
			t.Fatalf("step %d: TakeSendSlot: %v", i, err)
		}
		if !at.Equal(st.want) || at.Location() != time.UTC {
			t.Errorf("step %d: TakeSendSlot(%v) = %v, want %v (UTC)", i, st.now, at, st.want)
		}
	}
}

// TestTakeSendSlotConcurrent: replicas asking at once get distinct slots,
// one interval apart.
func TestTakeSendSlotConcurrent(t *testing.T) {
	s := openTest(t)
	const callers, every = 20, 50 * time.Millisecond
	var (
		wg sync.WaitGroup
		mu sync.Mutex
		at = make(map[time.Time]bool)
	)
	for range callers {
		wg.Go(func() {
			slot, err := s.TakeSendSlot(t.Context(), p0, every)
			if err != nil {
				t.Errorf("TakeSendSlot: %v", err)
				return
			}
			mu.Lock()
			at[slot] = true
			mu.Unlock()
		})
	}
	wg.Wait()
	for i := range callers {
		if slot := p0.Add(time.Duration(i) * every); !at[slot] {
			t.Errorf("no caller got the slot at %v; got %d distinct slots", slot, len(at))
		}
	}
}

// TestChatTurnsSwept: turns long past are deleted as time goes on, so the
// table does not grow with every chat the bot ever wrote to.
func TestChatTurnsSwept(t *testing.T) {
	s := openTest(t)
	ctx := t.Context()
	count := func() int {
		t.Helper()
		var n int
		if err := s.pool.QueryRow(ctx, `SELECT count(*) FROM chat_turns`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	for chat := range int64(5) {
		if _, _, err := s.TakeChatTurn(ctx, chat, p0, time.Second); err != nil {
			t.Fatal(err)
		}
	}
	if n := count(); n != 5 {
		t.Fatalf("chat turns = %d, want 5", n)
	}
	// Within the period nothing is swept; past chatTurnKeep and a sweep
	// period, the old turns go and the new one stays.
	later := p0.Add(chatTurnKeep + sweepEvery + time.Second)
	if _, _, err := s.TakeChatTurn(ctx, 99, later, time.Second); err != nil {
		t.Fatal(err)
	}
	if n := count(); n != 1 {
		t.Errorf("chat turns after a sweep = %d, want 1", n)
	}
	if ok, _, _ := s.TakeChatTurn(ctx, 99, later, time.Second); ok {
		t.Error("the sweep removed a current turn")
	}
}
