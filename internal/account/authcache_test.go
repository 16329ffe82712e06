package account_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"tgauth/internal/account"
	"tgauth/internal/accounttest"
	"tgauth/internal/password"
	"tgauth/internal/store/sqlite"
)

const cacheTTL = time.Second

// countingStore counts the reads Authenticate and Profile make, and keeps
// the notices queued, for their reset codes.
type countingStore struct {
	account.Store
	mu       sync.Mutex
	sessions int
	users    int
	notices  []account.Notice
}

func (s *countingStore) Session(ctx context.Context, id string) (*account.Session, error) {
	s.mu.Lock()
	s.sessions++
	s.mu.Unlock()
	return s.Store.Session(ctx, id)
}

func (s *countingStore) UserByID(ctx context.Context, id int64) (*account.User, error) {
	s.mu.Lock()
	s.users++
	s.mu.Unlock()
	return s.Store.UserByID(ctx, id)
}

func (s *countingStore) InTx(ctx context.Context, fn func(account.Tx) error) error {
	return s.Store.InTx(ctx, func(tx account.Tx) error { return fn(&noticeTx{Tx: tx, s: s}) })
}

func (s *countingStore) reads() (sessions, users int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions, s.users
}

func (s *countingStore) lastCode(t *testing.T) string {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := len(s.notices) - 1; i >= 0; i-- {
		if s.notices[i].Code != "" {
			return s.notices[i].Code
		}
	}
	t.Fatal("no reset code was queued")
	return ""
}

type noticeTx struct {
	account.Tx
	s *countingStore
}

func (t *noticeTx) InsertOutbox(ctx context.Context, m *account.OutboxMessage) error {
	var n account.Notice
	if err := json.Unmarshal(m.Payload, &n); err != nil {
		return err
	}
	t.s.mu.Lock()
	t.s.notices = append(t.s.notices, n)
	t.s.mu.Unlock()
	return t.Tx.InsertOutbox(ctx, m)
}

type cacheEnv struct {
	*accounttest.Env
	store *countingStore
}

func newCacheEnv(t *testing.T) *cacheEnv {
	e := &cacheEnv{}
	e.Env = accounttest.New(t, accounttest.Config{
		Wrap: func(s account.Store) account.Store {
			e.store = &countingStore{Store: s}
			return e.store
		},
		Options: account.Options{SessionCacheTTL: cacheTTL, BotUsername: "tgauth_bot", ForgotPasswordFloor: time.Nanosecond},
	})
	return e
}

const (
	cachePassword    = "BigBob27!"
	cacheNewPassword = "NewBob28?"
)

// user makes an account with a linked chat and returns it.
func (e *cacheEnv) user(t *testing.T, email string, chat int64) *account.User {
	t.Helper()
	ctx := t.Context()
	u, err := e.Service.CreateUser(ctx, account.CreateUserParams{Email: email, Password: cachePassword})
	if err != nil {
		t.Fatal(err)
	}
	l, err := e.Service.CreateLink(ctx, account.Principal{UserID: u.ID}, cachePassword)
	if err != nil {
		t.Fatal(err)
	}
	_, code, _ := strings.Cut(l.URL, "?start=")
	if _, err := e.Service.BindChat(ctx, code, chat); err != nil {
		t.Fatal(err)
	}
	return u
}

func (e *cacheEnv) login(t *testing.T, email, pw string) *account.Tokens {
	t.Helper()
	tok, err := e.Service.Login(t.Context(), account.LoginParams{Name: account.Name{Email: email}, Password: pw})
	if err != nil {
		t.Fatalf("Login(%s) err = %v", email, err)
	}
	return tok
}

// authenticate authenticates access and reads the profile, as GET /v1/me
// does.
func (e *cacheEnv) authenticate(svc *account.Service, access string) (account.Principal, error) {
	ctx := context.Background()
	pr, err := svc.Authenticate(ctx, access)
	if err != nil {
		return pr, err
	}
	_, err = svc.Profile(ctx, pr)
	return pr, err
}

