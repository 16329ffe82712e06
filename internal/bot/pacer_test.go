package bot

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// memTurns is SharedTurns kept in memory, with the semantics the
// PostgreSQL store gives them in SQL, so that two Pacers over one memTurns
// stand for two bot replicas over one database.
type memTurns struct {
	mu   sync.Mutex
	next map[int64]time.Time
	slot time.Time
	err  error
}

func (m *memTurns) TakeChatTurn(_ context.Context, chatID int64, now time.Time, gap time.Duration) (bool, time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return false, time.Time{}, m.err
	}
	if n := m.next[chatID]; now.Before(n) {
		return false, n, nil
	}
	m.next[chatID] = now.Add(gap)
	return true, time.Time{}, nil
}

func (m *memTurns) DelayChat(_ context.Context, chatID int64, t time.Time) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return m.err
	}
	if t.After(m.next[chatID]) {
		m.next[chatID] = t
	}
	return nil
}

func (m *memTurns) TakeSendSlot(_ context.Context, now time.Time, interval time.Duration) (time.Time, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.err != nil {
		return time.Time{}, m.err
	}
	at := m.slot
	if now.After(at) {
		at = now
	}
	m.slot = at.Add(interval)
	return at, nil
}

// Two replicas' pacers over one shared state keep both limits together:
// the chat gap and the overall rate count every replica's sends.
func TestSharedPacersKeepLimitsTogether(t *testing.T) {
	const (
		rate = 50 // a second
		gap  = 100 * time.Millisecond
	)
	turns := &memTurns{next: map[int64]time.Time{}}
	log := slog.New(slog.DiscardHandler)
	replicas := []*Pacer{NewSharedPacer(turns, rate, gap, nil, log), NewSharedPacer(turns, rate, gap, nil, log)}

	var (
		mu    sync.Mutex
		all   []time.Time
		chats = map[int64][]time.Time{}
	)
	var wg sync.WaitGroup
	for i := range 8 {
		p := replicas[i%2]
		chat := int64(i % 3)
		wg.Go(func() {
			for range 5 {
				if err := p.Wait(t.Context(), chat); err != nil {
					t.Error(err)
					return
				}
				now := time.Now()
				mu.Lock()
				all = append(all, now)
				chats[chat] = append(chats[chat], now)
				mu.Unlock()
				p.Sent(t.Context(), chat)
			}
		})
	}
	wg.Wait()

	slices.SortFunc(all, time.Time.Compare)
	// Slots are interval apart; a goroutine may wake a little late, so a
	// second's worth of sends is what is checked, not each pair.
	for i := range all {
		if j := i + rate + 1; j < len(all) && all[j].Sub(all[i]) < time.Second-10*time.Millisecond {
			t.Errorf("%d sends within %v: more than %d a second", rate+2, all[j].Sub(all[i]), rate)
			break
		}
	}
	for chat, ts := range chats {
		slices.SortFunc(ts, time.Time.Compare)
		for i := 1; i < len(ts); i++ {
			if d := ts[i].Sub(ts[i-1]); d < gap {
				t.Errorf("chat %d: two sends %v apart, want at least %v", chat, d, gap)
			}
		}
	}
}

// A pacer that cannot reach its shared state puts sends off: it never
// lets one through unpaced.
func TestSharedPacerFailsClosed(t *testing.T) {
	turns := &memTurns{next: map[int64]time.Time{}, err: errors.New("connection refused")}
	logs := &logBuffer{}
	p := NewSharedPacer(turns, OverallRate, PerChatGap, nil, slog.New(slog.NewTextHandler(logs, nil)))
	if ok, _, retry := p.Reserve(t.Context(), 1); ok || time.Until(retry) <= 0 {
		t.Errorf("Reserve = %v, retry %v: want refused, retry in the future", ok, retry)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if err := p.Wait(ctx, 1); err == nil {
		t.Error("Wait = nil with the database down")
	}
	if !strings.Contains(logs.String(), "connection refused") {
		t.Errorf("the failure was not logged: %q", logs)
	}
}

// A send that wakes more than a slot late is not made: late sends bunch
// up with the ones on time and break the overall rate.
func TestWaitSlotRefusesLateWakeUps(t *testing.T) {
	slot := time.Now()
	now := slot.Add(10 * time.Millisecond)
	p := NewPacer(OverallRate, PerChatGap, func() time.Time { return now })
	if err := p.WaitSlot(t.Context(), slot); err != nil {
		t.Errorf("WaitSlot 10ms after the slot = %v, want nil", err)
	}
	now = slot.Add(time.Second / OverallRate * 2)
	if err := p.WaitSlot(t.Context(), slot); !errors.Is(err, ErrLate) {
		t.Errorf("WaitSlot two slots late = %v, want ErrLate", err)
	}
}

// A pacer with no real limit (benchmarks) never calls a wake-up late.
func TestWaitSlotUnlimitedRate(t *testing.T) {
	slot := time.Now()
	p := NewPacer(1e9, 0, func() time.Time { return slot.Add(time.Millisecond) })
	if err := p.WaitSlot(t.Context(), slot); err != nil {
		t.Errorf("WaitSlot 1ms after the slot at 1e9/s = %v, want nil", err)
	}
}
