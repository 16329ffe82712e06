// Package storetest is a conformance suite for account.Store: every backend
// (SQLite and PostgreSQL) runs the same tests from its own _test.go
// file, so the Service can rely on one behaviour whichever store it gets.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"tgauth/internal/account"
	"tgauth/internal/metrics"
)

// Store is everything a backend must do: account.Store for the Service,
// the outbox the bot drains and the metrics read, and two counts that
// only this suite needs. account.Store offers no way to read the outbox
// back or to count verification codes, yet the suite must see that a
// rolled-back InsertOutbox left no row and that a second
// PutVerificationCode replaced the first rather than adding a row;
// backends give the counts in a test-only wrapper in their _test.go file,
// which keeps them out of their exported API.
type Store interface {
	account.Store
	account.Outbox
	metrics.OutboxStats
	OutboxCount(ctx context.Context) (int, error)
	VerificationCodeCount(ctx context.Context) (int, error)
}

// Run runs the conformance suite against stores made by open; open returns
// a fresh, migrated, empty store for each subtest (and registers its
// cleanup with t.Cleanup).
func Run(t *testing.T, open func(t *testing.T) Store) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s Store)
	}{
		{"InsertUserRoundTrip", testInsertUserRoundTrip},
		{"UserByUsernameIgnoresCase", testUserByUsernameIgnoresCase},
		{"NotFound", testNotFound},
		{"Conflict", testConflict},
		{"AbsentEmailAndUsernameDoNotConflict", testAbsentDoNotConflict},
		{"RollbackOnError", testRollbackOnError},
		{"RollbackOnPanic", testRollbackOnPanic},
		{"UpdatePassword", testUpdatePassword},
		{"SetLoginFailures", testSetLoginFailures},
		{"SessionRoundTrip", testSessionRoundTrip},
		{"RevokeSessions", testRevokeSessions},
		{"InsertOutboxIDs", testInsertOutboxIDs},
		{"InitSetting", testInitSetting},
		{"IncrementCounter", testIncrementCounter},
		{"Ping", testPing},
		{"SessionExpiryBoundary", testSessionExpiryBoundary},
		{"ConcurrentWritesAndReads", testConcurrent},
		{"ContextCancelledBeforeInTx", testCancelledBeforeInTx},
		{"ContextCancelledInsideInTx", testCancelledInsideInTx},
		{"UserByEmail", testUserByEmail},
		{"UpdateSession", testUpdateSession},
		{"RevokeSession", testRevokeSession},
		{"VerificationCodeNotFound", testVerificationCodeNotFound},
		{"PutVerificationCodeRoundTrip", testPutVerificationCodeRoundTrip},
		{"PutVerificationCodeReplaces", testPutVerificationCodeReplaces},
		{"UpdateVerificationCode", testUpdateVerificationCode},
		{"VerificationCodeExpiryBoundary", testVerificationCodeExpiryBoundary},
		{"InsertLinkCode", testInsertLinkCode},
		{"LinkCodeRoundTrip", testLinkCodeRoundTrip},
		{"SetChatIDAndConfirm", testSetChatIDAndConfirm},
		{"CodeFailures", testCodeFailures},
		{"SessionIPs", testSessionIPs},
		{"ClaimOrderAndLimit", testClaimOrderAndLimit},
		{"ClaimLease", testClaimLease},
		{"RescheduleAndDead", testRescheduleAndDead},
		{"ConcurrentClaims", testConcurrentClaims},
		{"OutboxStats", testOutboxStats},
		{"NextDue", testNextDue},
		{"OddBytes", testOddBytes},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.fn(t, open(t))
		})
	}
}

// t0 is the base of every time the suite stores: UTC and truncated to the
// microsecond, as the Service hands them over.
var t0 = time.Date(2030, 1, 2, 3, 4, 5, 123456000, time.UTC)

