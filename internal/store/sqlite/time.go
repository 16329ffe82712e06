package sqlite

import (
	"database/sql"
	"fmt"
	"time"
)

// timeLayout is how every time is stored: UTC, fixed width, so that SQL
// compares times by comparing text.
const timeLayout = "2006-01-02T15:04:05.000000000Z"

// fmtTime renders t for storage; the zero time is NULL.
func fmtTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Format(timeLayout)
}

// nullTime scans a stored time; NULL scans as the zero time.
type nullTime struct{ t *time.Time }

func (n nullTime) Scan(src any) error {
	var s sql.NullString
	if err := s.Scan(src); err != nil {
		return err
	}
	if !s.Valid {
		*n.t = time.Time{}
		return nil
	}
	t, err := time.Parse(timeLayout, s.String)
	if err != nil {
		return fmt.Errorf("parse stored time %q: %w", s.String, err)
	}
	*n.t = t
	return nil
}
