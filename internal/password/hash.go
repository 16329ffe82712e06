// Package password hashes passwords with argon2id and checks them against
// tgauth's password policy.
package password

import (
	"context"
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"tgauth/internal/password/argon2"
)

// Params are argon2id cost parameters.
type Params struct {
	Memory  uint32 // KiB
	Time    uint32 // passes over memory
	Threads uint8
	SaltLen uint32 // bytes
	KeyLen  uint32 // bytes
}

// DefaultParams are OWASP's argon2id recommendation: 19 MiB, 2 passes, 1 lane.
var DefaultParams = Params{Memory: 19456, Time: 2, Threads: 1, SaltLen: 16, KeyLen: 32}

// Bounds on parameters accepted from a stored PHC string (and from NewHasher).
// A stored hash decides how much memory and time its verify costs, so absurd
// values are refused rather than honoured.
const (
	maxMemory  = 1 << 20 // KiB: 1 GiB
	maxTime    = 64
	minSaltLen = 8
	maxSaltLen = 64
	minKeyLen  = 16
	maxKeyLen  = 128
)

// ErrMalformedHash means a stored password hash is not an argon2id PHC string
// that Verify accepts.
var ErrMalformedHash = errors.New("malformed password hash")

// Hasher hashes and verifies passwords with argon2id, at most max at a time
// (each hash holds Memory KiB), so a login storm cannot exhaust memory:
// callers past the limit wait (or give up when ctx ends, returning ctx.Err()).
//
// Hashes with the Hasher's Params work in buffers kept between hashes, at
// most max of them, rather than allocating and clearing Memory KiB each
// time. The buffers lie outside the Go heap (see argon2.Buffer), so they
// do not double the garbage collector's goal; when no hash has run for
// IdleRelease, the Hasher unmaps them, so an idle server does not keep
// max·Memory KiB.
// A Hasher is safe for concurrent use.
type Hasher struct {
	p       Params
	slots   chan struct{} // one token per running hash
	waiting atomic.Int64
	dummy   string // a hash of a random password, verified for unknown users
	bufs    *bufferPool

	// testHook, when set, runs while a slot is held, just before hashing.
	testHook func()
}

// NewHasher returns a Hasher hashing with p and running at most max hashes at
// once; max below 1 counts as 1. It computes one hash (the dummy used by
// VerifyDummy) before returning. It panics if p is outside the bounds Verify
// accepts (Memory 8·Threads KiB to 1 GiB, Time 1 to 64, Threads at least 1,
// SaltLen 8 to 64, KeyLen 16 to 128): Params are a programming decision, not input.
func NewHasher(p Params, max int) *Hasher {
	if err := p.validate(); err != nil {
		panic("password: NewHasher: " + err.Error())
	}
	if max < 1 {
		max = 1
	}
	h := &Hasher{p: p, slots: make(chan struct{}, max)}
	h.bufs = newBufferPool(p, max, IdleRelease)
	// The dummy is hashed in a buffer of its own, unmapped at once: the
	// pool starts empty.
	salt, b := newSalt(p), argon2.NewBuffer(p.Memory, p.Threads)
	h.dummy = encodePHC(p, salt, b.IDKey([]byte(rand.Text()), salt, p.Time, p.Memory, p.Threads, p.KeyLen))
	b.Free()
	return h
}

// IdleRelease is how long a Hasher keeps its buffers after its last hash.
const IdleRelease = 5 * time.Second

// Hash returns the PHC string of password hashed with a fresh random salt:
// "$argon2id$v=19$m=19456,t=2,p=1$<salt>$<key>", salt and key in unpadded
// standard base64. It returns ctx.Err() if ctx ends while waiting for a slot.
func (h *Hasher) Hash(ctx context.Context, password string) (string, error) {
	if err := h.acquire(ctx); err != nil {
		return "", err
	}
	defer h.release()
	return h.hash(password), nil
}

// hash computes a PHC string; the caller holds a slot.
func (h *Hasher) hash(password string) string {
	salt := newSalt(h.p)
	return encodePHC(h.p, salt, h.key(password, salt, h.p))
}

func newSalt(p Params) []byte {
	salt := make([]byte, p.SaltLen)
	rand.Read(salt) // never fails (crypto/rand, Go 1.24+)
	return salt
}

