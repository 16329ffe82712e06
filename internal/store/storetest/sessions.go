package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"tgauth/internal/account"
)

func testSessionRoundTrip(t *testing.T, s Store) {
	u := newUser("bob")
	insertUsers(t, s, u)
	full := &account.Session{
		ID:         "c2Vzc2lvbi1vbmUtaWQtMTg",
		UserID:     u.ID,
		Generation: 7,
		CreatedAt:  t0,
		LastUsedAt: t0.Add(time.Minute),
		ExpiresAt:  t0.Add(time.Hour),
		IP:         "2001:db8::1",
		UserAgent:  "Mozilla/5.0 (X11; Linux x86_64)",
	}
	bare := &account.Session{ID: "bare", UserID: u.ID, CreatedAt: t0, LastUsedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	inTx(t, s, func(tx account.Tx) error {
		for _, sess := range []*account.Session{full, bare} {
			if err := tx.InsertSession(t.Context(), sess); err != nil {
				return err
			}
			if diff := cmp.Diff(sess, session(t, tx, sess.ID)); diff != "" {
				t.Errorf("tx.Session(%q) mismatch (-want +got):\n%s", sess.ID, diff)
			}
		}
		return nil
	})
	for _, sess := range []*account.Session{full, bare} {
		if diff := cmp.Diff(sess, session(t, s, sess.ID)); diff != "" {
			t.Errorf("Session(%q) mismatch (-want +got):\n%s", sess.ID, diff)
		}
	}
}

func testRevokeSessions(t *testing.T, s Store) {
	u, other := newUser("bob"), newUser("carol")
	insertUsers(t, s, u, other)
	mk := func(id string, userID int64) *account.Session {
		return &account.Session{ID: id, UserID: userID, CreatedAt: t0, LastUsedAt: t0, ExpiresAt: t0.Add(time.Hour)}
	}
	revoke := func(except, reason string, at time.Time) int {
		t.Helper()
		var n int
		inTx(t, s, func(tx account.Tx) error {
			var err error
			n, err = tx.RevokeSessions(t.Context(), u.ID, except, reason, at)
			return err
		})
		return n
	}
	revoked := func(sess *account.Session, at time.Time, reason string) *account.Session {
		c := *sess
		c.RevokedAt, c.RevokeReason = at, reason
		return &c
	}

	// old is revoked first: its time and reason must survive later sweeps.
	old, others := mk("old", u.ID), mk("others", other.ID)
	insertSessions(t, s, old, others)
	oldAt := t0.Add(time.Minute)
	if n := revoke("", "logout", oldAt); n != 1 {
		t.Errorf(`RevokeSessions(except "") = %d, want 1`, n)
	}

	current, a, b := mk("current", u.ID), mk("a", u.ID), mk("b", u.ID)
	insertSessions(t, s, current, a, b)
	at := t0.Add(2 * time.Minute)
	if n := revoke(current.ID, account.RevokePasswordChanged, at); n != 2 {
		t.Errorf("RevokeSessions(except %q) = %d, want 2", current.ID, n)
	}
	if n := revoke(current.ID, account.RevokePasswordChanged, at.Add(time.Minute)); n != 0 {
		t.Errorf("RevokeSessions(except %q) again = %d, want 0", current.ID, n)
	}
	want := []*account.Session{
		current,
		revoked(a, at, account.RevokePasswordChanged),
		revoked(b, at, account.RevokePasswordChanged),
		revoked(old, oldAt, "logout"),
		others, // another user's session is untouched
	}
	for _, w := range want {
		if diff := cmp.Diff(w, session(t, s, w.ID)); diff != "" {
			t.Errorf("Session(%q) mismatch (-want +got):\n%s", w.ID, diff)
		}
	}

	// No exception: the last live session goes too, and only it.
	endAt := t0.Add(5 * time.Minute)
	if n := revoke("", "logout", endAt); n != 1 {
		t.Errorf(`RevokeSessions(except "") = %d, want 1`, n)
	}
	want[0] = revoked(current, endAt, "logout")
	for _, w := range want {
		if diff := cmp.Diff(w, session(t, s, w.ID)); diff != "" {
			t.Errorf("Session(%q) mismatch (-want +got):\n%s", w.ID, diff)
		}
	}
}

func testSessionExpiryBoundary(t *testing.T, s Store) {
	u := newUser("bob")
	insertUsers(t, s, u)
	// Microseconds that a float or a millisecond format would lose.
	exp := time.Date(2031, 12, 31, 23, 59, 59, 999999000, time.UTC)
	insertSessions(t, s, &account.Session{ID: "edge", UserID: u.ID, CreatedAt: t0, LastUsedAt: t0, ExpiresAt: exp})

	got := session(t, s, "edge")
	if !got.ExpiresAt.Equal(exp) {
		t.Fatalf("Session.ExpiresAt = %v, want %v", got.ExpiresAt, exp)
	}
	if loc := got.ExpiresAt.Location(); loc != time.UTC {
		t.Errorf("Session.ExpiresAt location = %v, want UTC", loc)
	}
	tests := []struct {
		now  time.Time
		want bool
	}{
		{exp.Add(-time.Microsecond), true},
		{exp, false},
		{exp.Add(time.Microsecond), false},
	}
	for _, tt := range tests {
		if live := got.Live(tt.now); live != tt.want {
			t.Errorf("Session.Live(%v) = %v, want %v (expires %v)", tt.now, live, tt.want, got.ExpiresAt)
		}
	}
}

func testUpdateSession(t *testing.T, s Store) {
	u := newUser("bob")
	insertUsers(t, s, u)
	sess, other := newSession("s1", u.ID), newSession("s2", u.ID)
	insertSessions(t, s, sess, other)

	// Every other field of the argument differs from the row: only
	// Generation and LastUsedAt may reach it.
	upd := &account.Session{
		ID:           sess.ID,
		UserID:       u.ID + 1000,
		Generation:   sess.Generation + 1,
		CreatedAt:    t0.Add(-time.Hour),
		LastUsedAt:   t0.Add(time.Minute + time.Microsecond),
		ExpiresAt:    t0.Add(48 * time.Hour),
		RevokedAt:    t0.Add(time.Minute),
		RevokeReason: "bogus",
		IP:           "203.0.113.9",
		UserAgent:    "other",
	}
	inTx(t, s, func(tx account.Tx) error { return tx.UpdateSession(t.Context(), upd) })
	want := *sess
	want.Generation, want.LastUsedAt = upd.Generation, upd.LastUsedAt
	got := session(t, s, sess.ID)
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("after UpdateSession (-want +got):\n%s", diff)
	}
	wantUTC(t, "Session after UpdateSession", got.CreatedAt, got.LastUsedAt, got.ExpiresAt)
	if diff := cmp.Diff(other, session(t, s, other.ID)); diff != "" {
		t.Errorf("UpdateSession changed another session (-want +got):\n%s", diff)
	}

	// A revoked session stays revoked: an update with a zero RevokedAt
	// must not bring it back.
	revokedAt := t0.Add(2 * time.Minute)
	inTx(t, s, func(tx account.Tx) error {
		return tx.RevokeSession(t.Context(), sess.ID, account.RevokeSignedOut, revokedAt)
	})
	upd2 := want
	upd2.Generation++
	upd2.LastUsedAt = t0.Add(3 * time.Minute)
	inTx(t, s, func(tx account.Tx) error { return tx.UpdateSession(t.Context(), &upd2) })
	want.Generation, want.LastUsedAt = upd2.Generation, upd2.LastUsedAt
	want.RevokedAt, want.RevokeReason = revokedAt, account.RevokeSignedOut
	if diff := cmp.Diff(&want, session(t, s, sess.ID)); diff != "" {
		t.Errorf("UpdateSession of a revoked session (-want +got):\n%s", diff)
	}

	var errUnknown error
	_ = s.InTx(t.Context(), func(tx account.Tx) error {
		errUnknown = tx.UpdateSession(t.Context(), newSession("no-such-session", u.ID))
		return nil
	})
	wantNotFound(t, "UpdateSession(unknown)", errUnknown)
	_, err := s.Session(t.Context(), "no-such-session")
	wantNotFound(t, "Session after UpdateSession(unknown)", err)
}

