package user

import (
	"context"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"

	userv1 "github.com/infliq/infliq/backend/gen/infliq/user/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/id"
)

// Internal implements userv1connect.UserInternalServiceHandler.
type Internal struct {
	db    *pgxpool.Pool
	store *Store
}

// CreateUser inserts the profile unless it exists (idempotent on id).
func (s *Internal) CreateUser(ctx context.Context, req *connect.Request[userv1.CreateUserRequest]) (*connect.Response[userv1.CreateUserResponse], error) {
	m := req.Msg
	var age *int32
	if m.GetAge() > 0 {
		a := m.GetAge()
		age = &a
	}
	tag, err := s.db.Exec(ctx, `
		INSERT INTO users (id, name, age, is_verified, created_at)
		VALUES ($1, $2, $3, $4, object_id_time($1))
		ON CONFLICT (id) DO NOTHING`, m.GetId(), m.GetName(), age, m.GetIsVerified())
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return connect.NewResponse(&userv1.CreateUserResponse{Created: tag.RowsAffected() == 1}), nil
}

// GetRelationship tells how two users relate. Services that need it for many
// rows read blocks directly instead (see the read model in user.proto).
func (s *Internal) GetRelationship(ctx context.Context, req *connect.Request[userv1.GetRelationshipRequest]) (*connect.Response[userv1.GetRelationshipResponse], error) {
	r, err := s.store.Relationship(ctx, mustID(req.Msg.GetViewerId()), mustID(req.Msg.GetOtherId()))
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return connect.NewResponse(&userv1.GetRelationshipResponse{
		Blocked: r.Blocked, ViewerFollows: r.ViewerFollows, OtherFollows: r.OtherFollows, OtherExists: r.OtherExists,
	}), nil
}

// GetUserSummaries returns the summaries of the existing users among ids,
// in request order, so services can populate authors and participants.
func (s *Internal) GetUserSummaries(ctx context.Context, req *connect.Request[userv1.GetUserSummariesRequest]) (*connect.Response[userv1.GetUserSummariesResponse], error) {
	ids := make([]id.ID, len(req.Msg.GetIds()))
	for i, v := range req.Msg.GetIds() {
		ids[i] = mustID(v)
	}
	us, err := s.store.Summaries(ctx, ids)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return connect.NewResponse(&userv1.GetUserSummariesResponse{Users: toSummaries(us)}), nil
}
