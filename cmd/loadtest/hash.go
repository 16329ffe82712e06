package main

import (
	"context"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"tgauth/internal/password"
)

// hashRate is what this machine can hash with password.DefaultParams.
type hashRate struct {
	one      time.Duration // median time of one hash, hashes run one at a time
	cpus     int
	parallel float64 // hashes/s measured with one hash per CPU at once
}

// target is the login target's baseline: CPUs ÷ one hash's time.
func (h hashRate) target() float64 {
	if h.one <= 0 {
		return 0
	}
	return float64(h.cpus) / h.one.Seconds()
}

// timeHash times argon2id in this process, with the server idle: first
// one hash at a time (the baseline the target names), then one per CPU
// at once for about a second (what the CPUs deliver together). The
// one-at-a-time figure is the median of these times and earlier ones,
// which it returns with them.
func timeHash(ctx context.Context, earlier []time.Duration) (hashRate, []time.Duration) {
	h := password.NewHasher(password.DefaultParams, runtime.NumCPU())
	times := slices.Clone(earlier)
	for range 15 {
		t0 := time.Now()
		if _, err := h.Hash(ctx, "Lt9!warm-up-password"); err != nil {
			return hashRate{}, nil
		}
		times = append(times, time.Since(t0))
	}
	sorted := slices.Sorted(slices.Values(times))
	r := hashRate{one: sorted[len(sorted)/2], cpus: runtime.NumCPU()}

	var done atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	end := start.Add(time.Second)
	for range r.cpus {
		wg.Go(func() {
			for time.Now().Before(end) && ctx.Err() == nil {
				if _, err := h.Hash(ctx, "Lt9!warm-up-password"); err == nil {
					done.Add(1)
				}
			}
		})
	}
	wg.Wait()
	r.parallel = float64(done.Load()) / time.Since(start).Seconds()
	return r, times
}
