// Package clocktest provides a settable clock for tests of code that takes
// a now func() time.Time.
package clocktest

import (
	"sync"
	"time"
)

// Start is where a New clock starts: a fixed, readable moment.
var Start = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

// Clock is a time source that moves only when told. It is safe for
// concurrent use.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// New returns a Clock at Start.
func New() *Clock { return &Clock{t: Start} }

// Now returns the clock's time; pass c.Now where a now func is wanted.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}
