package storetest

import (
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"tgauth/internal/account"
)

// queue inserts one message per next attempt time, each in its own
// transaction, created a minute before it is due, and returns them with
// their IDs set.
func queue(t *testing.T, s account.Store, chatID int64, next ...time.Time) []*account.OutboxMessage {
	t.Helper()
	var ms []*account.OutboxMessage
	for i, at := range next {
		m := &account.OutboxMessage{ChatID: chatID, Kind: account.NoticeSignedOut,
			Payload: fmt.Appendf(nil, `{"n":%d}`, i), CreatedAt: at.Add(-time.Minute), NextAttemptAt: at}
		inTx(t, s, func(tx account.Tx) error { return tx.InsertOutbox(t.Context(), m) })
		ms = append(ms, m)
	}
	return ms
}

func claim(t *testing.T, o account.Outbox, claimant string, now time.Time, lease time.Duration, limit int) []account.OutboxMessage {
	t.Helper()
	msgs, err := o.ClaimOutbox(t.Context(), claimant, now, lease, limit)
	if err != nil {
		t.Fatalf("ClaimOutbox(%q, %v): %v", claimant, now, err)
	}
	return msgs
}

func ids(msgs []account.OutboxMessage) []int64 {
	var out []int64
	for _, m := range msgs {
		out = append(out, m.ID)
	}
	return out
}

func idsOf(ms ...*account.OutboxMessage) []int64 {
	var out []int64
	for _, m := range ms {
		out = append(out, m.ID)
	}
	return out
}

func testInsertOutboxIDs(t *testing.T, s Store) {
	ms := []*account.OutboxMessage{newOutbox(1), newOutbox(2), newOutbox(1)}
	inTx(t, s, func(tx account.Tx) error {
		for _, m := range ms[:2] {
			if err := tx.InsertOutbox(t.Context(), m); err != nil {
				return err
			}
		}
		return nil
	})
	inTx(t, s, func(tx account.Tx) error { return tx.InsertOutbox(t.Context(), ms[2]) })
	var prev int64
	for i, m := range ms {
		if m.ID <= prev {
			t.Errorf("InsertOutbox #%d set ID %d, want > %d", i, m.ID, prev)
		}
		prev = m.ID
	}
	if n := outboxCount(t, s); n != len(ms) {
		t.Errorf("outbox rows = %d, want %d", n, len(ms))
	}
}

// testClaimOrderAndLimit: due rows come oldest due first (ties by id),
// at most limit of them, with every field as queued; rows not due yet
// stay.
func testClaimOrderAndLimit(t *testing.T, s Store) {
	now := t0.Add(time.Hour)
	// Queued out of order; the last one is not due yet.
	ms := queue(t, s, 42, now.Add(-time.Second), now.Add(-time.Minute), now, now.Add(-time.Minute), now.Add(time.Microsecond))
	mid, oldest, atNow, oldestToo, future := ms[0], ms[1], ms[2], ms[3], ms[4]

	got := claim(t, s, "a", now, time.Minute, 3)
	want := []account.OutboxMessage{*oldest, *oldestToo, *mid}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ClaimOutbox(limit 3) mismatch (-want +got):\n%s", diff)
	}
	for _, m := range got {
		wantUTC(t, "claimed message", m.CreatedAt, m.NextAttemptAt)
	}
	if got := ids(claim(t, s, "a", now, time.Minute, 3)); !slices.Equal(got, idsOf(atNow)) {
		t.Errorf("second ClaimOutbox = %v, want %v (due exactly now; not the future one)", got, idsOf(atNow))
	}
	if got := claim(t, s, "a", now, time.Minute, 3); len(got) != 0 {
		t.Errorf("third ClaimOutbox = %v, want none", ids(got))
	}
	if got := ids(claim(t, s, "b", now.Add(time.Microsecond), time.Minute, 3)); !slices.Equal(got, idsOf(future)) {
		t.Errorf("ClaimOutbox(1µs later) = %v, want %v", got, idsOf(future))
	}
}

