package password

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"runtime"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"golang.org/x/crypto/argon2"
)

// fast are cheap parameters for tests that are not about cost.
var fast = Params{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}

func TestHashVerify(t *testing.T) {
	ctx := t.Context()
	h := NewHasher(fast, 2)
	phc, err := h.Hash(ctx, "BigBob27!")
	if err != nil {
		t.Fatalf("Hash(%q) err = %v, want nil", "BigBob27!", err)
	}
	if re := regexp.MustCompile(`^\$argon2id\$v=19\$m=64,t=1,p=1\$[A-Za-z0-9+/]{22}\$[A-Za-z0-9+/]{43}$`); !re.MatchString(phc) {
		t.Errorf("Hash(%q) = %q, want match for %s", "BigBob27!", phc, re)
	}
	again, _ := h.Hash(ctx, "BigBob27!")
	if again == phc {
		t.Errorf("Hash(%q) twice = %q both times, want different salts", "BigBob27!", phc)
	}
	for _, tt := range []struct {
		password string
		want     bool
	}{
		{"BigBob27!", true},
		{"bigbob27!", false},
		{"BigBob27", false},
		{"", false},
	} {
		got, err := h.Verify(ctx, tt.password, phc)
		if err != nil || got != tt.want {
			t.Errorf("Verify(%q, %q) = %v, %v, want %v, nil", tt.password, phc, got, err, tt.want)
		}
	}
}

func TestDefaultParamsFormat(t *testing.T) {
	h := NewHasher(DefaultParams, 1)
	phc, err := h.Hash(t.Context(), "BigBob27!")
	if err != nil {
		t.Fatal(err)
	}
	if want := "$argon2id$v=19$m=19456,t=2,p=1$"; !strings.HasPrefix(phc, want) {
		t.Errorf("Hash(%q) = %q, want prefix %q", "BigBob27!", phc, want)
	}
	if ok, err := h.Verify(t.Context(), "BigBob27!", phc); !ok || err != nil {
		t.Errorf("Verify(%q, %q) = %v, %v, want true, nil", "BigBob27!", phc, ok, err)
	}
}

// TestVerifyOtherParams checks that a hash made with other parameters (an
// older default, another library) still verifies.
func TestVerifyOtherParams(t *testing.T) {
	h := NewHasher(fast, 1)
	for _, p := range []Params{
		{Memory: 128, Time: 3, Threads: 2, SaltLen: 8, KeyLen: 16},
		{Memory: 32, Time: 1, Threads: 4, SaltLen: 64, KeyLen: 64},
		{Memory: 256, Time: 2, Threads: 1, SaltLen: 32, KeyLen: 128},
	} {
		salt := []byte(strings.Repeat("s", int(p.SaltLen)))
		key := argon2.IDKey([]byte("BigBob27!"), salt, p.Time, p.Memory, p.Threads, p.KeyLen)
		phc := encodePHC(p, salt, key)
		for _, tt := range []struct {
			password string
			want     bool
		}{{"BigBob27!", true}, {"BigBob27?", false}} {
			if got, err := h.Verify(t.Context(), tt.password, phc); got != tt.want || err != nil {
				t.Errorf("Verify(%q, %q) = %v, %v, want %v, nil", tt.password, phc, got, err, tt.want)
			}
		}
	}
}

// TestVerifyKnownVector pins the format against a hash from the reference
// argon2 CLI: echo -n password | argon2 somesalt -id -t 2 -m 16 -p 4 -l 32 -e.
func TestVerifyKnownVector(t *testing.T) {
	const phc = "$argon2id$v=19$m=65536,t=2,p=4$c29tZXNhbHQ$GpZ3sK/oH9p7VIiV56G/64Zo/8GaUw434IimaPqxwCo"
	h := NewHasher(fast, 1)
	if got, err := h.Verify(t.Context(), "password", phc); !got || err != nil {
		t.Errorf("Verify(%q, %q) = %v, %v, want true, nil", "password", phc, got, err)
	}
}

