// Package posttest holds test fixtures for the post and feed tiers. It
// writes users, follows and blocks directly with SQL: those tables belong to
// the user service, and only tests may write them from here.
package posttest

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/infliq/infliq/backend/platform/id"
)

// User inserts a profile and returns its id.
func User(t testing.TB, pool *pgxpool.Pool, name string) id.ID {
	t.Helper()
	uid := id.New()
	if _, err := pool.Exec(context.Background(),
		`INSERT INTO users (id, name, profile_picture, is_verified) VALUES ($1, $2, $3, $4)`,
		uid, name, "https://cdn.example.com/"+name+".jpg", len(name)%2 == 0); err != nil {
		t.Fatal(err)
	}
	return uid
}

// Follow makes follower follow followee.
func Follow(t testing.TB, pool *pgxpool.Pool, follower, followee id.ID) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), `INSERT INTO follows (follower_id, followee_id) VALUES ($1, $2)`, follower, followee); err != nil {
		t.Fatal(err)
	}
}

// Block makes blocker block blocked.
func Block(t testing.TB, pool *pgxpool.Pool, blocker, blocked id.ID) {
	t.Helper()
	if _, err := pool.Exec(context.Background(), `INSERT INTO blocks (blocker_id, blocked_id) VALUES ($1, $2)`, blocker, blocked); err != nil {
		t.Fatal(err)
	}
}

// Post inserts a post directly (for seeding feeds) and returns its id.
func Post(t testing.TB, pool *pgxpool.Pool, author id.ID, typ, content string) id.ID {
	t.Helper()
	pid := id.New()
	if _, err := pool.Exec(context.Background(),
		`INSERT INTO posts (id, user_id, type, content) VALUES ($1, $2, $3, $4)`, pid, author, typ, content); err != nil {
		t.Fatal(err)
	}
	return pid
}