// newUser returns a valid user with only the required fields set.
func newUser(username string) *account.User {
	return &account.User{
		Username:          username,
		PasswordHash:      "hash-of-" + username,
		Role:              account.RoleUser,
		CreatedAt:         t0,
		UpdatedAt:         t0,
		PasswordChangedAt: t0,
	}
}

// inTx runs fn in a transaction and fails the test on an error.
func inTx(t *testing.T, s account.Store, fn func(account.Tx) error) {
	t.Helper()
	if err := s.InTx(t.Context(), fn); err != nil {
		t.Fatalf("InTx: %v", err)
	}
}

// insertUsers stores us in one transaction, setting their IDs.
func insertUsers(t *testing.T, s account.Store, us ...*account.User) {
	t.Helper()
	inTx(t, s, func(tx account.Tx) error {
		for _, u := range us {
			if err := tx.InsertUser(t.Context(), u); err != nil {
				return fmt.Errorf("InsertUser(%q): %w", u.Username, err)
			}
		}
		return nil
	})
}

func insertSessions(t *testing.T, s account.Store, ss ...*account.Session) {
	t.Helper()
	inTx(t, s, func(tx account.Tx) error {
		for _, sess := range ss {
			if err := tx.InsertSession(t.Context(), sess); err != nil {
				return fmt.Errorf("InsertSession(%q): %w", sess.ID, err)
			}
		}
		return nil
	})
}

// mustStayUsable commits a write under a deadline: a store that leaked its
// transaction (a single SQLite writer, a Postgres row lock) fails here
// rather than hanging the test binary.
func mustStayUsable(t *testing.T, s account.Store, after string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	err := s.InTx(ctx, func(tx account.Tx) error {
		_, err := tx.InitSetting(ctx, "usable_after", after, t0)
		return err
	})
	if err != nil {
		t.Fatalf("store unusable after %s: InTx: %v", after, err)
	}
}

func userByID(t *testing.T, r account.Reader, id int64) *account.User {
	t.Helper()
	u, err := r.UserByID(t.Context(), id)
	if err != nil {
		t.Fatalf("UserByID(%d): %v", id, err)
	}
	return u
}

func session(t *testing.T, r account.Reader, id string) *account.Session {
	t.Helper()
	sess, err := r.Session(t.Context(), id)
	if err != nil {
		t.Fatalf("Session(%q): %v", id, err)
	}
	return sess
}

func outboxCount(t *testing.T, s Store) int {
	t.Helper()
	n, err := s.OutboxCount(t.Context())
	if err != nil {
		t.Fatalf("OutboxCount: %v", err)
	}
	return n
}

func wantNotFound(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, account.ErrNotFound) {
		t.Errorf("%s err = %v, want ErrNotFound", what, err)
	}
}