func TestVerifyMalformed(t *testing.T) {
	const (
		salt = "c29tZXNhbHRzb21lc2FsdA" // 16 bytes
		key  = "CTFhFdXPJO1aFaMaO6Mm5c8y7cJHAph8CTFhFdXPJO0"
	)
	good := "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key
	if _, err := NewHasher(fast, 1).Verify(t.Context(), "x", good); err != nil {
		t.Fatalf("Verify(%q, %q) err = %v, want nil", "x", good, err)
	}
	tests := []struct{ name, phc string }{
		{"empty", ""},
		{"dollars only", "$$$$$"},
		{"bcrypt", "$2a$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy"},
		{"argon2i", "$argon2i$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"argon2d", "$argon2d$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"no leading dollar", "argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key},
		{"trailing dollar", good + "$"},
		{"missing key", "$argon2id$v=19$m=64,t=1,p=1$" + salt},
		{"missing version", "$argon2id$m=64,t=1,p=1$" + salt + "$" + key},
		{"version 16", "$argon2id$v=16$m=64,t=1,p=1$" + salt + "$" + key},
		{"version with leading zero", "$argon2id$v=019$m=64,t=1,p=1$" + salt + "$" + key},
		{"params out of order", "$argon2id$v=19$t=1,m=64,p=1$" + salt + "$" + key},
		{"missing param", "$argon2id$v=19$m=64,t=1$" + salt + "$" + key},
		{"extra param", "$argon2id$v=19$m=64,t=1,p=1,k=2$" + salt + "$" + key},
		{"keyid param", "$argon2id$v=19$m=64,t=1,p=1,keyid=abc$" + salt + "$" + key},
		{"empty param", "$argon2id$v=19$m=,t=1,p=1$" + salt + "$" + key},
		{"negative memory", "$argon2id$v=19$m=-64,t=1,p=1$" + salt + "$" + key},
		{"plus sign", "$argon2id$v=19$m=+64,t=1,p=1$" + salt + "$" + key},
		{"leading zero", "$argon2id$v=19$m=064,t=1,p=1$" + salt + "$" + key},
		{"hex", "$argon2id$v=19$m=0x40,t=1,p=1$" + salt + "$" + key},
		{"space", "$argon2id$v=19$m= 64,t=1,p=1$" + salt + "$" + key},
		{"memory over 1 GiB", "$argon2id$v=19$m=1048577,t=1,p=1$" + salt + "$" + key},
		{"memory overflows uint32", "$argon2id$v=19$m=4294967296,t=1,p=1$" + salt + "$" + key},
		{"memory huge", "$argon2id$v=19$m=99999999999999999999,t=1,p=1$" + salt + "$" + key},
		{"memory below 8 per thread", "$argon2id$v=19$m=15,t=1,p=2$" + salt + "$" + key},
		{"zero time", "$argon2id$v=19$m=64,t=0,p=1$" + salt + "$" + key},
		{"time too large", "$argon2id$v=19$m=64,t=65,p=1$" + salt + "$" + key},
		{"zero threads", "$argon2id$v=19$m=64,t=1,p=0$" + salt + "$" + key},
		{"threads over 255", "$argon2id$v=19$m=4096,t=1,p=256$" + salt + "$" + key},
		{"empty salt", "$argon2id$v=19$m=64,t=1,p=1$$" + key},
		{"short salt", "$argon2id$v=19$m=64,t=1,p=1$c29tZQ$" + key},
		{"empty key", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$"},
		{"short key", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$CTFhFdXPJO1aFaMa"},
		{"padded salt", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "==$" + key},
		{"url-safe alphabet", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:10] + "-" + key[11:]},
		{"bad base64 char", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:10] + "*" + key[11:]},
		{"non-canonical trailing bits", "$argon2id$v=19$m=64,t=1,p=1$" + salt[:len(salt)-1] + "B$" + key},
		{"newline in key", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key[:10] + "\n" + key[10:]},
		{"NUL", "$argon2id$v=19$m=64,t=1,p=1$" + salt + "$" + key + "\x00"},
	}
	h := NewHasher(fast, 1)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ok, err := h.Verify(t.Context(), "BigBob27!", tt.phc)
			if ok || !errors.Is(err, ErrMalformedHash) {
				t.Errorf("Verify(%q, %q) = %v, %v, want false, ErrMalformedHash", "BigBob27!", tt.phc, ok, err)
			}
			if err != nil && tt.phc != "" && strings.Contains(err.Error(), tt.phc) {
				t.Errorf("Verify(%q, %q) err = %q, quotes the hash", "BigBob27!", tt.phc, err)
			}
		})
	}
}

func TestVerifyDummy(t *testing.T) {
	h := NewHasher(fast, 1)
	if !strings.HasPrefix(h.dummy, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("dummy = %q, want a hash with the Hasher's params", h.dummy)
	}
	var ran int
	h.testHook = func() { ran++ }
	h.VerifyDummy(t.Context(), "BigBob27!")
	if ran != 1 {
		t.Errorf("VerifyDummy hashed %d times, want 1", ran)
	}
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	h.VerifyDummy(ctx, "BigBob27!") // returns at once
	if ran != 1 {
		t.Errorf("VerifyDummy with a cancelled ctx hashed %d times, want 0", ran-1)
	}
}

