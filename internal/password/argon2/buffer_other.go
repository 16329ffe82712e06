//go:build !unix

package argon2

// allocBlocks returns n blocks of Go heap memory.
func allocBlocks(n int) ([]block, func()) {
	return make([]block, n), nil
}
