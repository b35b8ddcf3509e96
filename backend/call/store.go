package call

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
	"google.golang.org/protobuf/types/known/timestamppb"

	callv1 "github.com/infliq/infliq/backend/gen/infliq/call/v1"
	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/db"
)

// store is the SQL of the calls table (owned by this service). It reads
// users (names, pictures) and blocks, both owned by the user service, in
// the documented read models below: one indexed join, never an RPC.
type store struct {
	db *pgxpool.Pool
}

// callRow is a call with both participants' public profiles.
type callRow struct {
	ID, CallerID, ReceiverID, Type, Status, Room string
	CreatedAt                                    time.Time
	StartedAt, EndedAt                           *time.Time
	Duration                                     int32
	CallerName, CallerPic                        string
	CallerVerified                               bool
	ReceiverName, ReceiverPic                    string
	ReceiverVerified                             bool
}

// callCols selects a callRow from a relation k (calls or a RETURNING CTE)
// joined with the users read model as cu (caller) and ru (receiver).
const callCols = `k.id, k.caller_id, k.receiver_id, k.type, k.status, k.room_name, k.created_at, k.started_at, k.ended_at, k.duration,
	cu.name, cu.profile_picture, cu.is_verified, ru.name, ru.profile_picture, ru.is_verified`

const joinUsers = ` JOIN users cu ON cu.id = k.caller_id JOIN users ru ON ru.id = k.receiver_id`

func scanCall(row pgx.Row) (*callRow, error) {
	var c callRow
	err := row.Scan(&c.ID, &c.CallerID, &c.ReceiverID, &c.Type, &c.Status, &c.Room, &c.CreatedAt, &c.StartedAt, &c.EndedAt, &c.Duration,
		&c.CallerName, &c.CallerPic, &c.CallerVerified, &c.ReceiverName, &c.ReceiverPic, &c.ReceiverVerified)
	if err != nil {
		return nil, err
	}
	return &c, nil
}

var errNoUser = apperr.NotFound("User not found")

// createCall inserts a ringing call unless the receiver is unknown or a
// block exists in either direction (a block hides the users from each
// other, so both read as "User not found").
func (s *store) createCall(ctx context.Context, callID, callerID, receiverID, typ, room string) (*callRow, error) {
	row := s.db.QueryRow(ctx, `
		WITH ok AS (
			SELECT 1 FROM users r WHERE r.id = $3
			AND NOT EXISTS (SELECT 1 FROM blocks WHERE (blocker_id = $2 AND blocked_id = $3) OR (blocker_id = $3 AND blocked_id = $2))
		), k AS (
			INSERT INTO calls (id, caller_id, receiver_id, type, room_name)
			SELECT $1, $2, $3, $4, $5 FROM ok
			RETURNING *
		)
		SELECT `+callCols+` FROM k`+joinUsers, callID, callerID, receiverID, typ, room)
	c, err := scanCall(row)
	if db.IsNoRows(err) || db.IsForeignKeyViolation(err) {
		return nil, errNoUser
	}
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return c, nil
}

// transition runs one guarded UPDATE (set, where) on the call. It returns
// (nil, nil) when the guard matched nothing; the caller then explains why.
func (s *store) transition(ctx context.Context, callID, uid, set, where string, args ...any) (*callRow, error) {
	all := append([]any{callID, uid}, args...)
	row := s.db.QueryRow(ctx, `
		WITH k AS (UPDATE calls SET `+set+` WHERE id = $1 AND `+where+` RETURNING *)
		SELECT `+callCols+` FROM k`+joinUsers, all...)
	c, err := scanCall(row)
	if err == nil {
		return c, nil
	}
	if !db.IsNoRows(err) {
		return nil, apperr.Internal(err)
	}
	return nil, nil
}

// get returns a call the user takes part in, or NotFound.
func (s *store) get(ctx context.Context, callID, uid string) (*callRow, error) {
	c, err := scanCall(s.db.QueryRow(ctx, `SELECT `+callCols+` FROM calls k`+joinUsers+`
		WHERE k.id = $1 AND (k.caller_id = $2 OR k.receiver_id = $2)`, callID, uid))
	if db.IsNoRows(err) {
		return nil, errNoCall
	}
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return c, nil
}

var errNoCall = apperr.NotFound("Call not found")

