package auth

import (
	"context"
	"testing"

	"connectrpc.com/connect"

	authv1 "github.com/infliq/infliq/backend/gen/infliq/auth/v1"
)

// BenchmarkLogin: one successful password login per op through the tier's
// client (limit reservation, credential read, bcrypt at the test cost,
// release, session). CPU per op is what the lockout change costs.
func BenchmarkLogin(b *testing.B) {
	e := newEnv(b, unlimited)
	c := e.c()
	ctx := context.Background()
	if _, err := c.Register(ctx, connect.NewRequest(&authv1.RegisterRequest{Name: "B", Email: "bench@example.com", Password: "bench-pass", Phone: "9876500001"})); err != nil {
		b.Fatal(err)
	}
	req := &authv1.LoginRequest{Email: "bench@example.com", Password: "bench-pass"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := c.Login(ctx, connect.NewRequest(req)); err != nil {
			b.Fatal(err)
		}
	}
}