func testInsertUserRoundTrip(t *testing.T, s Store) {
	// #nosec G101 -- test data: a made-up hash, no credential
	full := &account.User{
		Email:                   "alice@example.org",
		Username:                "alice",
		PasswordHash:            "$argon2id$v=19$m=65536,t=3,p=2$c2FsdA$aGFzaA",
		FirstName:               "Alice",
		LastName:                "Liddell",
		Role:                    account.RoleAdmin,
		ChatID:                  1<<53 + 1, // not exact as a float64
		TOCAcceptedAt:           t0.Add(-2 * time.Hour),
		PrivacyPolicyAcceptedAt: t0.Add(-time.Hour),
		FailedLogins:            3,
		LockedUntil:             t0.Add(15 * time.Minute),
		CreatedAt:               t0,
		UpdatedAt:               t0.Add(time.Microsecond),
		PasswordChangedAt:       t0.Add(2 * time.Microsecond),
		ChatConfirmedAt:         t0.Add(-30 * time.Minute),
	}
	// No email, no chat, no lock: they must read back as "", 0 and zero.
	usernameOnly := newUser("bob")
	emailOnly := newUser("")
	emailOnly.Email = "carol@example.org"

	users := []*account.User{full, usernameOnly, emailOnly}
	inTx(t, s, func(tx account.Tx) error {
		for _, u := range users {
			if err := tx.InsertUser(t.Context(), u); err != nil {
				return err
			}
			// The Service reads its own writes inside a transaction.
			got, err := tx.UserByID(t.Context(), u.ID)
			if err != nil {
				return fmt.Errorf("tx.UserByID(%d): %w", u.ID, err)
			}
			if diff := cmp.Diff(u, got); diff != "" {
				t.Errorf("tx.UserByID(%d) mismatch (-want +got):\n%s", u.ID, diff)
			}
		}
		return nil
	})
	later := newUser("dave")
	insertUsers(t, s, later)
	users = append(users, later)

	var prev int64
	for _, u := range users {
		if u.ID <= prev {
			t.Errorf("InsertUser(%q) set ID %d, want > %d", u.Name(), u.ID, prev)
		}
		prev = u.ID
		if diff := cmp.Diff(u, userByID(t, s, u.ID)); diff != "" {
			t.Errorf("UserByID(%d) mismatch (-want +got):\n%s", u.ID, diff)
		}
		if u.Username == "" {
			continue
		}
		got, err := s.UserByUsername(t.Context(), u.Username)
		if err != nil {
			t.Fatalf("UserByUsername(%q): %v", u.Username, err)
		}
		if diff := cmp.Diff(u, got); diff != "" {
			t.Errorf("UserByUsername(%q) mismatch (-want +got):\n%s", u.Username, diff)
		}
	}
}

