package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"tgauth/internal/account"
)

func verificationCodeCount(t *testing.T, s Store) int {
	t.Helper()
	n, err := s.VerificationCodeCount(t.Context())
	if err != nil {
		t.Fatalf("VerificationCodeCount: %v", err)
	}
	return n
}

// verificationCode reads the user's code for purpose in its own
// transaction: the Tx is the only way to read one.
func verificationCode(t *testing.T, s account.Store, userID int64, purpose string) *account.VerificationCode {
	t.Helper()
	var c *account.VerificationCode
	inTx(t, s, func(tx account.Tx) error {
		var err error
		c, err = tx.VerificationCode(t.Context(), userID, purpose)
		return err
	})
	return c
}

func putVerificationCodes(t *testing.T, s account.Store, cs ...*account.VerificationCode) {
	t.Helper()
	writeAll(t, s, cs, account.Tx.PutVerificationCode)
}

func newCode(userID int64, purpose, hash string) *account.VerificationCode {
	return &account.VerificationCode{UserID: userID, Purpose: purpose, CodeHash: hash,
		CreatedAt: t0, ExpiresAt: t0.Add(10 * time.Minute)}
}

func testVerificationCodeNotFound(t *testing.T, s Store) {
	u, other := newUser("bob"), newUser("carol")
	insertUsers(t, s, u, other)
	putVerificationCodes(t, s, newCode(u.ID, account.PurposePasswordReset, "h"))
	tests := []struct {
		name    string
		userID  int64
		purpose string
	}{
		{"other purpose", u.ID, "email_change"},
		{"other user", other.ID, account.PurposePasswordReset},
		{"unknown user", u.ID + 1000, account.PurposePasswordReset},
		{"empty purpose", u.ID, ""},
	}
	inTx(t, s, func(tx account.Tx) error {
		for _, tt := range tests {
			_, err := tx.VerificationCode(t.Context(), tt.userID, tt.purpose)
			wantNotFound(t, fmt.Sprintf("VerificationCode(%s)", tt.name), err)
		}
		return nil
	})
}

func testPutVerificationCodeRoundTrip(t *testing.T, s Store) {
	u := newUser("bob")
	insertUsers(t, s, u)
	// Every field set, consumed and tried: nothing may read back as a default.
	c := &account.VerificationCode{
		UserID:     u.ID,
		Purpose:    account.PurposePasswordReset,
		CodeHash:   "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
		CreatedAt:  t0.Add(time.Microsecond),
		ExpiresAt:  t0.Add(10*time.Minute + 2*time.Microsecond),
		Attempts:   2,
		ConsumedAt: t0.Add(5*time.Minute + 3*time.Microsecond),
	}
	inTx(t, s, func(tx account.Tx) error {
		if err := tx.PutVerificationCode(t.Context(), c); err != nil {
			return err
		}
		if c.ID == 0 {
			t.Error("PutVerificationCode set no ID")
		}
		got, err := tx.VerificationCode(t.Context(), u.ID, c.Purpose)
		if err != nil {
			return fmt.Errorf("VerificationCode in the same tx: %w", err)
		}
		if diff := cmp.Diff(c, got); diff != "" {
			t.Errorf("VerificationCode in the same tx mismatch (-want +got):\n%s", diff)
		}
		return nil
	})
	got := verificationCode(t, s, u.ID, c.Purpose)
	if diff := cmp.Diff(c, got); diff != "" {
		t.Errorf("VerificationCode mismatch (-want +got):\n%s", diff)
	}
	wantUTC(t, "VerificationCode", got.CreatedAt, got.ExpiresAt, got.ConsumedAt)

	// A fresh code: zero Attempts and ConsumedAt read back as zero.
	fresh := newCode(u.ID, "email_change", "h2")
	putVerificationCodes(t, s, fresh)
	if fresh.ID == 0 || fresh.ID == c.ID {
		t.Errorf("PutVerificationCode(second purpose) ID = %d, want non-zero and != %d", fresh.ID, c.ID)
	}
	if diff := cmp.Diff(fresh, verificationCode(t, s, u.ID, fresh.Purpose)); diff != "" {
		t.Errorf("fresh VerificationCode mismatch (-want +got):\n%s", diff)
	}
}

