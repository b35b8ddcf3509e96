package importer

import (
	"context"
	"math"

	"github.com/jackc/pgx/v5"

	"github.com/infliq/infliq/backend/platform/id"
)

// posts imports posts with their embedded likes and comments. MS posts
// carry caption, monolith posts content; MS stores full media URLs, the
// monoliths S3 keys or uploads/ paths: all become the media tier's key.
func postsJob() job {
	return job{name: "posts", coll: "posts", writers: 2, unordered: true, since: []string{"createdAt", "updatedAt", "comments.createdAt"}, build: buildPost, write: writePosts}
}

func buildPost(r *run, b *batch, d *doc, x id.ID) {
	author, ok := d.oid("userId")
	if !ok && d.err == "" {
		b.reject("posts", x.String(), "userId missing")
		return
	}
	typ := d.str("type")
	if typ == "" {
		typ = "post"
	}
	content := d.str("content")
	if content == "" {
		content = d.str("caption")
	}
	mt := d.str("mediaType")
	media, thumb := d.str("mediaUrl"), d.str("thumbnailUrl")
	views := d.count("views", math.MaxInt64)
	shares := d.count("shares", math.MaxInt32)
	likes, badLikes := d.ids("likes")
	comments := d.values("comments")
	created := d.created(x)
	switch {
	case d.err != "":
		b.reject("posts", x.String(), d.err)
		return
	case typ != "post" && typ != "reel":
		b.reject("posts", x.String(), "type is neither post nor reel")
		return
	case !r.known(author):
		b.reject("posts", x.String(), "author not found (dangling userId)")
		return
	}
	if mt != "image" && mt != "video" {
		if mt != "" {
			d.fix("mediaType", "neither image nor video, dropped")
		}
		mt = ""
	}
	b.add("imp_posts", x.String(), author.String(), typ, content, r.mediaKey(media), mt, r.mediaKey(thumb),
		views, shares, created)

	for _, u := range uniqueRefs(b.st("posts.likes"), likes, badLikes, "like", r.plan.users) {
		b.add("imp_likes", x.String(), u.String(), created)
	}
	cs := b.st("posts.comments")
	for _, v := range comments {
		cs.Read++
		cd, ok := v.DocumentOK()
		if !ok {
			cs.reject("comment is not a document", 1)
			continue
		}
		c := &doc{raw: cd}
		cid, ok := c.docID()
		if !ok {
			cs.reject("comment _id is not an ObjectId", 1)
			continue
		}
		u, ok := c.oid("userId")
		text := c.text("text")
		at := c.created(cid)
		// Comment ids are global: a repeat inside one post or in a
		// hand-cloned post keeps its first post.
		prev, dup := b.ids["c"+string(cid[:])]
		switch {
		case c.err != "":
			b.reject("posts.comments", cid.String(), "comment "+c.err+" (post "+x.String()+")")
			continue
		case !ok:
			b.reject("posts.comments", cid.String(), "comment userId missing (post "+x.String()+")")
			continue
		case text == "":
			b.reject("posts.comments", cid.String(), "comment text empty (post "+x.String()+")")
			continue
		case dup && prev == x.String():
			b.reject("posts.comments", cid.String(), "comment _id repeated within post "+x.String())
			continue
		case dup:
			b.reject("posts.comments", cid.String(), "comment _id repeated in post "+x.String()+" (a copy of post "+prev+"'s comment)")
			continue
		case !r.known(u):
			b.reject("posts.comments", cid.String(), "commenter not found (dangling userId; post "+x.String()+")")
			continue
		}
		b.ids["c"+string(cid[:])] = x.String()
		b.normalised("posts.comments", c)
		b.add("imp_comments", cid.String(), x.String(), u.String(), text, at)
	}
}

