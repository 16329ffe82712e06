package e2e

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"tgauth/internal/accounttest"
)

// apiProc is cmd/api run as a child process on a database file.
type apiProc struct {
	*proc
	base string
}

var listeningRE = regexp.MustCompile(`msg=listening addr=(\S+)`)

// startAPI runs the api binary on dbPath and returns once it listens.
func startAPI(ctx context.Context, t *testing.T, bin, dbPath string) *apiProc {
	t.Helper()
	p := startProc(t, bin, baseEnv(
		"TGAUTH_DATABASE_PATH="+dbPath,
		"TGAUTH_HTTP_ADDR=127.0.0.1:0",
		"TGAUTH_RATELIMIT_ENABLED=false",
	))
	return &apiProc{proc: p, base: "http://" + p.await(ctx, listeningRE)}
}

// apiClient calls the API over a connection pool of its own.
type apiClient struct {
	base string
	hc   *http.Client
}

func newAPIClient(t *testing.T, base string) *apiClient {
	tr := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(tr.CloseIdleConnections)
	return &apiClient{base: base, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
}

// post sends body as JSON. A non-nil error means no answer came: the
// request may or may not have taken effect.
func (c *apiClient) post(ctx context.Context, path, bearer string, body any) (int, map[string]any, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return 0, nil, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(b))
	if err != nil {
		return 0, nil, err
	}
	req.Header.Set("Content-Type", "application/json")
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, err
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, err // the status alone is not an acknowledgement
	}
	var m map[string]any
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			return 0, nil, fmt.Errorf("%s: body %q: %w", path, raw, err)
		}
	}
	return resp.StatusCode, m, nil
}

// must is post for the test's own setup and checks: it fails the test
// unless the answer has status want.
func (c *apiClient) must(ctx context.Context, t *testing.T, path, bearer string, body any, want int) map[string]any {
	t.Helper()
	status, m, err := c.post(ctx, path, bearer, body)
	if err != nil {
		t.Fatalf("POST %s: %v", path, err)
	}
	if status != want {
		t.Fatalf("POST %s = %d %v, want %d", path, status, m, want)
	}
	return m
}

// loginStatus logs in over the Watchdog route and returns the status.
func (c *apiClient) loginStatus(ctx context.Context, t *testing.T, username, password string) int {
	t.Helper()
	status, m, err := c.post(ctx, "/v1/login", "", map[string]string{"username": username, "password": password})
	if err != nil {
		t.Fatalf("login %s: %v", username, err)
	}
	if status != http.StatusOK && status != http.StatusUnauthorized {
		t.Fatalf("login %s = %d %v, want 200 or 401", username, status, m)
	}
	return status
}

// claims are the parts of a token this test reads, without verifying it:
// the API does that.
type claims struct {
	SessionID  string `json:"sid"`
	Generation int64  `json:"gen"`
}

func parseClaims(t *testing.T, jwt string) claims {
	t.Helper()
	parts := strings.Split(jwt, ".")
	if len(parts) != 3 {
		t.Fatalf("token %q is not a JWT", jwt)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		t.Fatalf("token payload: %v", err)
	}
	var c claims
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatalf("token payload %s: %v", b, err)
	}
	return c
}

// changerPassword is the j-th password of changer w: each change moves
// to the next one.
func changerPassword(cycle, w, j int) string {
	if j == 0 {
		return oldPassword
	}
	return fmt.Sprintf("Chg%d.%d-Secret!%d", cycle, w, j)
}

// Writes acknowledged by a 2xx survive a SIGKILL of the API, and writes
// cut off by it are whole or absent: the real cmd/api binary on a SQLite
// file, killed while clients register, change passwords and refresh
// tokens, then restarted on the same file, twice.
func TestAPIKilledMidWrites(t *testing.T) {
	t.Parallel()
	bin := buildCommand(t, "api")
	dbPath := filepath.Join(t.TempDir(), "tgauth.db")
	ctx := waitCtx(t)
	api := startAPI(ctx, t, bin, dbPath)
	for cycle := range 2 {
		api = killMidWrites(ctx, t, bin, dbPath, api, cycle)
		if t.Failed() {
			return
		}
	}
}

