package account

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// KnownNetworkWindow: a network is known for an account while one of its
// sessions from there is live, or for this long after one was opened.
// While the account is locked, a right password from a known network still
// signs in, so that someone failing on purpose cannot lock the owner out.
const KnownNetworkWindow = 30 * 24 * time.Hour

// sameNetwork reports whether two addresses are one network: the same
// IPv4 address, or the same IPv6 /64 (what one home or phone is given).
// Text that is not an address matches only itself.
func sameNetwork(a, b string) bool {
	pa, errA := netip.ParseAddr(a)
	pb, errB := netip.ParseAddr(b)
	if errA != nil || errB != nil {
		return a == b
	}
	pa, pb = pa.Unmap(), pb.Unmap()
	if !pa.Is6() || !pb.Is6() {
		return pa == pb
	}
	na, _ := pa.Prefix(64)
	nb, _ := pb.Prefix(64)
	return na == nb
}

// knownNetwork reports whether ip is on a network one of the user's live
// or recent sessions came from.
func knownNetwork(ctx context.Context, r Reader, userID int64, ip string, now time.Time) (bool, error) {
	if ip == "" {
		return false, nil
	}
	ips, err := r.SessionIPs(ctx, userID, now.Add(-KnownNetworkWindow), now)
	if err != nil {
		return false, err
	}
	for _, known := range ips {
		if sameNetwork(ip, known) {
			return true, nil
		}
	}
	return false, nil
}

// KnownNetwork reports whether ip is a known network of the account n
// names. An unknown account has none.
// Transports use it to give the owner's network a rate-limit bucket of its
// own, which failures from elsewhere cannot spend.
func (s *Service) KnownNetwork(ctx context.Context, n Name, ip string) (bool, error) {
	u, err := n.find(ctx, s.store)
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("known network: %w", err)
	}
	known, err := knownNetwork(ctx, s.store, u.ID, ip, s.clock())
	if err != nil {
		return false, fmt.Errorf("known network: %w", err)
	}
	return known, nil
}
