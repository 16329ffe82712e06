package account

import (
	"context"
	"slices"
	"sync"
	"time"
)

// maxCachedEntries bounds each map of an authCache: sessions and users.
// Past it, an arbitrary entry makes room (about 2 MB of users at most).
const maxCachedEntries = 10_000

// authCache keeps, for a short ttl, what authenticated requests read on
// every call: the session (its owner, expiry and revocation are what
// count), and the user a profile shows. Transactions of this Service drop
// what they change once they end (see inTx), so this process's
// revocations apply at once; another process's are seen when the entry
// expires, within ttl. A nil *authCache caches nothing: it reads through.
//
// A read that began before an invalidation is not cached, so a stale row
// read concurrently with a revocation cannot outlive it.
type authCache struct {
	ttl time.Duration
	now func() time.Time

	mu       sync.RWMutex
	epoch    uint64 // bumped by every invalidation
	sessions map[string]cached[Session]
	users    map[int64]cached[User]
}

// cached is one entry of an authCache: a copy of the row, kept until.
type cached[V any] struct {
	val   V
	until time.Time
}

func newAuthCache(ttl time.Duration, now func() time.Time) *authCache {
	return &authCache{
		ttl:      ttl,
		now:      now,
		sessions: make(map[string]cached[Session]),
		users:    make(map[int64]cached[User]),
	}
}

// session returns the session id from the cache or, on a miss, from r,
// caching it. A session r does not know is not cached.
func (c *authCache) session(ctx context.Context, r Reader, id string) (Session, error) {
	if c == nil {
		s, err := r.Session(ctx, id)
		if err != nil {
			return Session{}, err
		}
		return *s, nil
	}
	return lookup(c, c.sessions, id, func() (*Session, error) { return r.Session(ctx, id) })
}

// user returns a copy of the user from the cache or, on a miss, from r,
// caching it.
func (c *authCache) user(ctx context.Context, r Reader, id int64) (*User, error) {
	if c == nil {
		return r.UserByID(ctx, id)
	}
	u, err := lookup(c, c.users, id, func() (*User, error) { return r.UserByID(ctx, id) })
	if err != nil {
		return nil, err
	}
	return &u, nil
}

// lookup returns m's entry for key while it lasts, or else read's answer,
// which it keeps in m unless an invalidation came between.
func lookup[K comparable, V any](c *authCache, m map[K]cached[V], key K, read func() (*V, error)) (V, error) {
	now := c.now()
	c.mu.RLock()
	e, ok := m[key]
	epoch := c.epoch
	c.mu.RUnlock()
	if ok && now.Before(e.until) {
		return e.val, nil
	}
	v, err := read()
	if err != nil {
		var zero V
		return zero, err
	}
	c.mu.Lock()
	if c.epoch == epoch {
		if len(m) >= maxCachedEntries {
			evictOne(m)
		}
		m[key] = cached[V]{val: *v, until: now.Add(c.ttl)}
	}
	c.mu.Unlock()
	return *v, nil
}

// invalidate drops the users, every session of theirs, and the sessions.
func (c *authCache) invalidate(users []int64, sessions []string) {
	if len(users) == 0 && len(sessions) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.epoch++
	for _, id := range sessions {
		delete(c.sessions, id)
	}
	for _, uid := range users {
		delete(c.users, uid)
	}
	if len(users) > 0 {
		for id, e := range c.sessions {
			if slices.Contains(users, e.val.UserID) {
				delete(c.sessions, id)
			}
		}
	}
}

func evictOne[K comparable, V any](m map[K]V) {
	for k := range m {
		delete(m, k)
		return
	}
}