func writePosts(ctx context.Context, r *run, tx pgx.Tx, b *batch) error {
	if err := copyRows(ctx, tx, b, "imp_posts", "id", "user_id", "type", "content", "media_url", "media_type",
		"thumbnail_url", "views", "shares", "created_at"); err != nil {
		return err
	}
	st := b.st("posts")
	n, err := count(ctx, tx, `SELECT count(*) FROM imp_posts p WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = p.user_id)`)
	if err != nil {
		return err
	}
	st.reject("author not found (dangling userId)", n)
	// Likes and comments first: the counters are computed while the posts
	// are inserted, so no row is written twice.
	if err := copyRows(ctx, tx, b, "imp_likes", "post_id", "user_id", "created_at"); err != nil {
		return err
	}
	if err := copyRows(ctx, tx, b, "imp_comments", "id", "post_id", "user_id", "text", "created_at"); err != nil {
		return err
	}
	if err := upsert(ctx, tx, st, len(b.data["imp_posts"])-int(n), `
		INSERT INTO posts AS p (id, user_id, type, content, media_url, media_type, thumbnail_url, views_count, shares_count,
		  likes_count, comments_count, created_at)
		SELECT i.id, i.user_id, i.type, i.content, i.media_url, i.media_type, i.thumbnail_url, i.views, i.shares,
		  coalesce(lc.n, 0), coalesce(cc.n, 0), i.created_at
		FROM imp_posts i JOIN users u ON u.id = i.user_id
		LEFT JOIN (SELECT l.post_id, count(*) AS n FROM imp_likes l JOIN users lu ON lu.id = l.user_id GROUP BY 1) lc ON lc.post_id = i.id
		LEFT JOIN (SELECT c.post_id, count(*) AS n FROM imp_comments c JOIN users cu ON cu.id = c.user_id GROUP BY 1) cc ON cc.post_id = i.id
		ON CONFLICT (id) DO UPDATE SET user_id = excluded.user_id, type = excluded.type, content = excluded.content,
		  media_url = excluded.media_url, media_type = excluded.media_type, thumbnail_url = excluded.thumbnail_url,
		  views_count = excluded.views_count, shares_count = excluded.shares_count, likes_count = excluded.likes_count,
		  comments_count = excluded.comments_count, created_at = excluded.created_at
		WHERE (p.user_id, p.type, p.content, p.media_url, p.media_type, p.thumbnail_url, p.views_count, p.shares_count,
		  p.likes_count, p.comments_count, p.created_at)
		  IS DISTINCT FROM (excluded.user_id, excluded.type, excluded.content, excluded.media_url, excluded.media_type,
		  excluded.thumbnail_url, excluded.views_count, excluded.shares_count, excluded.likes_count, excluded.comments_count, excluded.created_at)
		RETURNING xmax = 0`); err != nil {
		return err
	}
	if err := childRows(ctx, tx, b.st("posts.likes"), len(b.data["imp_likes"]), `post_likes (post_id, user_id, created_at)`,
		`SELECT l.post_id, l.user_id, l.created_at FROM imp_likes l JOIN users u ON u.id = l.user_id JOIN posts p ON p.id = l.post_id`); err != nil {
		return err
	}
	// Comments whose commenter or post is missing are the staged rows
	// the join drops (counted in the same statement).
	cs := b.st("posts.comments")
	var ok, ins, upd int64
	if err := tx.QueryRow(ctx, `WITH v AS MATERIALIZED (
		  SELECT i.id, i.post_id, i.user_id, i.text, i.created_at FROM imp_comments i
		  JOIN users u ON u.id = i.user_id JOIN posts p ON p.id = i.post_id),
		w (inserted) AS (
		  INSERT INTO post_comments AS c (id, post_id, user_id, text, created_at) SELECT * FROM v
		  ON CONFLICT (id) DO UPDATE SET text = excluded.text, created_at = excluded.created_at
		  WHERE c.post_id = excluded.post_id -- an id another post holds (a clone, in a --since pass) stays with it
		    AND (c.text, c.created_at) IS DISTINCT FROM (excluded.text, excluded.created_at)
		  RETURNING xmax = 0)
		SELECT (SELECT count(*) FROM v), count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM w`).Scan(&ok, &ins, &upd); err != nil {
		return err
	}
	cs.reject("dangling reference (commenter or post missing)", int64(len(b.data["imp_comments"]))-ok)
	cs.Inserted += ins
	cs.Updated += upd
	cs.skip("unchanged", ok-ins-upd)
	return nil
}

// childRows stores rows keyed by their whole content (likes, views,
// members): valid is the SELECT of the staged rows whose parents exist,
// into the INSERT's columns. The rest are counted as dangling, and valid
// rows already stored are skipped. One statement: the staged rows are
// probed against their parents once.
func childRows(ctx context.Context, tx pgx.Tx, st *Stats, staged int, into, valid string) error {
	if staged == 0 {
		return nil
	}
	var ok, inserted int64
	if err := tx.QueryRow(ctx, `WITH v AS MATERIALIZED (`+valid+`),
		ins AS (INSERT INTO `+into+` SELECT * FROM v ON CONFLICT DO NOTHING RETURNING 1)
		SELECT (SELECT count(*) FROM v), (SELECT count(*) FROM ins)`).Scan(&ok, &inserted); err != nil {
		return err
	}
	st.reject("dangling reference (user or parent missing)", int64(staged)-ok)
	st.Inserted += inserted
	st.skip("already present", ok-inserted)
	return nil
}
