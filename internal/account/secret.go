package account

import (
	"context"
	"fmt"
	"time"
)

// InitSecret returns the secret kept in the store under key. The first call
// for a key generates 256 random bits and stores them; later calls, by this
// process or another one sharing the store, get the same value back. created
// reports whether this call made it.
func InitSecret(ctx context.Context, store Store, key string, now time.Time) (secret []byte, created bool, err error) {
	fresh := randomID(32)
	var stored string
	err = store.InTx(ctx, func(tx Tx) error {
		var err error
		stored, err = tx.InitSetting(ctx, key, fresh, now.UTC())
		return err
	})
	if err != nil {
		return nil, false, fmt.Errorf("init secret %s: %w", key, err)
	}
	return []byte(stored), stored == fresh, nil
}
