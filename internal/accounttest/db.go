package accounttest

import (
	"database/sql"
	"strings"
	"sync"
	"testing"

	"tgauth/internal/account"
)

// ReadDSN is the data source name that opens the SQLite database at path
// read-only, waiting out whatever process is writing it.
func ReadDSN(path string) string {
	return path + "?_pragma=query_only(1)&_pragma=busy_timeout(5000)"
}

// OpenRead opens the SQLite database at path with ReadDSN, closing it when
// the test ends.
func OpenRead(tb testing.TB, path string) *sql.DB {
	tb.Helper()
	db, err := sql.Open("sqlite", ReadDSN(path))
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { _ = db.Close() })
	return db
}

// Count runs a counting query on the SQLite database at path.
func Count(tb testing.TB, path, query string, args ...any) int {
	tb.Helper()
	db := OpenRead(tb, path)
	var n int
	if err := db.QueryRow(query, args...).Scan(&n); err != nil {
		tb.Fatalf("%s: %v", query, err)
	}
	return n
}

// Queued is one outbox row, its notice decoded but still sealed.
type Queued struct {
	ChatID int64
	Kind   account.NoticeKind
	Notice account.Notice
}

// Outbox returns the outbox rows of the SQLite database at path, oldest
// first.
func Outbox(tb testing.TB, path string) []Queued {
	tb.Helper()
	rows, err := OpenRead(tb, path).Query(`SELECT chat_id, kind, payload FROM outbox ORDER BY id`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var out []Queued
	for rows.Next() {
		var q Queued
		var payload []byte
		if err := rows.Scan(&q.ChatID, &q.Kind, &payload); err != nil {
			tb.Fatal(err)
		}
		n, err := account.DecodeNotice(payload)
		if err != nil {
			tb.Fatal(err)
		}
		q.Notice = n
		out = append(out, q)
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return out
}

// LogBuffer collects log output written from several goroutines.
type LogBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *LogBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

// String returns everything written so far.
func (l *LogBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}