// testPutVerificationCodeReplaces: a user has one code per purpose; a new
// one replaces every field of the old, including the spent tries and the
// consumption, so an old burned or used code cannot taint the new one. The
// suite does not pin whether the ID is kept or renewed, only that c.ID
// names the stored row.
func testPutVerificationCodeReplaces(t *testing.T, s Store) {
	u, other := newUser("bob"), newUser("carol")
	insertUsers(t, s, u, other)
	const reset, change = account.PurposePasswordReset, "email_change"

	old := newCode(u.ID, reset, "old-hash")
	old.Attempts, old.ConsumedAt = 5, t0.Add(time.Minute)
	otherPurpose := newCode(u.ID, change, "change-hash")
	otherUser := newCode(other.ID, reset, "carol-hash")
	putVerificationCodes(t, s, old, otherPurpose, otherUser)
	if n := verificationCodeCount(t, s); n != 3 {
		t.Fatalf("verification codes after three puts = %d, want 3", n)
	}

	repl := &account.VerificationCode{UserID: u.ID, Purpose: reset, CodeHash: "new-hash",
		CreatedAt: t0.Add(2 * time.Minute), ExpiresAt: t0.Add(12 * time.Minute)}
	putVerificationCodes(t, s, repl)
	if repl.ID == 0 {
		t.Error("PutVerificationCode(replacement) set no ID")
	}
	if n := verificationCodeCount(t, s); n != 3 {
		t.Errorf("verification codes after a replacement = %d, want 3", n)
	}
	if diff := cmp.Diff(repl, verificationCode(t, s, u.ID, reset)); diff != "" {
		t.Errorf("VerificationCode after replacement (-want +got):\n%s", diff)
	}
	for _, c := range []*account.VerificationCode{otherPurpose, otherUser} {
		if diff := cmp.Diff(c, verificationCode(t, s, c.UserID, c.Purpose)); diff != "" {
			t.Errorf("replacement changed VerificationCode(%d, %q) (-want +got):\n%s", c.UserID, c.Purpose, diff)
		}
	}

	// Two puts in one transaction: the later wins there too.
	a, b := newCode(other.ID, change, "a"), newCode(other.ID, change, "b")
	b.CreatedAt = t0.Add(time.Second)
	putVerificationCodes(t, s, a, b)
	if diff := cmp.Diff(b, verificationCode(t, s, other.ID, change)); diff != "" {
		t.Errorf("VerificationCode after two puts in one tx (-want +got):\n%s", diff)
	}
	if n := verificationCodeCount(t, s); n != 4 {
		t.Errorf("verification codes = %d, want 4", n)
	}
}

func testUpdateVerificationCode(t *testing.T, s Store) {
	u := newUser("bob")
	insertUsers(t, s, u)
	c, other := newCode(u.ID, account.PurposePasswordReset, "h"), newCode(u.ID, "email_change", "h2")
	putVerificationCodes(t, s, c, other)

	update := func(upd *account.VerificationCode) {
		t.Helper()
		inTx(t, s, func(tx account.Tx) error { return tx.UpdateVerificationCode(t.Context(), upd) })
	}
	want := *c
	steps := []struct {
		name       string
		attempts   int
		consumedAt time.Time
	}{
		{"wrong try", 1, time.Time{}},
		{"consumed", 2, t0.Add(3*time.Minute + time.Microsecond)},
		{"unconsumed", 2, time.Time{}}, // zero goes back to NULL
	}
	for _, st := range steps {
		// Only Attempts and ConsumedAt may reach the row.
		upd := &account.VerificationCode{ID: c.ID, UserID: u.ID + 1000, Purpose: "bogus",
			CodeHash: "bogus", CreatedAt: t0.Add(time.Hour), ExpiresAt: t0.Add(2 * time.Hour),
			Attempts: st.attempts, ConsumedAt: st.consumedAt}
		update(upd)
		want.Attempts, want.ConsumedAt = st.attempts, st.consumedAt
		got := verificationCode(t, s, u.ID, c.Purpose)
		if diff := cmp.Diff(&want, got); diff != "" {
			t.Errorf("after UpdateVerificationCode step %s (-want +got):\n%s", st.name, diff)
		}
		wantUTC(t, "VerificationCode after "+st.name, got.ConsumedAt)
	}
	if diff := cmp.Diff(other, verificationCode(t, s, u.ID, other.Purpose)); diff != "" {
		t.Errorf("UpdateVerificationCode changed another code (-want +got):\n%s", diff)
	}

	var errUnknown error
	_ = s.InTx(t.Context(), func(tx account.Tx) error {
		unknown := *c
		unknown.ID = c.ID + other.ID + 1000
		errUnknown = tx.UpdateVerificationCode(t.Context(), &unknown)
		return nil
	})
	wantNotFound(t, "UpdateVerificationCode(unknown)", errUnknown)
}

