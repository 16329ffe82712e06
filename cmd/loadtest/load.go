package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// bench holds the prepared accounts and sessions and runs the tests.
type bench struct {
	bases  []string // the replicas, taken in turn
	turn   atomic.Uint64
	pid    int // the server's, for its CPU time; 0 when unknown
	inProc bool
	o      options
	stderr io.Writer
	hc     *http.Client

	password      string
	emails        []string
	accessTokens  []string // GET /v1/me cycles through these
	refreshTokens []string // one refresh chain per refresh client
}

func newBench(srv *server, o options, stderr io.Writer) *bench {
	conns := max(o.clients, o.loginClients, o.refreshClients, 16)
	if srv.bases == nil {
		srv.bases = []string{srv.base}
	}
	return &bench{
		bases:    srv.bases,
		pid:      srv.pid,
		inProc:   srv.pid == os.Getpid(),
		o:        o,
		stderr:   stderr,
		hc:       &http.Client{Transport: newTransport(conns), Timeout: time.Minute},
		password: "Lt9!" + rand.Text()[:12],
	}
}

func (b *bench) close() { b.hc.CloseIdleConnections() }

// newTransport keeps up to conns connections alive to the one host, so
// that every client reuses its own and none waits on a dial.
func newTransport(conns int) *http.Transport {
	return &http.Transport{
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		MaxIdleConns:          conns,
		MaxIdleConnsPerHost:   conns,
		IdleConnTimeout:       90 * time.Second,
		DisableCompression:    true,
		ResponseHeaderTimeout: 2 * time.Minute,
	}
}

// statusError is a non-2xx answer.
type statusError struct {
	status int
	code   string // the problem's code, when the body has one
}

func (e *statusError) Error() string {
	if e.code != "" {
		return fmt.Sprintf("HTTP %d %s", e.status, e.code)
	}
	return fmt.Sprintf("HTTP %d", e.status)
}

// call sends one request and, for a 2xx answer, decodes its JSON body into
// out (or discards it when out is nil).
func (b *bench) call(ctx context.Context, hc *http.Client, method, path, auth string, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	base := b.bases[b.turn.Add(1)%uint64(len(b.bases))]
	req, err := http.NewRequestWithContext(ctx, method, base+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	if auth != "" {
		req.Header.Set("Authorization", "Bearer "+auth)
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		var p struct {
			Code string `json:"code"`
		}
		_ = json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&p)
		_, _ = io.Copy(io.Discard, resp.Body)
		return &statusError{status: resp.StatusCode, code: p.Code}
	}
	if out == nil {
		_, err = io.Copy(io.Discard, resp.Body)
		return err
	}
	if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
		return fmt.Errorf("decode %s: %w", path, err)
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return nil
}

type pair struct {
	Access  string `json:"access"`
	Refresh string `json:"refresh"`
}

func (b *bench) loginBody(user int) []byte {
	body, _ := json.Marshal(map[string]string{"email": b.emails[user%len(b.emails)], "password": b.password})
	return body
}

func (b *bench) loginPair(ctx context.Context, hc *http.Client, user int) (pair, error) {
	var p pair
	err := b.call(ctx, hc, http.MethodPost, "/v1/auth/login", "", b.loginBody(user), &p)
	return p, err
}

// prepare registers the accounts and opens the sessions the tests use.
func (b *bench) prepare(ctx context.Context) error {
	run := rand.Text()[:10]
	accepted := time.Now().UTC().Add(-time.Minute).Format(time.RFC3339)
	b.emails = make([]string, b.o.users)
	for i := range b.emails {
		b.emails[i] = fmt.Sprintf("load-%s-%d@example.com", run, i)
	}
	err := parallel(ctx, b.o.users, 8, func(ctx context.Context, i int) error {
		body, _ := json.Marshal(map[string]string{
			"email": b.emails[i], "password": b.password, "first_name": "Load", "last_name": "Test",
			"toc_accepted_at": accepted, "privacy_policy_accepted_at": accepted,
		})
		if err := b.call(ctx, b.hc, http.MethodPost, "/v1/auth/register", "", body, nil); err != nil {
			return fmt.Errorf("register: %w", err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	pairs := make([]pair, b.o.sessions+b.o.refreshClients)
	err = parallel(ctx, len(pairs), 8, func(ctx context.Context, i int) error {
		p, err := b.loginPair(ctx, b.hc, i)
		if err != nil {
			return fmt.Errorf("login: %w", err)
		}
		pairs[i] = p
		return nil
	})
	if err != nil {
		return err
	}
	for _, p := range pairs[:b.o.sessions] {
		b.accessTokens = append(b.accessTokens, p.Access)
	}
	for _, p := range pairs[b.o.sessions:] {
		b.refreshTokens = append(b.refreshTokens, p.Refresh)
	}
	return nil
}

// parallel runs f for 0..n-1 on up to width goroutines and returns the
// first error.
func parallel(ctx context.Context, n, width int, f func(ctx context.Context, i int) error) error {
	var (
		next atomic.Int64
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	for range min(n, width) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(ctx, i); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
					return
				}
			}
		})
	}
	wg.Wait()
	if len(errs) > 0 {
		return errs[0]
	}
	return ctx.Err()
}