// roomStatus is the token check: the status of the call named by room (its
// id or its room name) when uid takes part in it; a call ringing past the
// ring timeout reads as missed even before the sweeper marks it.
func (s *store) roomStatus(ctx context.Context, room, uid string, roomIsID bool, ring time.Duration) (string, error) {
	const status = `SELECT CASE WHEN status = 'ringing' AND created_at <= now() - make_interval(secs => $3) THEN 'missed' ELSE status END FROM calls WHERE `
	q := status + `room_name = $1 AND (caller_id = $2 OR receiver_id = $2)`
	if roomIsID {
		q = status + `id = $1 AND (caller_id = $2 OR receiver_id = $2)`
	}
	var st string
	err := s.db.QueryRow(ctx, q, room, uid, ring.Seconds()).Scan(&st)
	if db.IsNoRows(err) {
		return "", nil
	}
	if err != nil {
		return "", apperr.Internal(err)
	}
	return st, nil
}

// history pages the user's calls newest first: a merge of the two indexed
// scans (as caller, as receiver), keyed by id, which sorts by time. The
// cursor is an index bound (no cursor: above every id).
func (s *store) history(ctx context.Context, uid, before string, limit int) ([]*callRow, error) {
	if before == "" {
		before = "ffffffffffffffffffffffff"
	}
	rows, err := s.db.Query(ctx, `
		SELECT `+callCols+` FROM (
			(SELECT * FROM calls WHERE caller_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3)
			UNION ALL
			(SELECT * FROM calls WHERE receiver_id = $1 AND id < $2 ORDER BY id DESC LIMIT $3)
		) k`+joinUsers+` ORDER BY k.id DESC LIMIT $3`, uid, before, limit)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	defer rows.Close()
	var out []*callRow
	for rows.Next() {
		c, err := scanCall(rows)
		if err != nil {
			return nil, apperr.Internal(err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Internal(err)
	}
	return out, nil
}

// sweepMissed marks calls ringing longer than timeout as missed and returns
// them. The guarded UPDATE … RETURNING makes each call missed exactly once
// even with several replicas sweeping; SKIP LOCKED keeps them from waiting
// on each other.
func (s *store) sweepMissed(ctx context.Context, timeout time.Duration, batch int) ([]*callRow, error) {
	rows, err := s.db.Query(ctx, `
		WITH k AS (
			UPDATE calls SET status = 'missed', ended_at = now()
			WHERE id IN (
				SELECT id FROM calls WHERE status = 'ringing' AND created_at < now() - make_interval(secs => $1)
				ORDER BY created_at LIMIT $2 FOR UPDATE SKIP LOCKED)
			AND status = 'ringing'
			RETURNING *)
		SELECT `+callCols+` FROM k`+joinUsers, timeout.Seconds(), batch)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []*callRow
	for rows.Next() {
		c, err := scanCall(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

var typeValues = map[string]callv1.CallType{"audio": callv1.CallType_CALL_TYPE_AUDIO, "video": callv1.CallType_CALL_TYPE_VIDEO}

var statusValues = map[string]callv1.CallStatus{
	"ringing": callv1.CallStatus_CALL_STATUS_RINGING, "active": callv1.CallStatus_CALL_STATUS_ACTIVE,
	"ended": callv1.CallStatus_CALL_STATUS_ENDED, "rejected": callv1.CallStatus_CALL_STATUS_REJECTED,
	"missed": callv1.CallStatus_CALL_STATUS_MISSED,
}

func tsOrNil(t *time.Time) *timestamppb.Timestamp {
	if t == nil {
		return nil
	}
	return timestamppb.New(*t)
}

func (c *callRow) caller() *commonv1.UserSummary {
	return &commonv1.UserSummary{Id: c.CallerID, Name: c.CallerName, ProfilePicture: c.CallerPic, IsVerified: c.CallerVerified}
}

func (c *callRow) receiver() *commonv1.UserSummary {
	return &commonv1.UserSummary{Id: c.ReceiverID, Name: c.ReceiverName, ProfilePicture: c.ReceiverPic, IsVerified: c.ReceiverVerified}
}

func (c *callRow) proto() *callv1.Call {
	return &callv1.Call{
		Id: c.ID, Caller: c.caller(), Receiver: c.receiver(), Type: typeValues[c.Type], Status: statusValues[c.Status],
		RoomName: c.Room, CreatedAt: timestamppb.New(c.CreatedAt), StartedAt: tsOrNil(c.StartedAt), EndedAt: tsOrNil(c.EndedAt),
		DurationSeconds: c.Duration,
	}
}