func TestNewHasherBadParams(t *testing.T) {
	for _, p := range []Params{
		{},
		{Memory: 64, Time: 1, Threads: 0, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 0, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 2 << 20, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 4, KeyLen: 32},
		{Memory: 64, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 0},
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Errorf("NewHasher(%+v, 1) did not panic, want panic", p)
				}
			}()
			NewHasher(p, 1)
		}()
	}
}

// TestConcurrencyLimit holds every hash that gets a slot until all callers
// are either hashing or queued, then checks no more than limit ran at once.
func TestConcurrencyLimit(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit, callers = 2, 10
		h := NewHasher(fast, limit)
		release := make(chan struct{})
		var mu sync.Mutex
		var running, peak int
		h.testHook = func() {
			mu.Lock()
			running++
			peak = max(peak, running)
			mu.Unlock()
			<-release
			mu.Lock()
			running--
			mu.Unlock()
		}
		var wg sync.WaitGroup
		errs := make(chan error, callers)
		for i := range callers {
			wg.Go(func() {
				if i%2 == 0 {
					_, err := h.Hash(t.Context(), "BigBob27!")
					errs <- err
				} else {
					_, err := h.Verify(t.Context(), "BigBob27!", h.dummy)
					errs <- err
				}
			})
		}
		synctest.Wait() // everyone is in the hook or queued
		if got := h.InFlight(); got != limit {
			t.Errorf("InFlight() = %d, want %d", got, limit)
		}
		if got := h.Waiting(); got != callers-limit {
			t.Errorf("Waiting() = %d, want %d", got, callers-limit)
		}
		close(release)
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("Hash or Verify err = %v, want nil", err)
			}
		}
		if peak != limit {
			t.Errorf("peak concurrent hashes = %d, want %d", peak, limit)
		}
		if got, want := fmt.Sprint(h.InFlight(), h.Waiting()), "0 0"; got != want {
			t.Errorf("InFlight(), Waiting() after = %s, want %s", got, want)
		}
	})
}

func TestCancelWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHasher(fast, 1)
		release := make(chan struct{})
		h.testHook = func() { <-release }
		done := make(chan struct{})
		go func() {
			defer close(done)
			h.Hash(t.Context(), "holder")
		}()
		synctest.Wait() // the holder has the only slot

		ctx, cancel := context.WithCancel(t.Context())
		type result struct {
			phc string
			err error
		}
		hashed := make(chan result)
		verified := make(chan error)
		go func() {
			phc, err := h.Hash(ctx, "BigBob27!")
			hashed <- result{phc, err}
		}()
		go func() {
			_, err := h.Verify(ctx, "BigBob27!", h.dummy)
			verified <- err
		}()
		synctest.Wait()
		if got := h.Waiting(); got != 2 {
			t.Errorf("Waiting() = %d, want 2", got)
		}
		cancel()
		if r := <-hashed; r.phc != "" || r.err != context.Canceled {
			t.Errorf("Hash(cancelled ctx) = %q, %v, want \"\", %v", r.phc, r.err, context.Canceled)
		}
		if err := <-verified; err != context.Canceled {
			t.Errorf("Verify(cancelled ctx) err = %v, want %v", err, context.Canceled)
		}
		if got := h.Waiting(); got != 0 {
			t.Errorf("Waiting() after cancel = %d, want 0", got)
		}
		close(release)
		<-done
	})
}

func TestTimeoutWhileWaiting(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := NewHasher(fast, 1)
		release := make(chan struct{})
		h.testHook = func() { <-release }
		go h.Hash(t.Context(), "holder")
		synctest.Wait()
		ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
		defer cancel()
		if _, err := h.Hash(ctx, "BigBob27!"); err != context.DeadlineExceeded {
			t.Errorf("Hash(ctx timing out) err = %v, want %v", err, context.DeadlineExceeded)
		}
		close(release)
	})
}

func TestHashCancelledBeforeStart(t *testing.T) {
	h := NewHasher(fast, 1)
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	if _, err := h.Hash(ctx, "BigBob27!"); err != context.Canceled {
		t.Errorf("Hash(cancelled ctx) err = %v, want %v", err, context.Canceled)
	}
}