// testRevokeSession: the first revocation wins; later ones keep its time
// and reason. Revoking an unknown id is a no-op that returns nil, not
// ErrNotFound: "revoke unless revoked already" is idempotent, and the
// Service only revokes a session it has just read in the same transaction.
// The suite pins nil so that every backend agrees.
func testRevokeSession(t *testing.T, s Store) {
	u := newUser("bob")
	insertUsers(t, s, u)
	sess, other := newSession("s1", u.ID), newSession("s2", u.ID)
	insertSessions(t, s, sess, other)

	revoke := func(id, reason string, at time.Time) {
		t.Helper()
		inTx(t, s, func(tx account.Tx) error { return tx.RevokeSession(t.Context(), id, reason, at) })
	}
	firstAt := t0.Add(time.Minute + time.Microsecond)
	revoke(sess.ID, account.RevokeRefreshReused, firstAt)
	want := *sess
	want.RevokedAt, want.RevokeReason = firstAt, account.RevokeRefreshReused
	got := session(t, s, sess.ID)
	if diff := cmp.Diff(&want, got); diff != "" {
		t.Errorf("after RevokeSession (-want +got):\n%s", diff)
	}
	wantUTC(t, "Session after RevokeSession", got.RevokedAt)
	if got.Live(firstAt.Add(-time.Microsecond)) {
		t.Errorf("revoked Session.Live(before revocation) = true, want false")
	}

	revoke(sess.ID, account.RevokeSignedOut, firstAt.Add(time.Hour))
	if diff := cmp.Diff(&want, session(t, s, sess.ID)); diff != "" {
		t.Errorf("second RevokeSession changed the first revocation (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(other, session(t, s, other.ID)); diff != "" {
		t.Errorf("RevokeSession changed another session (-want +got):\n%s", diff)
	}

	revoke("no-such-session", account.RevokeSignedOut, firstAt) // nil, see above
	_, err := s.Session(t.Context(), "no-such-session")
	wantNotFound(t, "Session after RevokeSession(unknown)", err)
}
