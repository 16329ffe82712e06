package account

import (
	"crypto/cipher"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"

	"golang.org/x/crypto/chacha20poly1305"
)

// Sealer keeps reset codes in the outbox in a form only the holders of
// its key can read: XChaCha20-Poly1305 under a key both binaries have
// (outbox.seal_key, or the key file beside a SQLite database) but the
// database does not, so a copy of the database file, or of its WAL,
// holds no code that still works.
type Sealer struct {
	aead cipher.AEAD
}

// MinSealKeyLen is the least length in bytes of a seal key.
const MinSealKeyLen = 32

// NewSealer returns a Sealer under key, of at least MinSealKeyLen bytes.
func NewSealer(key []byte) (*Sealer, error) {
	if len(key) < MinSealKeyLen {
		return nil, fmt.Errorf("seal key: %d bytes, want at least %d", len(key), MinSealKeyLen)
	}
	k := sha256.Sum256(append([]byte("tgauth outbox seal v1\x00"), key...))
	aead, err := chacha20poly1305.NewX(k[:])
	if err != nil {
		return nil, fmt.Errorf("seal key: %w", err)
	}
	return &Sealer{aead: aead}, nil
}

// errUnsealed: a sealed code that does not open under this key.
var errUnsealed = errors.New("the sealed code does not open under this seal key")

// seal returns code sealed for the user's chat, as unpadded base64url.
// The user id is bound in, so a sealed code moved to another row opens
// to nothing.
func (s *Sealer) seal(userID int64, code string) string {
	nonce := make([]byte, s.aead.NonceSize())
	_, _ = rand.Read(nonce) // crypto/rand does not fail (Go 1.24+)
	out := s.aead.Seal(nonce, nonce, []byte(code), sealAD(userID))
	return base64.RawURLEncoding.EncodeToString(out)
}

func (s *Sealer) open(userID int64, sealed string) (string, error) {
	b, err := base64.RawURLEncoding.DecodeString(sealed)
	if err != nil || len(b) < s.aead.NonceSize() {
		return "", errUnsealed
	}
	n := s.aead.NonceSize()
	code, err := s.aead.Open(nil, b[:n], b[n:], sealAD(userID))
	if err != nil {
		return "", errUnsealed
	}
	return string(code), nil
}

func sealAD(userID int64) []byte {
	return []byte("reset code\x00" + strconv.FormatInt(userID, 10))
}
