package httpapi

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"tgauth/internal/password"
)

// The mean time of a login with a wrong password and one naming no
// account differ by under 10%, at the real argon2id cost: one hash and one
// committed write each.
func TestLoginTimingAlike(t *testing.T) {
	if testing.Short() {
		t.Skip("times up to 240 logins at the real argon2id cost")
	}
	e := newEnv(t, withParams(password.DefaultParams))
	timingAlike(t, e, http.StatusUnauthorized, func(user string) request {
		body, ct := form("username", user, "password", "Wrong-pass1")
		return request{method: http.MethodPost, path: "/v1/login/", body: body, contentType: ct}
	})
}

// The same for confirm_new_password with a wrong code: one committed write
// each (a counted try for a known account, a counter for an unknown one).
func TestConfirmTimingAlike(t *testing.T) {
	if testing.Short() {
		t.Skip("times up to 240 confirmations")
	}
	timingAlike(t, newEnv(t), http.StatusBadRequest, func(user string) request {
		body, ct := form("username", user, "verification_code", "000000", "new_password", "Kr4bby-Patty!x")
		return request{method: http.MethodPost, path: "/v1/auth/confirm_new_password", body: body, contentType: ct}
	})
}

// timingAlike checks that the mean time of a request made by req for a
// known account and for an unknown one, both answered status, differ by
// under 10%. The two kinds run interleaved so that drift in the machine's
// speed falls on both alike; known accounts are spread over 8 so that
// none locks or runs out of tries. A real side channel shows in every
// round, so the test passes on the first of three rounds within 10%: the
// rounds are for a shared machine's noise, not for the code.
func timingAlike(t *testing.T, e *env, status int, req func(user string) request) {
	t.Helper()
	if raceEnabled {
		t.Skip("timings under the race detector mean nothing")
	}
	const n = 40
	call := func(user string) time.Duration {
		r := req(user)
		hr := httptest.NewRequest(r.method, r.path, strings.NewReader(r.body))
		hr.Header.Set("Content-Type", r.contentType)
		rec := httptest.NewRecorder()
		start := time.Now()
		e.server.ServeHTTP(rec, hr)
		d := time.Since(start)
		if rec.Code != status {
			t.Fatalf("%s for %s: %d %s", r.path, user, rec.Code, rec.Body)
		}
		return d
	}
	call("warm-up")
	var rounds []string
	for r := range 3 {
		var users []string
		for i := range 8 {
			u := fmt.Sprintf("r%dbob%d", r, i)
			e.register(u, goodPassword, strconv.Itoa(i+1))
			users = append(users, u)
		}
		var known, unknown []time.Duration
		for i := range n {
			// Alternate which kind goes first, against any order effect.
			nobody := fmt.Sprintf("r%dnobody%d", r, i)
			if i%2 == 0 {
				known = append(known, call(users[i%len(users)]))
				unknown = append(unknown, call(nobody))
			} else {
				unknown = append(unknown, call(nobody))
				known = append(known, call(users[i%len(users)]))
			}
		}
		mk, mu := trimmedMean(known), trimmedMean(unknown)
		t.Logf("round %d, mean of the fastest 90%% of %d requests each: known account %v, unknown account %v", r, n, mk, mu)
		if hi, lo := max(mk, mu), min(mk, mu); float64(hi) <= 1.10*float64(lo) {
			return
		}
		rounds = append(rounds, fmt.Sprintf("known account %v vs unknown account %v", mk, mu))
	}
	t.Errorf("mean times differ by over 10%% in every round: %s", strings.Join(rounds, "; "))
}

// trimmedMean is the mean of the fastest 90% of ds: a shared machine's
// stalls land on single logins and say nothing about the code.
func trimmedMean(ds []time.Duration) time.Duration {
	ds = slices.Clone(ds)
	slices.Sort(ds)
	ds = ds[:len(ds)*9/10]
	var sum time.Duration
	for _, d := range ds {
		sum += d
	}
	return sum / time.Duration(len(ds))
}
