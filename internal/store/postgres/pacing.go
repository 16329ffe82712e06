package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// Pacing state for Telegram's limits, shared by every bot replica on the
// database (bot.SharedTurns). The tables are UNLOGGED: a crash empties
// them, losing only pacing state.

const (
	// chatTurnKeep is how long a chat's turn is kept after it has come:
	// an older row says nothing a missing one would not.
	chatTurnKeep = time.Hour
	// sweepEvery is how often (by the callers' clock) TakeChatTurn
	// deletes such rows.
	sweepEvery = 10 * time.Minute
)

// TakeChatTurn takes the chat's turn if it has come: when the chat's next
// turn is after now it returns false and that time; otherwise it sets the
// next turn to now+gap and returns true and now+gap. Of concurrent callers
// with the same now, exactly one gets the turn.
func (s *Store) TakeChatTurn(ctx context.Context, chatID int64, now time.Time, gap time.Duration) (ok bool, at time.Time, err error) {
	s.sweepChatTurns(ctx, now)
	next := now.Add(gap)
	for range 3 {
		err := s.pool.QueryRow(ctx, `INSERT INTO chat_turns AS c (chat_id, next_turn) VALUES ($1, $2)
			ON CONFLICT (chat_id) DO UPDATE SET next_turn = excluded.next_turn
			WHERE c.next_turn <= $3
			RETURNING next_turn`, chatID, pgTime(next), pgTime(now)).Scan(nullTime{&at})
		if err == nil {
			return true, at, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return false, time.Time{}, fmt.Errorf("take chat turn: %w", err)
		}
		// The turn has not come: say when it does.
		err = s.pool.QueryRow(ctx, `SELECT next_turn FROM chat_turns WHERE chat_id = $1`, chatID).
			Scan(nullTime{&at})
		if err == nil && at.After(now) {
			return false, at, nil
		}
		if err != nil && !errors.Is(err, pgx.ErrNoRows) {
			return false, time.Time{}, fmt.Errorf("take chat turn: %w", err)
		}
		// The row changed between the two statements (swept, or its
		// turn came): try again.
	}
	return false, time.Time{}, errors.New("take chat turn: the chat's turn kept changing")
}

// DelayChat pushes the chat's next turn to at least t.
func (s *Store) DelayChat(ctx context.Context, chatID int64, t time.Time) error {
	_, err := s.pool.Exec(ctx, `INSERT INTO chat_turns AS c (chat_id, next_turn) VALUES ($1, $2)
		ON CONFLICT (chat_id) DO UPDATE SET next_turn = greatest(c.next_turn, excluded.next_turn)`,
		chatID, pgTime(t))
	if err != nil {
		return fmt.Errorf("delay chat: %w", err)
	}
	return nil
}

// TakeSendSlot reserves the bot's next free send slot: at is the later of
// the next free slot and now, and the slot after it is at+interval. The
// caller sends at at. Concurrent callers get distinct slots, interval
// apart.
func (s *Store) TakeSendSlot(ctx context.Context, now time.Time, interval time.Duration) (at time.Time, err error) {
	err = s.pool.QueryRow(ctx, `INSERT INTO send_slot AS s (id, next_slot)
			VALUES (true, $1::timestamptz + $2::bigint * interval '1 microsecond')
		ON CONFLICT (id) DO UPDATE
			SET next_slot = greatest(s.next_slot, $1::timestamptz) + $2::bigint * interval '1 microsecond'
		RETURNING next_slot - $2::bigint * interval '1 microsecond'`,
		pgTime(now), interval.Microseconds()).Scan(nullTime{&at})
	if err != nil {
		return time.Time{}, fmt.Errorf("take send slot: %w", err)
	}
	return at, nil
}

// sweepChatTurns deletes, once per sweepEvery of the callers' clock, the
// chat turns that came more than chatTurnKeep before now. Only one caller
// per period sweeps; its failure is no caller's concern (the next period
// sweeps again).
func (s *Store) sweepChatTurns(ctx context.Context, now time.Time) {
	due := s.nextSweep.Load()
	if now.UnixMicro() < due || !s.nextSweep.CompareAndSwap(due, now.Add(sweepEvery).UnixMicro()) {
		return
	}
	_, _ = s.pool.Exec(ctx, `DELETE FROM chat_turns WHERE next_turn < $1`, pgTime(now.Add(-chatTurnKeep)))
}