func FuzzVerify(f *testing.F) {
	h := NewHasher(fast, 1)
	good, err := h.Hash(context.Background(), "BigBob27!")
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{good, "", "$argon2id$v=19$m=64,t=1,p=1$$", "$argon2id$v=19$m=1048577,t=1,p=1$c29tZXNhbHQ$c29tZXNhbHRzb21lc2FsdA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, phc string) {
		p, salt, key, err := decodePHC(phc)
		if err != nil {
			if !errors.Is(err, ErrMalformedHash) {
				t.Fatalf("decodePHC(%q) err = %v, want ErrMalformedHash", phc, err)
			}
			return
		}
		// What parses is within bounds and has exactly one spelling.
		if p.Memory > maxMemory || p.Time > maxTime || p.Threads < 1 {
			t.Fatalf("decodePHC(%q) = %+v, want params within bounds", phc, p)
		}
		if got := encodePHC(p, salt, key); got != phc {
			t.Fatalf("encodePHC(decodePHC(%q)) = %q, want the input", phc, got)
		}
		if p.Memory > 1024 || p.Time > 2 {
			return // too slow to verify on every input
		}
		if _, err := h.Verify(context.Background(), "BigBob27!", phc); err != nil {
			t.Fatalf("Verify(%q) err = %v, want nil", phc, err)
		}
	})
}

func BenchmarkPasswordHash(b *testing.B) {
	h := NewHasher(DefaultParams, 1)
	ctx := b.Context()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := h.Hash(ctx, "BigBob27!"); err != nil {
			b.Fatal(err)
		}
	}
}

// TestBuffersReusedAndReleased checks that hashes with the Hasher's Params
// keep at most max buffers, and that the buffers are freed once no hash
// has run for IdleRelease, and not before.
func TestBuffersReusedAndReleased(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const limit = 2
		h := NewHasher(fast, limit)
		ctx := t.Context()
		check := func(when string, wantKept, wantDrops int) {
			t.Helper()
			synctest.Wait()
			if kept, drops := h.bufs.buffered(); kept != wantKept || drops != wantDrops {
				t.Errorf("%s: buffers kept, times freed = %d, %d, want %d, %d", when, kept, drops, wantKept, wantDrops)
			}
		}
		check("before any hash", 0, 0)

		// Two buffers in use at once (as many as the slots allow) stay
		// for the hashes after them.
		b1, b2 := h.bufs.get(), h.bufs.get()
		h.bufs.put(b1)
		h.bufs.put(b2)
		if _, err := h.Hash(ctx, "BigBob27!"); err != nil {
			t.Fatal(err)
		}
		check("after two at once and one more", limit, 0)

		time.Sleep(IdleRelease - time.Millisecond)
		phc, err := h.Hash(ctx, "BigBob27!") // just before the release: the timer starts again
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(IdleRelease - time.Millisecond)
		check("idle just under IdleRelease after the last hash", limit, 0)
		time.Sleep(2 * time.Millisecond)
		check("idle for IdleRelease", 0, 1)

		// The next hash allocates again and verifies what the pooled
		// buffers made.
		if ok, err := h.Verify(ctx, "BigBob27!", phc); !ok || err != nil {
			t.Errorf("Verify after release = %v, %v, want true, nil", ok, err)
		}
		check("after a verify", 1, 1)
		time.Sleep(IdleRelease)
		check("idle again", 0, 2)
		time.Sleep(time.Hour)
		check("nothing more to release", 0, 2)
	})
}

// TestOtherParamsNotPooled checks that verifying a hash made with other
// Params (up to a GiB of memory) does not keep its buffer.
func TestOtherParamsNotPooled(t *testing.T) {
	h := NewHasher(fast, 1)
	p := Params{Memory: 128, Time: 1, Threads: 1, SaltLen: 16, KeyLen: 32}
	salt := []byte(strings.Repeat("s", 16))
	phc := encodePHC(p, salt, argon2.IDKey([]byte("BigBob27!"), salt, p.Time, p.Memory, p.Threads, p.KeyLen))
	if ok, err := h.Verify(t.Context(), "BigBob27!", phc); !ok || err != nil {
		t.Fatalf("Verify = %v, %v, want true, nil", ok, err)
	}
	if kept, _ := h.bufs.buffered(); kept != 0 {
		t.Errorf("buffers kept after verifying other params = %d, want 0", kept)
	}
}

// BenchmarkPasswordHashParallel hashes from GOMAXPROCS goroutines with a
// Hasher allowing as many at once: what a busy server's CPUs deliver. Its
// ns/op times GOMAXPROCS against BenchmarkPasswordHash's ns/op says how
// much slower a hash is when others run beside it (they share caches and
// memory bandwidth).
func BenchmarkPasswordHashParallel(b *testing.B) {
	h := NewHasher(DefaultParams, runtime.GOMAXPROCS(0))
	ctx := b.Context()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := h.Hash(ctx, "BigBob27!"); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
