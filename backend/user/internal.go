package user

import (
	"context"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5/pgxpool"

	userv1 "github.com/infliq/infliq/backend/gen/infliq/user/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
)

// Internal implements userv1connect.UserInternalServiceHandler.
type Internal struct {
	db *pgxpool.Pool
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
