package storetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"tgauth/internal/account"
)

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
