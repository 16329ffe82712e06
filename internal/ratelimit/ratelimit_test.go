package ratelimit

import (
	"testing"
	"time"

	"tgauth/internal/clocktest"
)

func TestAllow(t *testing.T) {
	clk := clocktest.New()
	l := New(10*time.Second, 3, clk.Now)
	for i := range 3 {
		if ok, _ := l.Allow("a"); !ok {
			t.Fatalf("Allow #%d = false within the burst", i+1)
		}
	}
	ok, retry := l.Allow("a")
	if ok || !near(retry, 10*time.Second) {
		t.Fatalf("Allow past the burst = %v, %v; want false, 10s", ok, retry)
	}
	// A refused try costs nothing: the next token still comes in 10s.
	clk.Advance(4 * time.Second)
	if ok, retry := l.Allow("a"); ok || !near(retry, 6*time.Second) {
		t.Fatalf("Allow after 4s = %v, %v; want false, 6s", ok, retry)
	}
	if ok, _ := l.Allow("b"); !ok {
		t.Fatal("another key is limited by the first")
	}
	clk.Advance(6 * time.Second)
	if ok, _ := l.Allow("a"); !ok {
		t.Fatal("Allow after the refill = false")
	}
}

func TestSweepForgetsIdleKeys(t *testing.T) {
	clk := clocktest.New()
	l := New(time.Second, 2, clk.Now)
	for _, k := range []string{"a", "b", "c"} {
		l.Allow(k)
	}
	clk.Advance(time.Second)
	l.Allow("a")
	if n := l.Len(); n != 3 {
		t.Fatalf("Len = %d before keys are idle, want 3", n)
	}
	clk.Advance(2 * time.Second) // b and c idle for 3s ≥ 2 tokens × 1s; a for 2s
	l.Allow("d")
	if n := l.Len(); n != 1 {
		t.Fatalf("Len = %d after the sweep, want 1 (d)", n)
	}
}

func TestIPKey(t *testing.T) {
	tests := []struct{ in, want string }{
		{"192.0.2.7", "192.0.2.7"},
		{"::ffff:192.0.2.7", "192.0.2.7"},
		{"2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"},
		{"2001:db8:1:2:ffff::1", "2001:db8:1:2::/64"},
		{"not-an-ip", "not-an-ip"},
	}
	for _, tt := range tests {
		if got := IPKey(tt.in); got != tt.want {
			t.Errorf("IPKey(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// near allows for x/time/rate's floating-point token arithmetic.
func near(got, want time.Duration) bool {
	return got > want-time.Millisecond && got < want+time.Millisecond
}
