// Package storetest is a conformance suite for account.Store: every backend
// (SQLite and PostgreSQL) runs the same tests from its own _test.go
// file, so the Service can rely on one behaviour whichever store it gets.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

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

// writeAll writes every v with write, in one transaction.
func writeAll[T any](t *testing.T, s account.Store, vs []T, write func(account.Tx, context.Context, T) error) {
	t.Helper()
	inTx(t, s, func(tx account.Tx) error {
		for _, v := range vs {
			if err := write(tx, t.Context(), v); err != nil {
				return fmt.Errorf("write %+v: %w", v, err)
			}
		}
		return nil
	})
}

// insertUsers stores us in one transaction, setting their IDs.
func insertUsers(t *testing.T, s account.Store, us ...*account.User) {
	t.Helper()
	writeAll(t, s, us, account.Tx.InsertUser)
}

func insertSessions(t *testing.T, s account.Store, ss ...*account.Session) {
	t.Helper()
	writeAll(t, s, ss, account.Tx.InsertSession)
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

func newOutbox(chatID int64) *account.OutboxMessage {
	return &account.OutboxMessage{
		ChatID:        chatID,
		Kind:          account.NoticeAccountLinked,
		Payload:       []byte(`{"user_id":1,"account":"bob","at":"2030-01-02T03:04:05.123456Z"}`),
		CreatedAt:     t0,
		NextAttemptAt: t0,
	}
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

func newSession(id string, userID int64) *account.Session {
	return &account.Session{ID: id, UserID: userID, Generation: 1, CreatedAt: t0,
		LastUsedAt: t0, ExpiresAt: t0.Add(time.Hour), IP: "192.0.2.1", UserAgent: "curl/8.0"}
}

func newLinkCode(hash string, userID int64) *account.LinkCode {
	return &account.LinkCode{CodeHash: hash, UserID: userID, CreatedAt: t0, ExpiresAt: t0.Add(15 * time.Minute)}
}
