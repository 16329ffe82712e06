package postgres

import (
	"time"

	"github.com/jackc/pgx/v5/pgtype"
)

// pgTime renders t for a timestamptz parameter: the zero time is NULL, and
// the rest is UTC truncated to the microsecond, the column's precision, so
// that what is written is exactly what reads back.
func pgTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UTC().Truncate(time.Microsecond)
}

// nullTime scans a timestamptz into *t in UTC; NULL scans as the zero time.
type nullTime struct{ t *time.Time }

func (n nullTime) ScanTimestamptz(v pgtype.Timestamptz) error {
	if !v.Valid {
		*n.t = time.Time{}
		return nil
	}
	*n.t = v.Time.UTC()
	return nil
}