// testClaimLease: a claimed row is nobody else's until its lease lapses;
// then another may take it, and the first claimant can no longer settle
// it.
func testClaimLease(t *testing.T, s Store) {
	ctx := t.Context()
	now := t0.Add(time.Hour)
	m := queue(t, s, 42, now)[0]
	const lease = 30 * time.Second

	if got := ids(claim(t, s, "a", now, lease, 10)); !slices.Equal(got, idsOf(m)) {
		t.Fatalf("ClaimOutbox(a) = %v, want %v", got, idsOf(m))
	}
	if got := claim(t, s, "b", now.Add(lease-time.Microsecond), lease, 10); len(got) != 0 {
		t.Errorf("ClaimOutbox(b) within a's lease = %v, want none", ids(got))
	}
	// b settles nothing it does not hold.
	wantNotFound(t, "MarkSent by b without a lease", s.MarkSent(ctx, m.ID, "b", 1, nil, now))
	wantNotFound(t, "Reschedule by b without a lease", s.Reschedule(ctx, m.ID, "b", now, true, "x"))
	wantNotFound(t, "MarkDead by b without a lease", s.MarkDead(ctx, m.ID, "b", "x", nil, now))

	// a's lease lapses (a died): b takes the row over.
	later := now.Add(lease)
	if got := ids(claim(t, s, "b", later, lease, 10)); !slices.Equal(got, idsOf(m)) {
		t.Fatalf("ClaimOutbox(b) when a's lease lapsed = %v, want %v", got, idsOf(m))
	}
	wantNotFound(t, "MarkSent by a after losing the lease", s.MarkSent(ctx, m.ID, "a", 1, nil, later))
	if err := s.MarkSent(ctx, m.ID, "b", 7, []byte(`{}`), later); err != nil {
		t.Fatalf("MarkSent by b: %v", err)
	}
	// Sent: gone for good, and settled once only.
	if got := claim(t, s, "c", later.Add(time.Hour), lease, 10); len(got) != 0 {
		t.Errorf("ClaimOutbox after MarkSent = %v, want none", ids(got))
	}
	wantNotFound(t, "MarkSent by b twice", s.MarkSent(ctx, m.ID, "b", 7, nil, later))
	wantNotFound(t, "settling an unknown message", s.MarkDead(ctx, m.ID+1000, "b", "x", nil, later))
}

// testRescheduleAndDead: a rescheduled row is due again at its new time
// with its failed tries counted (deferrals not); a dead one never is.
func testRescheduleAndDead(t *testing.T, s Store) {
	ctx := t.Context()
	now := t0.Add(time.Hour)
	ms := queue(t, s, 42, now, now)
	retry, dead := ms[0], ms[1]
	claim(t, s, "a", now, time.Minute, 10)

	next := now.Add(10*time.Second + time.Microsecond)
	if err := s.Reschedule(ctx, retry.ID, "a", next, true, "502 bad gateway"); err != nil {
		t.Fatalf("Reschedule(failed): %v", err)
	}
	if err := s.MarkDead(ctx, dead.ID, "a", "403 blocked", []byte(`{}`), now); err != nil {
		t.Fatalf("MarkDead: %v", err)
	}
	// The lease ended with the settlement: not due before next, whoever asks.
	if got := claim(t, s, "a", next.Add(-time.Microsecond), time.Minute, 10); len(got) != 0 {
		t.Errorf("ClaimOutbox before the rescheduled time = %v, want none", ids(got))
	}
	got := claim(t, s, "b", next, time.Minute, 10)
	want := *retry
	want.NextAttemptAt, want.Attempts = next, 1
	if diff := cmp.Diff([]account.OutboxMessage{want}, got); diff != "" {
		t.Fatalf("ClaimOutbox at the rescheduled time (-want +got):\n%s", diff)
	}
	// A deferral (our own rate limit) does not count as a try.
	if err := s.Reschedule(ctx, retry.ID, "b", next.Add(time.Second), false, ""); err != nil {
		t.Fatalf("Reschedule(deferral): %v", err)
	}
	got = claim(t, s, "b", next.Add(time.Second), time.Minute, 10)
	want.NextAttemptAt = next.Add(time.Second)
	if diff := cmp.Diff([]account.OutboxMessage{want}, got); diff != "" {
		t.Errorf("ClaimOutbox after a deferral (-want +got):\n%s", diff)
	}
	if due, _, err := s.OutboxStats(ctx, now.Add(24*time.Hour)); err != nil || due != 1 {
		t.Errorf("OutboxStats = %d, %v; want 1 (the dead message is not due)", due, err)
	}
}