// key derives the argon2id key of password under p, in a pooled buffer
// when p's memory fits one; the caller holds a slot.
func (h *Hasher) key(password string, salt []byte, p Params) []byte {
	if p.Memory != h.p.Memory || p.Threads != h.p.Threads {
		return argon2.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
	}
	b := h.bufs.get()
	defer h.bufs.put(b)
	return b.IDKey([]byte(password), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
}

// Verify reports whether password matches phc, a PHC string from Hash. The
// cost parameters are read from phc, so hashes made with other Params still
// verify. It returns an error wrapping ErrMalformedHash if phc cannot be
// parsed or names parameters out of bounds (such as more than 1 GiB of
// memory), and ctx.Err() if ctx ends while waiting for a slot.
func (h *Hasher) Verify(ctx context.Context, password, phc string) (bool, error) {
	p, salt, key, err := decodePHC(phc)
	if err != nil {
		return false, err
	}
	if err := h.acquire(ctx); err != nil {
		return false, err
	}
	defer h.release()
	got := h.key(password, salt, p)
	return subtle.ConstantTimeCompare(got, key) == 1, nil
}

// VerifyDummy costs what a Verify of password against a hash made with the
// Hasher's Params costs, and reports nothing. Call it for unknown users, so
// that the time an answer takes does not reveal whether an account exists.
// It returns early only if ctx ends while waiting for a slot.
func (h *Hasher) VerifyDummy(ctx context.Context, password string) {
	_, _ = h.Verify(ctx, password, h.dummy)
}

// InFlight returns the number of hashes running now.
func (h *Hasher) InFlight() int { return len(h.slots) }

// Waiting returns the number of callers queued for a slot.
func (h *Hasher) Waiting() int { return int(h.waiting.Load()) }

func (h *Hasher) acquire(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	select {
	case h.slots <- struct{}{}:
	default:
		h.waiting.Add(1)
		defer h.waiting.Add(-1)
		select {
		case h.slots <- struct{}{}:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if h.testHook != nil {
		h.testHook()
	}
	return nil
}

func (h *Hasher) release() { <-h.slots }

// bufferPool keeps the argon2 buffers of finished hashes, at most max (the
// Hasher's slots bound the buffers in use to max as well), and frees them
// once no buffer has been taken for idle.
type bufferPool struct {
	memory  uint32
	threads uint8
	max     int
	idle    time.Duration

	mu    sync.Mutex
	free  []*argon2.Buffer
	inUse int
	taken uint64 // buffers taken so far: a timer armed before a take is stale
	armed uint64 // taken when the idle timer was last armed
	timer *time.Timer
	drops int // times the buffers were dropped, for tests
}

func newBufferPool(p Params, max int, idle time.Duration) *bufferPool {
	bp := &bufferPool{memory: p.Memory, threads: p.Threads, max: max, idle: idle}
	bp.timer = time.AfterFunc(time.Hour, bp.onIdle)
	bp.timer.Stop()
	return bp
}

func (bp *bufferPool) get() *argon2.Buffer {
	bp.mu.Lock()
	bp.inUse++
	bp.taken++
	var b *argon2.Buffer
	if n := len(bp.free); n > 0 {
		b = bp.free[n-1]
		bp.free[n-1] = nil
		bp.free = bp.free[:n-1]
	}
	bp.mu.Unlock()
	if b == nil {
		b = argon2.NewBuffer(bp.memory, bp.threads)
	}
	return b
}

func (bp *bufferPool) put(b *argon2.Buffer) {
	bp.mu.Lock()
	defer bp.mu.Unlock()
	bp.inUse--
	if len(bp.free) < bp.max {
		bp.free = append(bp.free, b)
	} else {
		b.Free()
	}
	if bp.inUse == 0 {
		bp.armed = bp.taken
		bp.timer.Reset(bp.idle)
	}
}

// onIdle frees the buffers unless one was taken since the timer was armed.
func (bp *bufferPool) onIdle() {
	bp.mu.Lock()
	defer bp.mu.Unlock()
	if bp.inUse > 0 || bp.taken != bp.armed || len(bp.free) == 0 {
		return
	}
	for _, b := range bp.free {
		b.Free()
	}
	bp.free = nil
	bp.drops++
}

// buffered returns the number of buffers kept and the times they were
// freed.
func (bp *bufferPool) buffered() (kept, drops int) {
	bp.mu.Lock()
	defer bp.mu.Unlock()
	return len(bp.free), bp.drops
}

func (p Params) validate() error {
	switch {
	case p.Threads < 1:
		return errors.New("threads must be at least 1")
	case p.Memory < 8*uint32(p.Threads) || p.Memory > maxMemory:
		return fmt.Errorf("memory must be between %d and %d KiB", 8*uint32(p.Threads), maxMemory)
	case p.Time < 1 || p.Time > maxTime:
		return fmt.Errorf("time must be between 1 and %d", maxTime)
	case p.SaltLen < minSaltLen || p.SaltLen > maxSaltLen:
		return fmt.Errorf("salt length must be between %d and %d bytes", minSaltLen, maxSaltLen)
	case p.KeyLen < minKeyLen || p.KeyLen > maxKeyLen:
		return fmt.Errorf("key length must be between %d and %d bytes", minKeyLen, maxKeyLen)
	}
	return nil
}

var b64 = base64.RawStdEncoding.Strict()

func encodePHC(p Params, salt, key []byte) string {
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.Memory, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// decodePHC parses the exact form encodePHC writes: parameters in the order
// m, t, p, decimal without leading zeros, salt and key in canonical unpadded
// base64. The error never quotes phc: a hash is a secret of sorts.
func decodePHC(phc string) (p Params, salt, key []byte, err error) {
	malformed := func(why string) error { return fmt.Errorf("%w: %s", ErrMalformedHash, why) }
	fields := strings.Split(phc, "$")
	if len(fields) != 6 || fields[0] != "" {
		return p, nil, nil, malformed("want 5 $-separated fields")
	}
	if fields[1] != "argon2id" {
		return p, nil, nil, malformed("algorithm is not argon2id")
	}
	if fields[2] != "v="+strconv.Itoa(argon2.Version) {
		return p, nil, nil, malformed("unsupported version")
	}
	params := strings.Split(fields[3], ",")
	if len(params) != 3 {
		return p, nil, nil, malformed("want parameters m, t, p")
	}
	var m, t, th uint64
	for i, kv := range []struct {
		name string
		dst  *uint64
	}{{"m=", &m}, {"t=", &t}, {"p=", &th}} {
		v, ok := strings.CutPrefix(params[i], kv.name)
		if !ok {
			return p, nil, nil, malformed("want parameters m, t, p")
		}
		n, ok := parseDecimal(v)
		if !ok {
			return p, nil, nil, malformed("bad parameter " + strings.TrimSuffix(kv.name, "="))
		}
		*kv.dst = n
	}
	if th > 255 || m > maxMemory || t > maxTime {
		return p, nil, nil, malformed("parameters out of bounds")
	}
	if salt, err = decodeB64(fields[4]); err != nil {
		return p, nil, nil, malformed("bad salt encoding")
	}
	if key, err = decodeB64(fields[5]); err != nil {
		return p, nil, nil, malformed("bad key encoding")
	}
	if len(salt) > maxSaltLen || len(key) > maxKeyLen {
		return p, nil, nil, malformed("salt or key too long")
	}
	// #nosec G115 -- every value is bounded just above
	p = Params{Memory: uint32(m), Time: uint32(t), Threads: uint8(th), SaltLen: uint32(len(salt)), KeyLen: uint32(len(key))}
	if err := p.validate(); err != nil {
		return Params{}, nil, nil, malformed(err.Error())
	}
	return p, salt, key, nil
}

// parseDecimal parses a canonical decimal number: digits only, no sign, no
// leading zero, at most 10 digits (so it cannot overflow).
func parseDecimal(s string) (uint64, bool) {
	if s == "" || len(s) > 10 || (s[0] == '0' && len(s) > 1) {
		return 0, false
	}
	var n uint64
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// decodeB64 decodes canonical unpadded standard base64. The re-encoding check
// rejects what the decoder silently skips (CR and LF), so one hash has one spelling.
func decodeB64(s string) ([]byte, error) {
	b, err := b64.DecodeString(s)
	if err != nil {
		return nil, err
	}
	if b64.EncodeToString(b) != s {
		return nil, errors.New("non-canonical base64")
	}
	return b, nil
}
