package app

import (
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"strings"

	"tgauth/internal/account"
	"tgauth/internal/config"
)

// Sealer returns the sealer of the outbox's reset codes, which the API
// and the bot must share: under outbox.seal_key when it is set; else, on
// SQLite, under a key kept in a file beside the database (made once,
// mode 0600), which both binaries on the host read; else nil, with a
// warning: on PostgreSQL without a key, codes stay in clear until sent.
func Sealer(cfg config.Config, log *slog.Logger) (*account.Sealer, error) {
	key := []byte(cfg.Outbox.SealKey)
	switch {
	case len(key) > 0:
	case cfg.Database.URL == "":
		var err error
		if key, err = keyFile(cfg.Database.Path + ".key"); err != nil {
			return nil, fmt.Errorf("outbox seal key: %w", err)
		}
	default:
		log.Warn("outbox.seal_key is empty: reset codes wait in the outbox in clear until the bot sends them; give the API and the bot the same key")
		return nil, nil
	}
	return account.NewSealer(key)
}

// keyFile reads the key at path, first making it (32 random bytes, as
// base64, mode 0600) when there is none. Two processes making it at once
// agree: the file appears whole or not at all, and the later one reads
// the earlier one's.
func keyFile(path string) ([]byte, error) {
	if b, err := os.ReadFile(path); err == nil { // #nosec G304 -- the operator's database path
		return decodeKey(b)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".*")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.Remove(tmp.Name()) }() // linked or not, the temp name goes
	raw := make([]byte, 32)
	_, _ = rand.Read(raw) // crypto/rand does not fail (Go 1.24+)
	_, err = tmp.WriteString(base64.StdEncoding.EncodeToString(raw) + "\n")
	if err == nil {
		err = tmp.Sync()
	}
	if err = errors.Join(err, tmp.Close()); err != nil {
		return nil, err
	}
	// os.CreateTemp made it 0600. Link fails if another process won.
	if err := os.Link(tmp.Name(), path); err != nil && !errors.Is(err, fs.ErrExist) {
		return nil, err
	}
	b, err := os.ReadFile(path) // #nosec G304 -- as above
	if err != nil {
		return nil, err
	}
	return decodeKey(b)
}

func decodeKey(b []byte) ([]byte, error) {
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(key) < account.MinSealKeyLen {
		return nil, errors.New("the key file does not hold a base64 key of 32 bytes or more")
	}
	return key, nil
}
