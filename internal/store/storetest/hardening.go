package storetest

import (
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"tgauth/internal/account"
)

func testLinkCodeRoundTrip(t *testing.T, s Store) {
	u := newUser("bob")
	insertUsers(t, s, u)
	moving := newLinkCode("hash-move", u.ID)
	moving.ReplacesChatID, moving.SessionID = 1<<53+1, "sess-1"
	first := newLinkCode("hash-first", u.ID)
	inTx(t, s, func(tx account.Tx) error {
		for _, c := range []*account.LinkCode{moving, first} {
			if err := tx.InsertLinkCode(t.Context(), c); err != nil {
				return err
			}
		}
		return nil
	})
	inTx(t, s, func(tx account.Tx) error {
		for _, want := range []*account.LinkCode{moving, first} {
			got, err := tx.LinkCode(t.Context(), want.CodeHash)
			if err != nil {
				return err
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("LinkCode(%q) mismatch (-want +got):\n%s", want.CodeHash, diff)
			}
		}
		if err := tx.ConsumeLinkCode(t.Context(), first.CodeHash, t0.Add(time.Minute)); err != nil {
			return err
		}
		got, err := tx.LinkCode(t.Context(), first.CodeHash)
		if err != nil {
			return err
		}
		if !got.ConsumedAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("ConsumedAt = %v after ConsumeLinkCode, want %v", got.ConsumedAt, t0.Add(time.Minute))
		}
		_, err = tx.LinkCode(t.Context(), "no-such-hash")
		wantNotFound(t, "LinkCode(unknown)", err)
		return nil
	})
}

// testSetChatIDAndConfirm: SetChatID links confirmed, unlinking clears the
// confirmation, and ConfirmChat confirms only the chat the user has.
func testSetChatIDAndConfirm(t *testing.T, s Store) {
	pending := newUser("bob")
	pending.ChatID = 42 // as a Watchdog registration stores it: unconfirmed
	insertUsers(t, s, pending)
	if got := userByID(t, s, pending.ID); got.ChatConfirmed() {
		t.Fatalf("registered chat confirmed at %v, want pending", got.ChatConfirmedAt)
	}

	err := s.InTx(t.Context(), func(tx account.Tx) error {
		return tx.ConfirmChat(t.Context(), pending.ID, 43, t0.Add(time.Minute))
	})
	wantNotFound(t, "ConfirmChat(another chat)", err)
	if got := userByID(t, s, pending.ID); got.ChatConfirmed() {
		t.Errorf("ConfirmChat(another chat) confirmed the chat")
	}
	inTx(t, s, func(tx account.Tx) error {
		return tx.ConfirmChat(t.Context(), pending.ID, 42, t0.Add(time.Minute))
	})
	got := userByID(t, s, pending.ID)
	if !got.ChatConfirmedAt.Equal(t0.Add(time.Minute)) || !got.UpdatedAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("after ConfirmChat: confirmed %v, updated %v, want both %v",
			got.ChatConfirmedAt, got.UpdatedAt, t0.Add(time.Minute))
	}

	inTx(t, s, func(tx account.Tx) error {
		return tx.SetChatID(t.Context(), pending.ID, 0, t0.Add(2*time.Minute))
	})
	if got := userByID(t, s, pending.ID); got.ChatID != 0 || !got.ChatConfirmedAt.IsZero() {
		t.Errorf("after unlinking: chat %d confirmed %v, want 0 and zero", got.ChatID, got.ChatConfirmedAt)
	}
	inTx(t, s, func(tx account.Tx) error {
		return tx.SetChatID(t.Context(), pending.ID, 77, t0.Add(3*time.Minute))
	})
	if got := userByID(t, s, pending.ID); got.ChatID != 77 || !got.ChatConfirmedAt.Equal(t0.Add(3*time.Minute)) {
		t.Errorf("after SetChatID(77): chat %d confirmed %v, want 77 at %v", got.ChatID, got.ChatConfirmedAt, t0.Add(3*time.Minute))
	}
	err = s.InTx(t.Context(), func(tx account.Tx) error {
		return tx.ConfirmChat(t.Context(), pending.ID+1000, 77, t0)
	})
	wantNotFound(t, "ConfirmChat(unknown user)", err)
}

