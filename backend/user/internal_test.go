package user

import (
	"context"
	"errors"
	"testing"

	"connectrpc.com/connect"

	userv1 "github.com/infliq/infliq/backend/gen/infliq/user/v1"
	"github.com/infliq/infliq/backend/gen/infliq/user/v1/userv1connect"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/pgtest"
	"github.com/infliq/infliq/backend/platform/tier"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
)

func TestCreateUserIsIdempotentAndInternalOnly(t *testing.T) {
	pool := pgtest.New(t)
	url, h2c, _ := tiertest.Serve(t, NewTier(tiertest.Deps(), pool).Handler())
	ctx := context.Background()
	uid := id.New()

	// Without the internal token the procedure is refused before decoding.
	outsider := userv1connect.NewUserInternalServiceClient(h2c, url, connect.WithGRPC())
	_, err := outsider.CreateUser(ctx, connect.NewRequest(&userv1.CreateUserRequest{Id: uid.String()}))
	if connect.CodeOf(err) != connect.CodePermissionDenied {
		t.Fatalf("without internal token: %v", err)
	}

	c := userv1connect.NewUserInternalServiceClient(h2c, url, append(tier.InternalClientOptions(tiertest.InternalToken), connect.WithGRPC())...)
	for i, want := range []bool{true, false} {
		res, err := c.CreateUser(ctx, connect.NewRequest(&userv1.CreateUserRequest{Id: uid.String(), Name: "Asha", Age: 27, IsVerified: true}))
		if err != nil {
			t.Fatal(err)
		}
		if res.Msg.Created != want {
			t.Fatalf("call %d: created=%v", i, res.Msg.Created)
		}
	}
	var name string
	var n int
	if err := pool.QueryRow(ctx, `SELECT name, count(*) OVER () FROM users WHERE id = $1`, uid.String()).Scan(&name, &n); err != nil || name != "Asha" || n != 1 {
		t.Fatalf("row: %q %d %v", name, n, err)
	}

	// Bad input is a validation error, not a 500.
	_, err = c.CreateUser(ctx, connect.NewRequest(&userv1.CreateUserRequest{Id: "../../etc/passwd", Age: 400}))
	var ce *connect.Error
	if !errors.As(err, &ce) || ce.Code() != connect.CodeInvalidArgument {
		t.Fatalf("bad input: %v", err)
	}
}
