package storetest

import (
	"errors"
	"testing"
	"time"

	"tgauth/internal/account"
)

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