// testConcurrentClaims: dispatchers claiming at once never get the same
// row, and together get every due row.
func testConcurrentClaims(t *testing.T, s Store) {
	now := t0.Add(time.Hour)
	const rows, claimants, batch = 60, 4, 5
	var next []time.Time
	for i := range rows {
		next = append(next, now.Add(-time.Duration(i)*time.Millisecond))
	}
	queue(t, s, 42, next...)

	var (
		mu  sync.Mutex
		got = make(map[int64]string)
		wg  sync.WaitGroup
	)
	for c := range claimants {
		name := fmt.Sprintf("d%d", c)
		wg.Go(func() {
			for {
				msgs, err := s.ClaimOutbox(t.Context(), name, now, time.Minute, batch)
				if err != nil {
					t.Errorf("ClaimOutbox(%s): %v", name, err)
					return
				}
				if len(msgs) == 0 {
					return
				}
				mu.Lock()
				for _, m := range msgs {
					if other, ok := got[m.ID]; ok {
						t.Errorf("message %d claimed by %s and %s", m.ID, other, name)
					}
					got[m.ID] = name
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if len(got) != rows {
		t.Errorf("claimed %d messages in all, want %d", len(got), rows)
	}
}

// testOutboxStats: due counts unsent, live rows whose time has come
// (claimed ones too); the age is that of the oldest of them.
func testOutboxStats(t *testing.T, s Store) {
	ctx := t.Context()
	now := t0.Add(time.Hour)
	stats := func(at time.Time) (int, time.Duration) {
		t.Helper()
		due, oldest, err := s.OutboxStats(ctx, at)
		if err != nil {
			t.Fatalf("OutboxStats: %v", err)
		}
		return due, oldest
	}
	if due, oldest := stats(now); due != 0 || oldest != 0 {
		t.Fatalf("OutboxStats(empty) = %d, %v, want 0, 0", due, oldest)
	}

	insert := func(created, next time.Time) int64 {
		t.Helper()
		m := &account.OutboxMessage{ChatID: 42, Kind: account.NoticeSignedOut, Payload: []byte(`{}`), CreatedAt: created, NextAttemptAt: next}
		inTx(t, s, func(tx account.Tx) error { return tx.InsertOutbox(ctx, m) })
		return m.ID
	}
	old := insert(now.Add(-90*time.Second), now.Add(-time.Second))     // due, the oldest
	insert(now.Add(-10*time.Second), now)                              // due at the boundary
	insert(now.Add(-time.Hour), now.Add(time.Minute))                  // rescheduled: not due
	sent := insert(now.Add(-2*time.Hour), now.Add(-2*time.Hour))       // sent below
	dead := insert(now.Add(-3*time.Hour), now.Add(-3*time.Hour))       // dead below
	claimed := insert(now.Add(-20*time.Second), now.Add(-time.Second)) // claimed: still due

	msgs := claim(t, s, "test", now, time.Minute, 10)
	for _, m := range msgs {
		var err error
		switch m.ID {
		case sent:
			err = s.MarkSent(ctx, m.ID, "test", 1, nil, now)
		case dead:
			err = s.MarkDead(ctx, m.ID, "test", "blocked", nil, now)
		case claimed:
			continue
		default:
			err = s.Reschedule(ctx, m.ID, "test", m.NextAttemptAt, false, "")
		}
		if err != nil {
			t.Fatal(err)
		}
	}

	if due, oldest := stats(now); due != 3 || oldest != 90*time.Second {
		t.Errorf("OutboxStats(now) = %d, %v, want 3, 90s (message %d)", due, oldest, old)
	}
	if due, oldest := stats(now.Add(-500 * time.Millisecond)); due != 2 || oldest != 89500*time.Millisecond {
		t.Errorf("OutboxStats(now-0.5s) = %d, %v, want 2, 89.5s", due, oldest)
	}
	if due, _ := stats(now.Add(time.Minute)); due != 4 {
		t.Errorf("OutboxStats(now+1m) due = %d, want 4", due)
	}
}

// testNextDue: the earliest time a claim could return an unsettled row:
// its next attempt, or its lease's end when that is later; none when
// every row is settled.
func testNextDue(t *testing.T, s Store) {
	ctx := t.Context()
	nextDue := func() (time.Time, bool) {
		t.Helper()
		at, ok, err := s.NextDue(ctx)
		if err != nil {
			t.Fatalf("NextDue: %v", err)
		}
		return at, ok
	}
	if at, ok := nextDue(); ok {
		t.Fatalf("NextDue on an empty outbox = %v, want none", at)
	}
	now := t0.Add(time.Hour)
	ms := queue(t, s, 42, now.Add(time.Minute), now)
	later, first := ms[0], ms[1]
	if at, ok := nextDue(); !ok || !at.Equal(now) {
		t.Errorf("NextDue = %v %v, want %v", at, ok, now)
	}
	const lease = 2 * time.Minute
	claim(t, s, "a", now, lease, 1) // first, leased past later's attempt
	if at, ok := nextDue(); !ok || !at.Equal(later.NextAttemptAt) {
		t.Errorf("NextDue with the first row leased = %v %v, want %v", at, ok, later.NextAttemptAt)
	}
	if err := s.MarkSent(ctx, first.ID, "a", 1, nil, now); err != nil {
		t.Fatal(err)
	}
	claim(t, s, "a", later.NextAttemptAt, lease, 1)
	if at, ok := nextDue(); !ok || !at.Equal(later.NextAttemptAt.Add(lease)) {
		t.Errorf("NextDue with the last row leased = %v %v, want its lease's end %v", at, ok, later.NextAttemptAt.Add(lease))
	}
	if err := s.MarkDead(ctx, later.ID, "a", "gone", nil, now); err != nil {
		t.Fatal(err)
	}
	if at, ok := nextDue(); ok {
		t.Errorf("NextDue with every row settled = %v, want none", at)
	}
}