func testUserByUsernameIgnoresCase(t *testing.T, s Store) {
	bob, alice := newUser("bob"), newUser("Alice")
	insertUsers(t, s, bob, alice)
	tests := []struct {
		in   string
		want *account.User // stored case is kept
	}{
		{"bob", bob},
		{"Bob", bob},
		{"BOB", bob},
		{"Alice", alice},
		{"alice", alice},
		{"aLiCe", alice},
	}
	for _, tt := range tests {
		got, err := s.UserByUsername(t.Context(), tt.in)
		if err != nil {
			t.Errorf("UserByUsername(%q): %v", tt.in, err)
			continue
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("UserByUsername(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func testNotFound(t *testing.T, s Store) {
	u := newUser("bob")
	insertUsers(t, s, u)
	check := func(who string, r account.Reader) {
		_, err := r.UserByID(t.Context(), u.ID+1000)
		wantNotFound(t, who+".UserByID(unknown)", err)
		_, err = r.UserByUsername(t.Context(), "bobby")
		wantNotFound(t, who+`.UserByUsername("bobby")`, err)
		_, err = r.Session(t.Context(), "no-such-session")
		wantNotFound(t, who+".Session(unknown)", err)
	}
	check("Store", s)
	inTx(t, s, func(tx account.Tx) error {
		check("Tx", tx)
		return nil
	})
	ctx := t.Context()
	var errUpdate, errFailures error
	_ = s.InTx(ctx, func(tx account.Tx) error {
		errUpdate = tx.UpdatePassword(ctx, u.ID+1000, "h", t0)
		errFailures = tx.SetLoginFailures(ctx, u.ID+1000, 1, time.Time{}, t0)
		return nil
	})
	wantNotFound(t, "UpdatePassword(unknown)", errUpdate)
	wantNotFound(t, "SetLoginFailures(unknown)", errFailures)
}

func testConflict(t *testing.T, s Store) {
	first := newUser("bob")
	first.Email = "bob@example.org"
	insertUsers(t, s, first)

	sameUsername := newUser("BOB")
	sameEmail := newUser("robert")
	sameEmail.Email = "Bob@Example.ORG"
	tests := []struct {
		name  string
		u     *account.User
		field account.Field
	}{
		{"username", sameUsername, "username"},
		{"email", sameEmail, "email"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := s.InTx(t.Context(), func(tx account.Tx) error {
				return tx.InsertUser(t.Context(), tt.u)
			})
			var ce *account.ConflictError
			if !errors.As(err, &ce) {
				t.Fatalf("InsertUser(%+v) err = %v, want *account.ConflictError", tt.u, err)
			}
			if ce.Field != tt.field {
				t.Errorf("InsertUser conflict Field = %q, want %q", ce.Field, tt.field)
			}
			if !errors.Is(err, account.ErrConflict) {
				t.Errorf("InsertUser err = %v, want errors.Is ErrConflict", err)
			}
		})
	}
	// The loser left nothing behind, and the store still takes writes.
	mustStayUsable(t, s, "a conflict")
	if _, err := s.UserByUsername(t.Context(), "robert"); !errors.Is(err, account.ErrNotFound) {
		t.Errorf(`UserByUsername("robert") err = %v, want ErrNotFound`, err)
	}
	if diff := cmp.Diff(first, userByID(t, s, first.ID)); diff != "" {
		t.Errorf("first user changed (-want +got):\n%s", diff)
	}
	insertUsers(t, s, newUser("carol"))
}

// testAbsentDoNotConflict: "" is no value, so any number of users may lack
// an email or a username.
func testAbsentDoNotConflict(t *testing.T, s Store) {
	a, b := newUser("a-user"), newUser("b-user")
	c, d := newUser(""), newUser("")
	c.Email, d.Email = "c@example.org", "d@example.org"
	insertUsers(t, s, a, b, c, d)
	for _, u := range []*account.User{a, b, c, d} {
		if diff := cmp.Diff(u, userByID(t, s, u.ID)); diff != "" {
			t.Errorf("UserByID(%d) mismatch (-want +got):\n%s", u.ID, diff)
		}
	}
}

func newOutbox(chatID int64) *account.OutboxMessage {
	return &account.OutboxMessage{
		ChatID:        chatID,
		Kind:          account.NoticeAccountLinked,
		Payload:       []byte(`{"user_id":1,"account":"bob","at":"2030-01-02T03:04:05.123456Z"}`),
		CreatedAt:     t0,
		NextAttemptAt: t0,
	}
}

func testRollbackOnError(t *testing.T, s Store) {
	errBoom := errors.New("boom")
	u := newUser("bob")
	err := s.InTx(t.Context(), func(tx account.Tx) error {
		if err := tx.InsertUser(t.Context(), u); err != nil {
			return err
		}
		if err := tx.InsertOutbox(t.Context(), newOutbox(42)); err != nil {
			return err
		}
		return errBoom
	})
	if !errors.Is(err, errBoom) {
		t.Fatalf("InTx err = %v, want %v", err, errBoom)
	}
	if u.ID == 0 {
		t.Fatal("InsertUser in the rolled-back tx set no ID")
	}
	_, err = s.UserByID(t.Context(), u.ID)
	wantNotFound(t, "UserByID(rolled back)", err)
	_, err = s.UserByUsername(t.Context(), "bob")
	wantNotFound(t, "UserByUsername(rolled back)", err)
	if n := outboxCount(t, s); n != 0 {
		t.Errorf("outbox rows after rollback = %d, want 0", n)
	}

	mustStayUsable(t, s, "an error")
	// A commit shows, so the counts above are not vacuous.
	insertUsers(t, s, newUser("bob"))
	inTx(t, s, func(tx account.Tx) error { return tx.InsertOutbox(t.Context(), newOutbox(42)) })
	if n := outboxCount(t, s); n != 1 {
		t.Errorf("outbox rows after one commit = %d, want 1", n)
	}
}

func testRollbackOnPanic(t *testing.T, s Store) {
	u := newUser("bob")
	recovered := func() (r any) {
		defer func() { r = recover() }()
		_ = s.InTx(t.Context(), func(tx account.Tx) error {
			if err := tx.InsertUser(t.Context(), u); err != nil {
				t.Errorf("InsertUser: %v", err)
			}
			if err := tx.InsertOutbox(t.Context(), newOutbox(42)); err != nil {
				t.Errorf("InsertOutbox: %v", err)
			}
			panic("boom")
		})
		return nil
	}()
	if recovered != "boom" {
		t.Fatalf("InTx recovered %v, want the panic to propagate as %q", recovered, "boom")
	}
	_, err := s.UserByUsername(t.Context(), "bob")
	wantNotFound(t, "UserByUsername(after panic)", err)
	if n := outboxCount(t, s); n != 0 {
		t.Errorf("outbox rows after panic = %d, want 0", n)
	}
	mustStayUsable(t, s, "a panic")
	// The same username can now be taken.
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping after panic: %v", err)
	}
	again := newUser("bob")
	insertUsers(t, s, again)
	if got := userByID(t, s, again.ID); got.Username != "bob" {
		t.Errorf("UserByID(%d).Username = %q, want %q", again.ID, got.Username, "bob")
	}
}

func testUpdatePassword(t *testing.T, s Store) {
	u, other := newUser("bob"), newUser("carol")
	insertUsers(t, s, u, other)
	at := t0.Add(time.Hour)
	inTx(t, s, func(tx account.Tx) error {
		return tx.UpdatePassword(t.Context(), u.ID, "new-hash", at)
	})
	want := *u
	want.PasswordHash, want.PasswordChangedAt, want.UpdatedAt = "new-hash", at, at
	if diff := cmp.Diff(&want, userByID(t, s, u.ID)); diff != "" {
		t.Errorf("after UpdatePassword (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(other, userByID(t, s, other.ID)); diff != "" {
		t.Errorf("UpdatePassword changed another user (-want +got):\n%s", diff)
	}
}

func testSetLoginFailures(t *testing.T, s Store) {
	u := newUser("bob")
	insertUsers(t, s, u)
	steps := []struct {
		name        string
		failed      int
		lockedUntil time.Time
	}{
		{"count", 3, time.Time{}},
		{"lock", 0, t0.Add(15 * time.Minute)},
		{"unlock", 0, time.Time{}},
	}
	want := *u
	for i, st := range steps {
		at := t0.Add(time.Duration(i+1) * time.Minute)
		inTx(t, s, func(tx account.Tx) error {
			return tx.SetLoginFailures(t.Context(), u.ID, st.failed, st.lockedUntil, at)
		})
		want.FailedLogins, want.LockedUntil, want.UpdatedAt = st.failed, st.lockedUntil, at
		if diff := cmp.Diff(&want, userByID(t, s, u.ID)); diff != "" {
			t.Errorf("after SetLoginFailures step %s (-want +got):\n%s", st.name, diff)
		}
	}
}

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

func testIncrementCounter(t *testing.T, s Store) {
	for i, st := range []struct {
		key  string
		want int64
	}{{"a", 1}, {"a", 2}, {"b", 1}, {"a", 3}} {
		var got int64
		inTx(t, s, func(tx account.Tx) error {
			var err error
			got, err = tx.IncrementCounter(t.Context(), st.key, t0)
			return err
		})
		if got != st.want {
			t.Errorf("step %d: IncrementCounter(%q) = %d, want %d", i, st.key, got, st.want)
		}
	}
	// A rolled-back increment does not count.
	_ = s.InTx(t.Context(), func(tx account.Tx) error {
		if _, err := tx.IncrementCounter(t.Context(), "a", t0); err != nil {
			return err
		}
		return errors.New("roll back")
	})
	var got int64
	inTx(t, s, func(tx account.Tx) error {
		var err error
		got, err = tx.IncrementCounter(t.Context(), "a", t0)
		return err
	})
	if got != 4 {
		t.Errorf("IncrementCounter after a rollback = %d, want 4", got)
	}
}

func testInitSetting(t *testing.T, s Store) {
	steps := []struct {
		key, value, want string
	}{
		{"jwt_secret", "first", "first"},
		{"jwt_secret", "second", "first"},
		{"other", "x", "x"},
		{"jwt_secret", "third", "first"},
		{"other", "y", "x"},
	}
	for i, st := range steps {
		var got string
		inTx(t, s, func(tx account.Tx) error {
			var err error
			got, err = tx.InitSetting(t.Context(), st.key, st.value, t0.Add(time.Duration(i)*time.Second))
			return err
		})
		if got != st.want {
			t.Errorf("step %d: InitSetting(%q, %q) = %q, want %q", i, st.key, st.value, got, st.want)
		}
	}
	// Twice in one transaction: the second call sees the first's value.
	inTx(t, s, func(tx account.Tx) error {
		for _, v := range []string{"v1", "v2"} {
			got, err := tx.InitSetting(t.Context(), "same_tx", v, t0)
			if err != nil {
				return err
			}
			if got != "v1" {
				t.Errorf("InitSetting(%q, %q) in one tx = %q, want %q", "same_tx", v, got, "v1")
			}
		}
		return nil
	})
}

func testPing(t *testing.T, s Store) {
	if err := s.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
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

// testConcurrent runs writers and readers at once: none may see an error
// (SQLite's SQLITE_BUSY in particular) and every committed row must be there.
func testConcurrent(t *testing.T, s Store) {
	const writers, perWriter, readers = 8, 20, 4
	ctx := t.Context()
	seed := newUser("seed")
	insertUsers(t, s, seed)
	insertSessions(t, s, &account.Session{ID: "seed", UserID: seed.ID, CreatedAt: t0, LastUsedAt: t0, ExpiresAt: t0.Add(time.Hour)})

	done := make(chan struct{})
	var rg sync.WaitGroup
	for range readers {
		rg.Go(func() {
			for {
				select {
				case <-done:
					return
				default:
				}
				if _, err := s.UserByUsername(ctx, "SEED"); err != nil {
					t.Errorf("concurrent UserByUsername: %v", err)
					return
				}
				if _, err := s.Session(ctx, "seed"); err != nil {
					t.Errorf("concurrent Session: %v", err)
					return
				}
			}
		})
	}

	ids := make([][]int64, writers)
	var wg sync.WaitGroup
	for w := range writers {
		wg.Go(func() {
			for i := range perWriter {
				u := newUser(fmt.Sprintf("w%d-u%d", w, i))
				err := s.InTx(ctx, func(tx account.Tx) error {
					// Read, then write: the Service's pattern, which a
					// deferred SQLite transaction would fail on.
					if _, err := tx.UserByID(ctx, seed.ID); err != nil {
						return err
					}
					return tx.InsertUser(ctx, u)
				})
				if err != nil {
					t.Errorf("writer %d, InTx %d: %v", w, i, err)
					return
				}
				ids[w] = append(ids[w], u.ID)
			}
		})
	}
	wg.Wait()
	close(done)
	rg.Wait()

	seen := make(map[int64]bool)
	for w, ws := range ids {
		for i, id := range ws {
			if seen[id] {
				t.Errorf("ID %d given twice", id)
			}
			seen[id] = true
			want := fmt.Sprintf("w%d-u%d", w, i)
			if got := userByID(t, s, id); got.Username != want {
				t.Errorf("UserByID(%d).Username = %q, want %q", id, got.Username, want)
			}
		}
	}
	if len(seen) != writers*perWriter {
		t.Errorf("committed %d users, want %d", len(seen), writers*perWriter)
	}
}

func testCancelledBeforeInTx(t *testing.T, s Store) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	err := s.InTx(ctx, func(tx account.Tx) error {
		return tx.InsertUser(ctx, newUser("bob"))
	})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("InTx(cancelled ctx) err = %v, want context.Canceled", err)
	}
	_, err = s.UserByUsername(t.Context(), "bob")
	wantNotFound(t, "UserByUsername after cancelled InTx", err)
	mustStayUsable(t, s, "a cancelled begin")
}

// testCancelledInsideInTx: a context that ends before the commit must not
// commit, even when fn returns nil.
func testCancelledInsideInTx(t *testing.T, s Store) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	err := s.InTx(ctx, func(tx account.Tx) error {
		if err := tx.InsertUser(ctx, newUser("bob")); err != nil {
			return err
		}
		cancel()
		return nil
	})
	if err == nil {
		t.Error("InTx whose ctx was cancelled before commit returned nil")
	}
	_, err = s.UserByUsername(t.Context(), "bob")
	wantNotFound(t, "UserByUsername after cancelled commit", err)
	mustStayUsable(t, s, "a cancelled commit")
	insertUsers(t, s, newUser("bob"))
}

