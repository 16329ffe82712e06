// Package migrations holds tgauth's database schema as numbered goose
// migrations, one folder per SQL dialect, embedded in the binaries.
package migrations

import (
	"embed"
	"io/fs"
)

//go:embed sqlite/*.sql postgres/*.sql
var files embed.FS

// SQLite returns the migrations for the SQLite store.
func SQLite() fs.FS {
	sub, err := fs.Sub(files, "sqlite")
	if err != nil {
		panic(err) // the folder is embedded above; a miss is a build error
	}
	return sub
}

// Postgres returns the migrations for the PostgreSQL store.
func Postgres() fs.FS {
	sub, err := fs.Sub(files, "postgres")
	if err != nil {
		panic(err) // the folder is embedded above; a miss is a build error
	}
	return sub
}