// registrar registers users one after another.
type registrar struct {
	acked    []string // usernames whose registration answered 201
	inFlight string   // the one that got no answer, if any
}

// changer changes its user's password again and again, on one session.
type changer struct {
	username string
	userID   int64
	access   string
	acked    int  // the index of the password last acknowledged as current
	inFlight bool // a change to acked+1 got no answer
}

// refresher rotates one session's refresh token again and again.
type refresher struct {
	username string
	tokens   []string // refresh tokens; the last one came with the last 2xx
	inFlight bool     // a refresh of the last one got no answer
}

const (
	registrars = 3
	changers   = 3
	refreshers = 3
)

// killMidWrites runs one cycle: setup on api, the clients, SIGKILL, and
// the checks on a restarted api, which it returns.
func killMidWrites(ctx context.Context, t *testing.T, bin, dbPath string, api *apiProc, cycle int) *apiProc {
	c := newAPIClient(t, api.base)

	chg := make([]*changer, changers)
	for w := range chg {
		name := fmt.Sprintf("chg%d_%d", cycle, w)
		chat := int64(800000 + cycle*100 + w)
		m := c.must(ctx, t, "/v1/register", "", map[string]any{
			"username": name, "password": oldPassword, "account": chat,
		}, http.StatusCreated)
		id, _ := m["id"].(float64)
		accounttest.ConfirmChat(t, dbPath, int64(id), chat)
		tok, _ := c.must(ctx, t, "/v1/login", "", map[string]string{"username": name, "password": oldPassword},
			http.StatusOK)["token"].(string)
		chg[w] = &changer{username: name, userID: int64(id), access: tok}
	}
	ref := make([]*refresher, refreshers)
	for w := range ref {
		name := fmt.Sprintf("ref%d_%d", cycle, w)
		chat := int64(900000 + cycle*100 + w)
		m := c.must(ctx, t, "/v1/register", "", map[string]any{
			"username": name, "password": oldPassword, "account": chat,
		}, http.StatusCreated)
		id, _ := m["id"].(float64)
		accounttest.ConfirmChat(t, dbPath, int64(id), chat)
		tok, _ := c.must(ctx, t, "/v2/auth/login", "", map[string]string{"username": name, "password": oldPassword},
			http.StatusOK)["refresh"].(string)
		ref[w] = &refresher{username: name, tokens: []string{tok}}
	}
	reg := make([]*registrar, registrars)
	for w := range reg {
		reg[w] = &registrar{}
	}

	// The clients run until a request of theirs gets no answer.
	var regAcks, chgAcks, refAcks atomic.Int64
	clientCtx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	unexpected := func(what string, status int, m map[string]any) {
		t.Errorf("%s = %d %v before the kill, want 2xx", what, status, m)
		cancel()
	}
	var wg sync.WaitGroup
	for w, r := range reg {
		wg.Go(func() {
			for i := 0; clientCtx.Err() == nil; i++ {
				name := fmt.Sprintf("reg%d_%d_%d", cycle, w, i)
				status, m, err := c.post(clientCtx, "/v1/register", "", map[string]any{
					"username": name, "password": oldPassword, "account": 1_000_000 + cycle*100_000 + w*1000 + i,
				})
				switch {
				case err != nil:
					r.inFlight = name
					return
				case status != http.StatusCreated:
					unexpected("register "+name, status, m)
					return
				}
				r.acked = append(r.acked, name)
				regAcks.Add(1)
			}
		})
	}
	for w, ch := range chg {
		wg.Go(func() {
			for clientCtx.Err() == nil {
				status, m, err := c.post(clientCtx, "/v1/change-password", ch.access, map[string]string{
					"old_password": changerPassword(cycle, w, ch.acked), "new_password": changerPassword(cycle, w, ch.acked+1),
				})
				switch {
				case err != nil:
					ch.inFlight = true
					return
				case status != http.StatusOK:
					unexpected("change-password of "+ch.username, status, m)
					return
				}
				ch.acked++
				chgAcks.Add(1)
			}
		})
	}
	for _, rf := range ref {
		wg.Go(func() {
			for clientCtx.Err() == nil {
				status, m, err := c.post(clientCtx, "/v1/auth/refresh", "", map[string]string{"refresh": rf.tokens[len(rf.tokens)-1]})
				switch {
				case err != nil:
					rf.inFlight = true
					return
				case status != http.StatusOK:
					unexpected("refresh of "+rf.username, status, m)
					return
				}
				tok, _ := m["refresh"].(string)
				rf.tokens = append(rf.tokens, tok)
				refAcks.Add(1)
			}
		})
	}

	// Kill once every kind of write has been acknowledged a few times:
	// the clients never pause, so requests are in flight.
	err := pollUntil(clientCtx, func() (bool, error) {
		return regAcks.Load() >= 6 && chgAcks.Load() >= 4 && refAcks.Load() >= 30, nil
	})
	api.kill()
	wg.Wait()
	if err != nil || t.Failed() {
		t.Fatalf("cycle %d: acknowledged before the kill: %d registrations, %d password changes, %d refreshes: %v",
			cycle, regAcks.Load(), chgAcks.Load(), refAcks.Load(), err)
	}
	inFlight := 0
	for _, r := range reg {
		if r.inFlight != "" {
			inFlight++
		}
	}
	for _, ch := range chg {
		if ch.inFlight {
			inFlight++
		}
	}
	for _, rf := range ref {
		if rf.inFlight {
			inFlight++
		}
	}
	t.Logf("cycle %d: SIGKILL after %d registrations, %d password changes, %d refreshes acknowledged; %d requests cut off",
		cycle, regAcks.Load(), chgAcks.Load(), refAcks.Load(), inFlight)

	checkIntegrity(ctx, t, dbPath)
	db := openDB(t, dbPath)
	// Refresh checks change sessions, so the database is read first.
	gens := make([]int64, len(ref))
	for i, rf := range ref {
		cl := parseClaims(t, rf.tokens[0])
		if err := db.QueryRowContext(ctx, `SELECT generation FROM sessions WHERE id = ?`, cl.SessionID).Scan(&gens[i]); err != nil {
			t.Fatalf("session of %s: %v", rf.username, err)
		}
	}

	api = startAPI(ctx, t, bin, dbPath)
	c = newAPIClient(t, api.base)

	landed := 0 // requests cut off that took effect
	// Registrations: every acknowledged one can log in; one cut off is
	// there whole (password and notice, checked below) or not at all.
	for _, r := range reg {
		for _, name := range r.acked {
			if c.loginStatus(ctx, t, name, oldPassword) != http.StatusOK {
				t.Errorf("user %s, registered with a 201 before the kill, cannot log in after it", name)
			}
		}
		if r.inFlight == "" {
			continue
		}
		n := queryInt(ctx, t, db, `SELECT count(*) FROM users WHERE username = ?`, r.inFlight)
		if n == 1 {
			landed++
			if c.loginStatus(ctx, t, r.inFlight, oldPassword) != http.StatusOK {
				t.Errorf("user %s, whose registration was cut off, exists but cannot log in", r.inFlight)
			}
		}
	}

	// Password changes: the last acknowledged password works and the one
	// before does not, unless a change cut off landed, in which case the
	// next one works instead. Each change that landed queued its notice.
	for w, ch := range chg {
		cur := ch.acked
		if c.loginStatus(ctx, t, ch.username, changerPassword(cycle, w, cur)) != http.StatusOK {
			cur = ch.acked + 1
			landed++
			if !ch.inFlight {
				t.Errorf("%s: password %d, acknowledged before the kill, fails after it", ch.username, ch.acked)
			} else if c.loginStatus(ctx, t, ch.username, changerPassword(cycle, w, cur)) != http.StatusOK {
				t.Errorf("%s: neither password %d (acknowledged) nor %d (cut off) works", ch.username, ch.acked, cur)
			}
		} else if cur > 0 && c.loginStatus(ctx, t, ch.username, changerPassword(cycle, w, cur-1)) != http.StatusUnauthorized {
			t.Errorf("%s: password %d, replaced with a 200 before the kill, still works after it", ch.username, cur-1)
		}
		n := queryInt(ctx, t, db, `SELECT count(*) FROM outbox WHERE kind = 'password_changed'
			AND json_extract(payload, '$.user_id') = ?`, ch.userID)
		if n != cur {
			t.Errorf("%s: %d password_changed notices queued, want %d, one per change that landed", ch.username, n, cur)
		}
	}

	// Refreshes: a rotation answered 2xx spent the token before it; the
	// last token answered works, unless a refresh of it was cut off and
	// landed, which spent it too.
	for i, rf := range ref {
		last := rf.tokens[len(rf.tokens)-1]
		want := parseClaims(t, last).Generation
		switch {
		case gens[i] == want && len(rf.tokens) >= 2:
			status, m, err := c.post(ctx, "/v1/auth/refresh", "", map[string]string{"refresh": last})
			if err != nil || status != http.StatusOK {
				t.Errorf("%s: refresh with the last token acknowledged = %d %v %v, want 200", rf.username, status, m, err)
				continue
			}
			next, _ := m["refresh"].(string)
			spent := rf.tokens[len(rf.tokens)-2]
			c.must(ctx, t, "/v1/auth/refresh", "", map[string]string{"refresh": spent}, http.StatusUnauthorized)
			// That was a reuse: the whole session has ended.
			c.must(ctx, t, "/v1/auth/refresh", "", map[string]string{"refresh": next}, http.StatusUnauthorized)
		case gens[i] == want:
			c.must(ctx, t, "/v1/auth/refresh", "", map[string]string{"refresh": last}, http.StatusOK)
		case gens[i] == want+1 && rf.inFlight:
			landed++
			c.must(ctx, t, "/v1/auth/refresh", "", map[string]string{"refresh": last}, http.StatusUnauthorized)
		default:
			t.Errorf("%s: session generation %d after the kill, want %d (the last acknowledged) or, with a refresh cut off (%v), %d",
				rf.username, gens[i], want, rf.inFlight, want+1)
		}
	}

	t.Logf("cycle %d: %d of the requests cut off took effect", cycle, landed)

	// Nothing half-written, whoever wrote it.
	checkWhole(ctx, t, db)
	return api
}