func TestSessionCacheHitAndExpiry(t *testing.T) {
	e := newCacheEnv(t)
	e.user(t, "bob@example.com", 7)
	tok := e.login(t, "bob@example.com", cachePassword)
	s0, u0 := e.store.reads()
	for range 5 {
		if _, err := e.authenticate(e.Service, tok.Access); err != nil {
			t.Fatalf("authenticate err = %v", err)
		}
	}
	s1, u1 := e.store.reads()
	if s1-s0 != 1 || u1-u0 != 1 {
		t.Errorf("5 authenticated requests read %d sessions and %d users, want 1 and 1", s1-s0, u1-u0)
	}

	e.Clock.Advance(cacheTTL - time.Millisecond)
	_, _ = e.authenticate(e.Service, tok.Access)
	if s, u := e.store.reads(); s != s1 || u != u1 {
		t.Errorf("just before the TTL: %d session and %d user reads, want none", s-s1, u-u1)
	}
	e.Clock.Advance(time.Millisecond)
	_, _ = e.authenticate(e.Service, tok.Access)
	if s, u := e.store.reads(); s != s1+1 || u != u1+1 {
		t.Errorf("at the TTL: %d session and %d user reads, want 1 and 1", s-s1, u-u1)
	}
}

// TestSessionCacheInvalidation revokes sessions every way this process
// can, each right after the session was cached, and expects the very next
// request refused.
func TestSessionCacheInvalidation(t *testing.T) {
	tests := []struct {
		name string
		// revoke ends the session of tok (and maybe others) through svc.
		revoke func(t *testing.T, e *cacheEnv, u *account.User, tok *account.Tokens)
	}{
		{"sign out", func(t *testing.T, e *cacheEnv, u *account.User, tok *account.Tokens) {
			pr, _ := e.Service.Authenticate(t.Context(), tok.Access)
			if err := e.Service.SignOut(t.Context(), pr, account.Name{Email: u.Email}); err != nil {
				t.Fatal(err)
			}
		}},
		{"password change from another session", func(t *testing.T, e *cacheEnv, u *account.User, tok *account.Tokens) {
			other := e.login(t, u.Email, cachePassword)
			pr, err := e.Service.Authenticate(t.Context(), other.Access)
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Service.ChangePassword(t.Context(), pr, cachePassword, cacheNewPassword); err != nil {
				t.Fatal(err)
			}
		}},
		{"password reset with a code", func(t *testing.T, e *cacheEnv, u *account.User, tok *account.Tokens) {
			if err := e.Service.ForgotPassword(t.Context(), account.Name{Email: u.Email}); err != nil {
				t.Fatal(err)
			}
			err := e.Service.ConfirmNewPassword(t.Context(), account.ConfirmParams{
				Name: account.Name{Email: u.Email}, Code: e.store.lastCode(t), NewPassword: cacheNewPassword,
			})
			if err != nil {
				t.Fatal(err)
			}
		}},
		{"refresh token reused", func(t *testing.T, e *cacheEnv, u *account.User, tok *account.Tokens) {
			if _, err := e.Service.Refresh(t.Context(), tok.Refresh); err != nil {
				t.Fatal(err)
			}
			if _, err := e.Service.Refresh(t.Context(), tok.Refresh); !errors.Is(err, account.ErrInvalidToken) {
				t.Fatalf("reused refresh err = %v, want ErrInvalidToken", err)
			}
		}},
		{"not me from the chat", func(t *testing.T, e *cacheEnv, u *account.User, tok *account.Tokens) {
			pr, _ := e.Service.Authenticate(t.Context(), tok.Access)
			if _, err := e.Service.SignOutFromChat(t.Context(), u.ChatID, pr.SessionID); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newCacheEnv(t)
			u := e.user(t, "bob@example.com", 7)
			u.ChatID = 7
			tok := e.login(t, u.Email, cachePassword)
			if _, err := e.authenticate(e.Service, tok.Access); err != nil {
				t.Fatal(err)
			}
			tt.revoke(t, e, u, tok)
			if _, err := e.Service.Authenticate(t.Context(), tok.Access); !errors.Is(err, account.ErrInvalidToken) {
				t.Errorf("Authenticate right after the revocation err = %v, want ErrInvalidToken", err)
			}
		})
	}
}

// TestProfileCacheInvalidation: this process's change to what the
// profile shows is seen by the next request.
func TestProfileCacheInvalidation(t *testing.T) {
	e := newCacheEnv(t)
	u := e.user(t, "bob@example.com", 7)
	tok := e.login(t, u.Email, cachePassword)
	pr, err := e.authenticate(e.Service, tok.Access)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Service.UnlinkChat(t.Context(), 7, u.ID); err != nil {
		t.Fatal(err)
	}
	got, err := e.Service.Profile(t.Context(), pr)
	if err != nil || got.ChatID != 0 {
		t.Errorf("Profile after UnlinkChat = %+v, %v, want ChatID 0", got, err)
	}
	got.Email = "changed by the caller"
	if again, _ := e.Service.Profile(t.Context(), pr); again.Email != u.Email {
		t.Errorf("Profile after the caller changed its copy = %q, want %q", again.Email, u.Email)
	}
}