// wantUTC fails unless every time read back is in time.UTC: cmp.Diff
// compares times with Equal, which ignores the location.
func wantUTC(t *testing.T, what string, times ...time.Time) {
	t.Helper()
	for i, at := range times {
		if !at.IsZero() && at.Location() != time.UTC {
			t.Errorf("%s: time #%d location = %v, want UTC", what, i, at.Location())
		}
	}
}

// testUserByEmail: login by email matches case-insensitively (ASCII; the
// SQLite backend folds ASCII only) and keeps the stored case.
func testUserByEmail(t *testing.T, s Store) {
	alice := newUser("")
	alice.Email = "Alice.Liddell@Example.org"
	bob := newUser("bob") // no email
	carol := newUser("carol")
	carol.Email = "carol@example.org"
	insertUsers(t, s, alice, bob, carol)

	tests := []struct {
		in   string
		want *account.User // nil: ErrNotFound
	}{
		{"Alice.Liddell@Example.org", alice},
		{"alice.liddell@example.org", alice},
		{"ALICE.LIDDELL@EXAMPLE.ORG", alice},
		{"carol@example.org", carol},
		{"Carol@Example.Org", carol},
		{"", nil}, // bob has no email: "" is no value, not a match
		{"bob", nil},
		{"alice.liddell@example.org.evil", nil},
		{"dave@example.org", nil},
	}
	check := func(who string, r account.Reader) {
		for _, tt := range tests {
			got, err := r.UserByEmail(t.Context(), tt.in)
			if tt.want == nil {
				wantNotFound(t, fmt.Sprintf("%s.UserByEmail(%q)", who, tt.in), err)
				continue
			}
			if err != nil {
				t.Errorf("%s.UserByEmail(%q): %v", who, tt.in, err)
				continue
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("%s.UserByEmail(%q) mismatch (-want +got):\n%s", who, tt.in, diff)
			}
		}
		// The mirror case: alice has no username.
		_, err := r.UserByUsername(t.Context(), "")
		wantNotFound(t, who+`.UserByUsername("")`, err)
	}
	check("Store", s)
	inTx(t, s, func(tx account.Tx) error {
		check("Tx", tx)
		return nil
	})
}

func newSession(id string, userID int64) *account.Session {
	return &account.Session{ID: id, UserID: userID, Generation: 1, CreatedAt: t0,
		LastUsedAt: t0, ExpiresAt: t0.Add(time.Hour), IP: "192.0.2.1", UserAgent: "curl/8.0"}
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
	inTx(t, s, func(tx account.Tx) error {
		for _, c := range cs {
			if err := tx.PutVerificationCode(t.Context(), c); err != nil {
				return fmt.Errorf("PutVerificationCode(%d, %q): %w", c.UserID, c.Purpose, err)
			}
		}
		return nil
	})
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

func newLinkCode(hash string, userID int64) *account.LinkCode {
	return &account.LinkCode{CodeHash: hash, UserID: userID, CreatedAt: t0, ExpiresAt: t0.Add(15 * time.Minute)}
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
