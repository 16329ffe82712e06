package storetest

import (
	"strconv"
	"testing"

	"tgauth/internal/account"
)

// testOddBytes: strings from outside may hold NUL and invalid UTF-8 (a
// percent-decoded form field, a Latin-1 User-Agent). A lookup by one
// finds nothing rather than failing, and descriptive text carrying them
// is stored (a backend whose text type refuses such bytes may replace
// them, so the suite does not pin what reads back).
func testOddBytes(t *testing.T, s Store) {
	ctx := t.Context()
	u := newUser("bob")
	u.Email = "bob@example.org"
	insertUsers(t, s, u)
	odd := []string{"bob\x00", "\xffbob", "bob@example.org\x00", "b\xc3"}
	check := func(who string, r account.Reader) {
		for _, v := range odd {
			_, err := r.UserByUsername(ctx, v)
			wantNotFound(t, who+".UserByUsername("+strconv.Quote(v)+")", err)
			_, err = r.UserByEmail(ctx, v)
			wantNotFound(t, who+".UserByEmail("+strconv.Quote(v)+")", err)
			_, err = r.Session(ctx, v)
			wantNotFound(t, who+".Session("+strconv.Quote(v)+")", err)
		}
	}
	check("Store", s)
	inTx(t, s, func(tx account.Tx) error {
		check("Tx", tx)
		for _, v := range odd {
			_, err := tx.LinkCode(ctx, v)
			wantNotFound(t, "LinkCode("+strconv.Quote(v)+")", err)
			_, err = tx.VerificationCode(ctx, u.ID, v)
			wantNotFound(t, "VerificationCode(purpose "+strconv.Quote(v)+")", err)
		}
		return nil
	})

	sess := newSession("odd", u.ID)
	sess.UserAgent, sess.IP = "Mozilla/5.0 \xe9t\xe9\x00", "192.0.2.1\x00"
	insertSessions(t, s, sess)
	got := session(t, s, "odd")
	if got.UserID != u.ID || got.Generation != sess.Generation {
		t.Errorf("Session(%q) = %+v, want user %d, generation %d", "odd", got, u.ID, sess.Generation)
	}
	inTx(t, s, func(tx account.Tx) error {
		_, err := tx.RevokeSessions(ctx, u.ID, "", "reason \xff\x00", t0)
		return err
	})
	if got := session(t, s, "odd"); got.RevokedAt.IsZero() {
		t.Error("RevokeSessions with an odd reason revoked nothing")
	}
}
