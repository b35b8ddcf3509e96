package importer

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/infliq/infliq/backend/platform/id"
)

// stories imports live stories with their viewers; expired ones are
// skipped (MS deleted them by TTL, M2 only hid them).
func storiesJob() job {
	return job{name: "stories", coll: "stories", unordered: true, since: []string{"createdAt", "updatedAt"}, build: buildStory, write: writeStories}
}

func buildStory(r *run, b *batch, d *doc, x id.ID) {
	st := b.st("stories")
	author, ok := d.oid("userId")
	media := r.mediaKey(d.str("mediaUrl"))
	mt := d.str("mediaType")
	caption := d.str("caption")
	created := d.created(x)
	exp := d.time("expiresAt")
	viewers, bad := d.ids("viewers")
	switch {
	case d.err != "":
		b.reject("stories", x.String(), d.err)
		return
	case !ok:
		b.reject("stories", x.String(), "userId missing")
		return
	case !r.known(author):
		b.reject("stories", x.String(), "author not found (dangling userId)")
		return
	}
	if exp.IsZero() {
		exp = created.Add(24 * time.Hour) // M2's default
	}
	if !exp.After(r.now) {
		st.skip("expired", 1)
		return
	}
	if media == "" { // checked after expiry: an expired story is skipped whatever its media
		b.reject("stories", x.String(), "mediaUrl missing or blank")
		return
	}
	if mt != "video" {
		mt = "image"
	}
	b.add("imp_stories", x.String(), author.String(), media, mt, caption, created, exp)
	for _, v := range uniqueRefs(b.st("stories.views"), viewers, bad, "viewer", r.plan.users) {
		b.add("imp_story_views", x.String(), v.String(), created)
	}
}

func writeStories(ctx context.Context, r *run, tx pgx.Tx, b *batch) error {
	if err := copyRows(ctx, tx, b, "imp_stories", "id", "user_id", "media_url", "media_type", "caption", "created_at", "expires_at"); err != nil {
		return err
	}
	st := b.st("stories")
	n, err := count(ctx, tx, `SELECT count(*) FROM imp_stories s WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = s.user_id)`)
	if err != nil {
		return err
	}
	st.reject("author not found (dangling userId)", n)
	if err := upsert(ctx, tx, st, len(b.data["imp_stories"])-int(n), `
		INSERT INTO stories AS s (id, user_id, media_url, media_type, caption, created_at, expires_at)
		SELECT i.id, i.user_id, i.media_url, i.media_type, i.caption, i.created_at, i.expires_at
		FROM imp_stories i JOIN users u ON u.id = i.user_id
		ON CONFLICT (id) DO UPDATE SET media_url = excluded.media_url, media_type = excluded.media_type,
		  caption = excluded.caption, created_at = excluded.created_at, expires_at = excluded.expires_at
		WHERE (s.media_url, s.media_type, s.caption, s.created_at, s.expires_at) IS DISTINCT FROM
		  (excluded.media_url, excluded.media_type, excluded.caption, excluded.created_at, excluded.expires_at)
		RETURNING xmax = 0`); err != nil {
		return err
	}
	if err := copyRows(ctx, tx, b, "imp_story_views", "story_id", "viewer_id", "created_at"); err != nil {
		return err
	}
	return childRows(ctx, tx, b.st("stories.views"), len(b.data["imp_story_views"]), `story_views (story_id, viewer_id, created_at)`,
		`SELECT v.story_id, v.viewer_id, v.created_at FROM imp_story_views v JOIN users u ON u.id = v.viewer_id JOIN stories s ON s.id = v.story_id`)
}