func testCodeFailures(t *testing.T, s Store) {
	u, other := newUser("bob"), newUser("carol")
	insertUsers(t, s, u, other)
	count := func(userID int64, since time.Time) (int, time.Time) {
		t.Helper()
		var (
			n     int
			first time.Time
		)
		inTx(t, s, func(tx account.Tx) error {
			var err error
			n, first, err = tx.CodeFailures(t.Context(), userID, since)
			return err
		})
		return n, first
	}
	if n, first := count(u.ID, t0); n != 0 || !first.IsZero() {
		t.Errorf("CodeFailures with none = %d, %v; want 0, zero", n, first)
	}
	keep := t0.Add(-24 * time.Hour)
	inTx(t, s, func(tx account.Tx) error {
		for i := range 3 {
			if err := tx.InsertCodeFailure(t.Context(), u.ID, t0.Add(time.Duration(i)*time.Second), keep); err != nil {
				return err
			}
		}
		return tx.InsertCodeFailure(t.Context(), other.ID, t0, keep)
	})
	if n, first := count(u.ID, t0); n != 3 || !first.Equal(t0) {
		t.Errorf("CodeFailures = %d, %v; want 3, %v", n, first, t0)
	}
	if n, first := count(u.ID, t0.Add(time.Second)); n != 2 || !first.Equal(t0.Add(time.Second)) {
		t.Errorf("CodeFailures since t0+1s = %d, %v; want 2, %v", n, first, t0.Add(time.Second))
	}
	// A later failure forgets this user's older ones and nobody else's.
	later := t0.Add(48 * time.Hour)
	inTx(t, s, func(tx account.Tx) error {
		return tx.InsertCodeFailure(t.Context(), u.ID, later, later.Add(-24*time.Hour))
	})
	if n, _ := count(u.ID, t0.Add(-365*24*time.Hour)); n != 1 {
		t.Errorf("CodeFailures of all time after pruning = %d, want 1", n)
	}
	if n, _ := count(other.ID, t0.Add(-365*24*time.Hour)); n != 1 {
		t.Errorf("other user's CodeFailures = %d, want 1 (pruning is per user)", n)
	}
	// A zero keepSince forgets nothing.
	inTx(t, s, func(tx account.Tx) error {
		return tx.InsertCodeFailure(t.Context(), u.ID, later.Add(time.Second), time.Time{})
	})
	if n, _ := count(u.ID, t0.Add(-365*24*time.Hour)); n != 2 {
		t.Errorf("CodeFailures after an insert that prunes nothing = %d, want 2", n)
	}
	// Failures roll back with their transaction.
	errBoom := errors.New("boom")
	err := s.InTx(t.Context(), func(tx account.Tx) error {
		if err := tx.InsertCodeFailure(t.Context(), other.ID, t0, keep); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx err = %v, want boom", err)
	}
	if n, _ := count(other.ID, t0.Add(-365*24*time.Hour)); n != 1 {
		t.Errorf("other user's CodeFailures after a rollback = %d, want 1", n)
	}
}

func testSessionIPs(t *testing.T, s Store) {
	u, other := newUser("bob"), newUser("carol")
	insertUsers(t, s, u, other)
	now := t0.Add(40 * 24 * time.Hour)
	since := now.Add(-30 * 24 * time.Hour)
	sess := func(id string, userID int64, ip string, created, expires time.Time) *account.Session {
		s := newSession(id, userID)
		s.IP, s.CreatedAt, s.LastUsedAt, s.ExpiresAt = ip, created, created, expires
		return s
	}
	insertSessions(t, s,
		sess("live-old", u.ID, "192.0.2.1", t0, now.Add(time.Hour)),         // live: known
		sess("recent-revoked", u.ID, "192.0.2.2", now.Add(-time.Hour), now), // recent: known
		sess("recent-dup", u.ID, "192.0.2.2", now.Add(-2*time.Hour), now),   // same address once
		sess("old-revoked", u.ID, "192.0.2.3", t0, now.Add(time.Hour)),      // old and dead
		sess("old-expired", u.ID, "192.0.2.4", t0, now),                     // expired at now
		sess("others", other.ID, "192.0.2.5", now.Add(-time.Hour), now.Add(time.Hour)),
	)
	inTx(t, s, func(tx account.Tx) error {
		for _, id := range []string{"recent-revoked", "recent-dup", "old-revoked"} {
			if err := tx.RevokeSession(t.Context(), id, account.RevokeSignedOut, now.Add(-time.Minute)); err != nil {
				return err
			}
		}
		return nil
	})
	got, err := s.SessionIPs(t.Context(), u.ID, since, now)
	if err != nil {
		t.Fatalf("SessionIPs: %v", err)
	}
	slices.Sort(got)
	if want := []string{"192.0.2.1", "192.0.2.2"}; !slices.Equal(got, want) {
		t.Errorf("SessionIPs = %q, want %q", got, want)
	}
	got, err = s.SessionIPs(t.Context(), u.ID+other.ID+1000, since, now)
	if err != nil || len(got) != 0 {
		t.Errorf("SessionIPs(unknown user) = %q, %v; want none", got, err)
	}
}
