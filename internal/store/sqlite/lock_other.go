//go:build !unix

package sqlite

import "context"

// lockFile is a no-op where flock does not exist: start one process first
// (or run `api migrate`) before the others.
func lockFile(context.Context, string) (func(), error) {
	return func() {}, nil
}
