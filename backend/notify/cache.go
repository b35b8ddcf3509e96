package notify

import (
	"context"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
	"google.golang.org/protobuf/proto"

	notifyv1 "github.com/infliq/infliq/backend/gen/infliq/notify/v1"
	"github.com/infliq/infliq/backend/platform/id"
)

// inboxCache keeps each user's first inbox page (the read the app makes
// each time the screen opens or the badge is tapped) in Redis, as the feed
// keeps its hot page: the page query and its actors cost PostgreSQL more
// than the global feed's whole request. Every change to a user's inbox
// (a batch applied, MarkRead) bumps the user's generation; a page is
// stored with the generation read before its query and served only while
// that is still the current one, so a page rendered before a change and
// stored after it is never served. Profile edits of the actors shown and
// deleted posts show up within pageTTL. The generation and the page share
// the hash tag {uid}: one MGET, one Redis Cluster slot.
type inboxCache struct {
	rdb    redis.UniversalClient
	prefix string
}

const (
	pageTTL = time.Minute
	genTTL  = 7 * 24 * time.Hour
)

func (c *inboxCache) keys(uid id.ID) (gen, page string) {
	k := c.prefix + "{" + uid.String() + "}:"
	return k + "gen", k + "page"
}

// get returns the cached page when it is current, and the generation to
// store a fresh one under.
func (c *inboxCache) get(ctx context.Context, uid id.ID) (*notifyv1.ListNotificationsResponse, string, bool) {
	gk, pk := c.keys(uid)
	vals, err := c.rdb.MGet(ctx, gk, pk).Result()
	if err != nil || len(vals) != 2 {
		return nil, "", false
	}
	gen, _ := vals[0].(string)
	if gen == "" {
		gen = "0"
	}
	page, _ := vals[1].(string)
	stored, raw, ok := strings.Cut(page, ":")
	if !ok || stored != gen {
		return nil, gen, false
	}
	var res notifyv1.ListNotificationsResponse
	if proto.Unmarshal([]byte(raw), &res) != nil {
		return nil, gen, false
	}
	return &res, gen, true
}

// put stores a page rendered after reading generation gen.
func (c *inboxCache) put(ctx context.Context, uid id.ID, gen string, res *notifyv1.ListNotificationsResponse) {
	raw, err := proto.Marshal(res)
	if err != nil {
		return
	}
	_, pk := c.keys(uid)
	_ = c.rdb.Set(ctx, pk, gen+":"+string(raw), pageTTL).Err()
}

// invalidate bumps the generations of uids in one round trip.
func (c *inboxCache) invalidate(ctx context.Context, uids ...id.ID) error {
	if len(uids) == 0 {
		return nil
	}
	_, err := c.rdb.Pipelined(ctx, func(p redis.Pipeliner) error {
		for _, u := range uids {
			gk, _ := c.keys(u)
			p.Incr(ctx, gk)
			p.Expire(ctx, gk, genTTL)
		}
		return nil
	})
	return err
}