// result is what one test measured.
type result struct {
	name     string
	clients  int
	ok       int // 2xx answers
	errs     int // everything else: non-2xx answers and transport failures
	err5xx   int
	elapsed  time.Duration
	lat      []time.Duration // of every answer counted, sorted
	errKinds map[string]int
	cpu      cpuUse // during the test, warm-up included
}

func (r *result) requests() int { return r.ok + r.errs }

func (r *result) rps() float64 {
	if r.elapsed <= 0 {
		return 0
	}
	return float64(r.ok) / r.elapsed.Seconds()
}

// percentile returns the p-th percentile (0 < p ≤ 100) of the latencies.
func (r *result) percentile(p float64) time.Duration {
	if len(r.lat) == 0 {
		return 0
	}
	i := int(float64(len(r.lat))*p/100+0.999999) - 1
	return r.lat[min(max(i, 0), len(r.lat)-1)]
}

// worker is one client's state across a test.
type worker struct {
	lat      []time.Duration
	ok, errs int
	err5xx   int
	errKinds map[string]int
}

func (w *worker) record(d time.Duration, err error) {
	w.lat = append(w.lat, d)
	if err == nil {
		w.ok++
		return
	}
	w.errs++
	if se, ok := errors.AsType[*statusError](err); ok && se.status >= 500 {
		w.err5xx++
	}
	if w.errKinds == nil {
		w.errKinds = make(map[string]int)
	}
	w.errKinds[errKind(err)]++
}

// errKind shortens an error to what tells failures apart.
func errKind(err error) string {
	if se, ok := errors.AsType[*statusError](err); ok {
		return se.Error()
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return "timeout"
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return "connection closed"
	}
	var oe *net.OpError
	if errors.As(err, &oe) {
		return oe.Op + ": " + oe.Err.Error()
	}
	return err.Error()
}

func merge(name string, ws []*worker, elapsed time.Duration) *result {
	r := &result{name: name, clients: len(ws), elapsed: elapsed, errKinds: map[string]int{}}
	for _, w := range ws {
		r.ok += w.ok
		r.errs += w.errs
		r.err5xx += w.err5xx
		r.lat = append(r.lat, w.lat...)
		for k, n := range w.errKinds {
			r.errKinds[k] += n
		}
	}
	slices.Sort(r.lat)
	return r
}

// timed runs clients goroutines, each calling do in a loop, for the
// warm-up and then d. Only answers that arrive after the warm-up and
// before the end are counted; a request still in flight at the end is
// neither counted nor cut off.
//
// The CPU time the server, this process and the rest of the machine use
// is sampled at the start and end of that window.
func (b *bench) timed(ctx context.Context, name string, clients int, d time.Duration, do func(ctx context.Context, client, i int) error) *result {
	start := time.Now()
	from := start.Add(warmup(d))
	end := from.Add(d)
	cpu := make(chan cpuUse, 1)
	go func() {
		wait := func(at time.Time) bool {
			select {
			case <-ctx.Done():
				return false
			case <-time.After(time.Until(at)):
				return true
			}
		}
		if !wait(from) {
			cpu <- cpuUse{}
			return
		}
		a := sampleCPU(b.pid)
		if !wait(end) {
			cpu <- cpuUse{}
			return
		}
		cpu <- cpuBetween(a, sampleCPU(b.pid), b.inProc)
	}()
	ws := make([]*worker, clients)
	var wg sync.WaitGroup
	for c := range clients {
		w := &worker{lat: make([]time.Duration, 0, 1024)}
		ws[c] = w
		wg.Go(func() {
			for i := 0; ctx.Err() == nil; i++ {
				t0 := time.Now()
				if !t0.Before(end) {
					return
				}
				err := do(ctx, c, i)
				t1 := time.Now()
				if t1.After(end) {
					return
				}
				if t1.Before(from) {
					continue
				}
				w.record(t1.Sub(t0), err)
			}
		})
	}
	wg.Wait()
	r := merge(name, ws, end.Sub(from))
	r.cpu = <-cpu
	return r
}

