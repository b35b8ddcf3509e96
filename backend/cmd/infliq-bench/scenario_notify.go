package main

import (
	"bufio"
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/infliq/infliq/backend/platform/id"
)

// notify.list reads the first page (20 groups) of an inbox holding 40 like
// groups of 5 actors each, for 512 users, as the SDK asks for it (Connect,
// binary protobuf; the empty request encodes to an empty body): the
// issue's bar is less CPU per request than posts.global-feed.
const (
	notifyOwners = 512
	notifyGroups = 40
	notifyActors = 5
)

var (
	notifyOnce sync.Once
	notifyErr  error
	notifyTo   []id.ID
)

// seedNotify writes users, their posts and the like groups directly (the
// tables the notify tier reads), with COPY.
func seedNotify(ctx context.Context, env *Env) ([]id.ID, error) {
	notifyOnce.Do(func() {
		start := time.Now()
		base := time.Now().Add(-24 * time.Hour)
		users := make([]id.ID, notifyOwners+notifyActors)
		for i := range users {
			users[i] = seedID(base, 41, uint64(i))
		}
		step := func(sql string, gen func(w *bufio.Writer)) {
			if notifyErr == nil {
				notifyErr = copyLines(ctx, env.DB, sql, gen)
			}
		}
		step("COPY users (id, name, profile_picture) FROM STDIN", func(w *bufio.Writer) {
			for i, u := range users {
				fmt.Fprintf(w, "%s\tinbox user %d\thttps://cdn.example.com/n/%d.jpg\n", u, i, i)
			}
		})
		post := func(o, g int) id.ID { return seedID(base, 42, uint64(o*notifyGroups+g)) }
		group := func(o, g int) id.ID { return seedID(base, 43, uint64(o*notifyGroups+g)) }
		step("COPY posts (id, user_id, content) FROM STDIN", func(w *bufio.Writer) {
			for o := range notifyOwners {
				for g := range notifyGroups {
					fmt.Fprintf(w, "%s\t%s\tp\n", post(o, g), users[o])
				}
			}
		})
		step("COPY post_likes (post_id, user_id) FROM STDIN", func(w *bufio.Writer) {
			for o := range notifyOwners {
				for g := range notifyGroups {
					for a := range notifyActors {
						fmt.Fprintf(w, "%s\t%s\n", post(o, g), users[notifyOwners+a])
					}
				}
			}
		})
		step("COPY notification_groups (id, user_id, kind, subject_id, created_at, latest_at, seq) FROM STDIN", func(w *bufio.Writer) {
			for o := range notifyOwners {
				for g := range notifyGroups {
					at := base.Add(time.Duration(g) * time.Minute).Format(time.RFC3339Nano)
					fmt.Fprintf(w, "%s\t%s\t2\t%s\t%s\t%s\t%d\n", group(o, g), users[o], post(o, g), at, at, o*notifyGroups+g+1)
				}
			}
		})
		step("COPY notification_actors (group_id, actor_id, at) FROM STDIN", func(w *bufio.Writer) {
			for o := range notifyOwners {
				for g := range notifyGroups {
					for a := range notifyActors {
						at := base.Add(time.Duration(g)*time.Minute + time.Duration(a)*time.Second).Format(time.RFC3339Nano)
						fmt.Fprintf(w, "%s\t%s\t%s\n", group(o, g), users[notifyOwners+a], at)
					}
				}
			}
		})
		if notifyErr == nil {
			_, notifyErr = env.DB.Exec(ctx, `SELECT setval('notification_seq', $1)`, notifyOwners*notifyGroups+1)
		}
		if notifyErr == nil {
			_, notifyErr = env.DB.Exec(ctx, `ANALYZE`)
		}
		notifyTo = users[:notifyOwners]
		fmt.Printf("notify.list: seeded %d inboxes × %d groups × %d actors in %v\n", notifyOwners, notifyGroups, notifyActors, time.Since(start).Round(time.Millisecond))
	})
	return notifyTo, notifyErr
}

func init() {
	register(Scenario{
		Name:        "notify.list",
		Description: "NotificationService.ListNotifications (Connect proto as the SDK sends it, first page: 20 like groups with their 3 newest actors) for 512 users",
		Connections: 64,
		Prepare: func(ctx context.Context, env *Env) (func(uint64) Request, error) {
			owners, err := seedNotify(ctx, env)
			if err != nil {
				return nil, err
			}
			toks := tokens(env, owners)
			return func(i uint64) Request {
				h := jsonHeader(toks[i%uint64(len(toks))])
				h.Set("Content-Type", "application/proto")
				return Request{Method: "POST", Path: "/infliq.notify.v1.NotificationService/ListNotifications", Header: h}
			}, nil
		},
	})
}
