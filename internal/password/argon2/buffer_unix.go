//go:build unix

package argon2

import (
	"unsafe"

	"golang.org/x/sys/unix"
)

// allocBlocks maps n zeroed blocks outside the Go heap and returns them
// with the function that unmaps them; if mapping fails, it returns Go heap
// memory and nil.
func allocBlocks(n int) ([]block, func()) {
	size := n * blockLength * 8
	mem, err := unix.Mmap(-1, 0, size, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_ANON|unix.MAP_PRIVATE)
	if err != nil {
		return make([]block, n), nil
	}
	// #nosec G103 -- a page-aligned mapping of exactly n blocks, which hold
	// no pointers (so the collector need not see them); unmapped only by
	// Free or the Buffer's cleanup, once nothing uses it.
	blocks := unsafe.Slice((*block)(unsafe.Pointer(unsafe.SliceData(mem))), n)
	return blocks, func() { _ = unix.Munmap(mem) }
}