// TestSessionCacheOtherProcess: a revocation by another Service over the
// same database (the bot, another replica) is seen once the TTL passes,
// not before.
func TestSessionCacheOtherProcess(t *testing.T) {
	e := newCacheEnv(t)
	u := e.user(t, "bob@example.com", 7)
	tok := e.login(t, u.Email, cachePassword)
	pr, err := e.authenticate(e.Service, tok.Access)
	if err != nil {
		t.Fatal(err)
	}

	st, err := sqlite.Open(t.Context(), e.Path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = st.Close() })
	other := account.NewService(st, password.NewHasher(accounttest.FastParams, 1), e.Issuer, account.Options{Now: e.Clock.Now})
	if err := other.SignOut(t.Context(), pr, account.Name{Email: u.Email}); err != nil {
		t.Fatal(err)
	}
	if _, err := other.Authenticate(t.Context(), tok.Access); !errors.Is(err, account.ErrInvalidToken) {
		t.Fatalf("the revoking service: Authenticate err = %v, want ErrInvalidToken", err)
	}

	e.Clock.Advance(cacheTTL - time.Millisecond)
	if _, err := e.Service.Authenticate(t.Context(), tok.Access); err != nil {
		t.Errorf("within the TTL: Authenticate err = %v, want nil (the cached state)", err)
	}
	e.Clock.Advance(time.Millisecond)
	if _, err := e.Service.Authenticate(t.Context(), tok.Access); !errors.Is(err, account.ErrInvalidToken) {
		t.Errorf("after the TTL: Authenticate err = %v, want ErrInvalidToken", err)
	}
}

// TestSessionCacheExpiryExact: a cached session still expires at its own
// expiry, not at the entry's.
func TestSessionCacheExpiryExact(t *testing.T) {
	e := newCacheEnv(t)
	e.user(t, "bob@example.com", 7)
	tok := e.login(t, "bob@example.com", cachePassword)
	c, err := e.Issuer.Parse(tok.Access, "access")
	if err != nil {
		t.Fatal(err)
	}
	// Keep the session cached up to the access token's expiry, then step
	// over it: the token is refused (expired), whatever the cache says.
	e.Clock.Set(c.ExpiresAt.Add(-time.Millisecond))
	if _, err := e.Service.Authenticate(t.Context(), tok.Access); err != nil {
		t.Fatalf("just before expiry: err = %v", err)
	}
	e.Clock.Set(c.ExpiresAt)
	if _, err := e.Service.Authenticate(t.Context(), tok.Access); !errors.Is(err, account.ErrInvalidToken) {
		t.Errorf("at expiry: err = %v, want ErrInvalidToken", err)
	}
}

// TestSessionCacheOff: with a zero TTL every request reads the store.
func TestSessionCacheOff(t *testing.T) {
	var st *countingStore
	e := accounttest.New(t, accounttest.Config{Wrap: func(s account.Store) account.Store {
		st = &countingStore{Store: s}
		return st
	}})
	if _, err := e.Service.CreateUser(t.Context(), account.CreateUserParams{Email: "bob@example.com", Password: cachePassword}); err != nil {
		t.Fatal(err)
	}
	tok, err := e.Service.Login(t.Context(), account.LoginParams{Name: account.Name{Email: "bob@example.com"}, Password: cachePassword})
	if err != nil {
		t.Fatal(err)
	}
	s0, u0 := st.reads()
	for range 3 {
		pr, err := e.Service.Authenticate(t.Context(), tok.Access)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Service.Profile(t.Context(), pr); err != nil {
			t.Fatal(err)
		}
	}
	if s, u := st.reads(); s-s0 != 3 || u-u0 != 3 {
		t.Errorf("3 requests without a cache read %d sessions and %d users, want 3 and 3", s-s0, u-u0)
	}
}

// TestWritesGoThroughInTx guards the invalidation: a use case writing
// with s.store.InTx directly would bypass it.
func TestWritesGoThroughInTx(t *testing.T) {
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") || f == "tx.go" { // inTx itself
			continue
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(b), "s.store.InTx(") {
			t.Errorf("%s calls s.store.InTx; use s.inTx, which keeps the session cache right", f)
		}
	}
}