// checkWhole checks what every transaction of the API writes together.
func checkWhole(ctx context.Context, t *testing.T, db *sql.DB) {
	t.Helper()
	checks := []struct {
		what, query string
	}{
		{"users without an argon2id hash", `SELECT count(*) FROM users WHERE password_hash NOT LIKE '$argon2id$%'`},
		{"users with a chat and not exactly one confirm_chat question", `SELECT count(*) FROM users u
			WHERE u.telegram_chat_id IS NOT NULL AND (SELECT count(*) FROM outbox o
				WHERE o.kind = 'confirm_chat' AND json_extract(o.payload, '$.user_id') = u.id) != 1`},
		{"notices but the question to a chat not confirmed", `SELECT count(*) FROM outbox o
			JOIN users u ON u.id = json_extract(o.payload, '$.user_id')
			WHERE u.chat_confirmed_at IS NULL AND o.kind != 'confirm_chat'`},
		{"notices for no user", `SELECT count(*) FROM outbox o
			WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = json_extract(o.payload, '$.user_id'))`},
		{"sessions of no user", `SELECT count(*) FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM users u WHERE u.id = s.user_id)`},
		{"users with a chat whose sessions and new_sign_in notices differ in number", `SELECT count(*) FROM users u
			WHERE u.chat_confirmed_at IS NOT NULL AND (SELECT count(*) FROM sessions s WHERE s.user_id = u.id) !=
				(SELECT count(*) FROM outbox o WHERE o.kind = 'new_sign_in' AND json_extract(o.payload, '$.user_id') = u.id)`},
		{"users with a chat whose reuse revocations and refresh_reused notices differ in number", `SELECT count(*) FROM users u
			WHERE u.chat_confirmed_at IS NOT NULL
			AND (SELECT count(*) FROM sessions s WHERE s.user_id = u.id AND s.revoke_reason = 'refresh_reused') !=
				(SELECT count(*) FROM outbox o WHERE o.kind = 'refresh_reused' AND json_extract(o.payload, '$.user_id') = u.id)`},
	}
	for _, c := range checks {
		if n := queryInt(ctx, t, db, c.query); n != 0 {
			t.Errorf("%s: %d, want 0", c.what, n)
		}
	}
}