func (b *bench) healthz(ctx context.Context) *result {
	return b.timed(ctx, "GET /healthz", b.o.clients, b.o.duration, func(ctx context.Context, _, _ int) error {
		return b.call(ctx, b.hc, http.MethodGet, "/healthz", "", nil, nil)
	})
}

// me spreads the clients' requests over every prepared session.
func (b *bench) me(ctx context.Context) *result {
	n := len(b.accessTokens)
	return b.timed(ctx, "GET /v1/me", b.o.clients, b.o.duration, func(ctx context.Context, c, i int) error {
		return b.call(ctx, b.hc, http.MethodGet, "/v1/me", b.accessTokens[(c+i*b.o.clients)%n], nil, nil)
	})
}

func (b *bench) login(ctx context.Context) *result {
	bodies := make([][]byte, len(b.emails))
	for i := range bodies {
		bodies[i] = b.loginBody(i)
	}
	return b.timed(ctx, "POST /v1/auth/login", b.o.loginClients, b.o.duration, func(ctx context.Context, c, i int) error {
		return b.call(ctx, b.hc, http.MethodPost, "/v1/auth/login", "", bodies[(c+i)%len(bodies)], nil)
	})
}

// refresh has each client rotate its own session: every answer's refresh
// token is the next request's. A client whose chain breaks logs in again
// (untimed) and goes on with a new one.
func (b *bench) refresh(ctx context.Context) *result {
	chains := slices.Clone(b.refreshTokens)
	return b.timed(ctx, "POST /v1/auth/refresh", b.o.refreshClients, b.o.duration, func(ctx context.Context, c, _ int) error {
		body, _ := json.Marshal(map[string]string{"refresh": chains[c]})
		var p pair
		err := b.call(ctx, b.hc, http.MethodPost, "/v1/auth/refresh", "", body, &p)
		if err == nil {
			chains[c] = p.Refresh
			return nil
		}
		if np, lerr := b.loginPair(ctx, b.hc, c); lerr == nil {
			chains[c] = np.Refresh
		}
		return err
	})
}

// storm sends b.o.storm logins at once, each from its own connection, and
// samples the server's RSS until the last answer. It returns the result
// and the peak memory seen.
func (b *bench) storm(ctx context.Context, pid int) (*result, peakMem) {
	n := b.o.storm
	tr := newTransport(n)
	tr.MaxConnsPerHost = 0
	hc := &http.Client{Transport: tr, Timeout: 5 * time.Minute}
	defer hc.CloseIdleConnections()

	peak := peakMem{reset: resetPeak(pid) == nil}
	stopSampling := make(chan struct{})
	sampled := make(chan struct{})
	go func() {
		defer close(sampled)
		t := time.NewTicker(10 * time.Millisecond)
		defer t.Stop()
		for {
			if m := readMem(pid); m.ok {
				peak.maxRSS = max(peak.maxRSS, m.rss)
			}
			select {
			case <-stopSampling:
				return
			case <-t.C:
			}
		}
	}()

	ws := make([]*worker, n)
	go1 := make(chan struct{})
	var ready, wg sync.WaitGroup
	for i := range n {
		w := &worker{}
		ws[i] = w
		body := b.loginBody(i)
		ready.Add(1)
		wg.Go(func() {
			ready.Done()
			<-go1
			t0 := time.Now()
			err := b.call(ctx, hc, http.MethodPost, "/v1/auth/login", "", body, nil)
			w.record(time.Since(t0), err)
		})
	}
	ready.Wait()
	start := time.Now()
	before := sampleCPU(pid)
	close(go1)
	wg.Wait()
	elapsed := time.Since(start)
	cpu := cpuBetween(before, sampleCPU(pid), b.inProc)
	close(stopSampling)
	<-sampled
	if m := readMem(pid); m.ok {
		peak.maxRSS = max(peak.maxRSS, m.rss)
		peak.hwm = m.hwm
	}
	r := merge("login storm (at once)", ws, elapsed)
	r.cpu = cpu
	return r, peak
}