// testVerificationCodeExpiryBoundary: the Service refuses a code once
// !now.Before(ExpiresAt), so ExpiresAt must read back to the microsecond
// and in UTC, whatever zone it was handed in.
func testVerificationCodeExpiryBoundary(t *testing.T, s Store) {
	u := newUser("bob")
	insertUsers(t, s, u)
	exp := time.Date(2031, 12, 31, 23, 59, 59, 999999000, time.UTC)
	c := newCode(u.ID, account.PurposePasswordReset, "h")
	c.ExpiresAt = exp.In(time.FixedZone("UTC+5:30", 5*3600+1800))
	putVerificationCodes(t, s, c)

	got := verificationCode(t, s, u.ID, c.Purpose).ExpiresAt
	if !got.Equal(exp) {
		t.Fatalf("VerificationCode.ExpiresAt = %v, want %v", got, exp)
	}
	wantUTC(t, "VerificationCode.ExpiresAt", got)
	tests := []struct {
		now  time.Time
		want bool // usable: now.Before(ExpiresAt)
	}{
		{exp.Add(-time.Microsecond), true},
		{exp, false},
		{exp.Add(time.Microsecond), false},
	}
	for _, tt := range tests {
		if usable := tt.now.Before(got); usable != tt.want {
			t.Errorf("%v.Before(ExpiresAt %v) = %v, want %v", tt.now, got, usable, tt.want)
		}
	}
}

// testInsertLinkCode: the store has no link-code read yet, so the suite
// sees only errors. That a hash is "still there" is shown by a later insert
// of it still conflicting; the row's other columns cannot be checked.
func testInsertLinkCode(t *testing.T, s Store) {
	u, other := newUser("bob"), newUser("carol")
	insertUsers(t, s, u, other)
	insert := func(cs ...*account.LinkCode) error {
		return s.InTx(t.Context(), func(tx account.Tx) error {
			for _, c := range cs {
				if err := tx.InsertLinkCode(t.Context(), c); err != nil {
					return err
				}
			}
			return nil
		})
	}
	wantConflict := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, account.ErrConflict) {
			t.Errorf("%s err = %v, want ErrConflict", what, err)
		}
	}

	first := newLinkCode("hash-1", u.ID)
	if err := insert(first); err != nil {
		t.Fatalf("InsertLinkCode: %v", err)
	}
	// Same hash, another user, in a transaction that also queued a message:
	// the error comes back and nothing of that transaction stays.
	errBoom := errors.New("boom")
	err := s.InTx(t.Context(), func(tx account.Tx) error {
		if err := tx.InsertOutbox(t.Context(), newOutbox(42)); err != nil {
			return err
		}
		if err := tx.InsertLinkCode(t.Context(), newLinkCode("hash-1", other.ID)); err != nil {
			return errors.Join(errBoom, err)
		}
		return nil
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InsertLinkCode(duplicate hash) succeeded: InTx err = %v", err)
	}
	wantConflict("InsertLinkCode(duplicate hash)", err)
	if n := outboxCount(t, s); n != 0 {
		t.Errorf("outbox rows after the failed tx = %d, want 0", n)
	}
	mustStayUsable(t, s, "a duplicate link code")
	wantConflict("InsertLinkCode(duplicate hash) again", insert(newLinkCode("hash-1", u.ID)))

	// A duplicate within one transaction rolls back both rows: the hash is
	// free afterwards.
	wantConflict("InsertLinkCode twice in one tx",
		insert(newLinkCode("hash-2", u.ID), newLinkCode("hash-2", u.ID)))
	if err := insert(newLinkCode("hash-2", other.ID)); err != nil {
		t.Errorf("InsertLinkCode(hash of a rolled-back tx): %v", err)
	}

	// A user may hold several codes, consumed or not.
	used := newLinkCode("hash-3", u.ID)
	used.ConsumedAt = t0.Add(time.Minute)
	if err := insert(newLinkCode("hash-4", u.ID), used); err != nil {
		t.Errorf("InsertLinkCode(second code of a user): %v", err)
	}

	// A code for a missing user fails (on the foreign key) and is not
	// reported as a taken code; it leaves no row, so the hash stays free.
	err = insert(newLinkCode("hash-5", u.ID+other.ID+1000))
	if err == nil {
		t.Fatal("InsertLinkCode(missing user) succeeded, want a foreign key error")
	}
	if errors.Is(err, account.ErrConflict) {
		t.Errorf("InsertLinkCode(missing user) err = %v, want no ErrConflict", err)
	}
	mustStayUsable(t, s, "a link code for a missing user")
	if err := insert(newLinkCode("hash-5", u.ID)); err != nil {
		t.Errorf("InsertLinkCode(hash of the failed insert): %v", err)
	}
}
