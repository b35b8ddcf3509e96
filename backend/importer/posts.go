package importer

import (
	"context"

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
	st := b.st("posts")
	author, ok := d.oid("userId")
	if !ok && d.err == "" {
		st.reject("userId missing", 1)
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
	views, _ := d.num("views")
	shares, _ := d.num("shares")
	likes, badLikes := d.ids("likes")
	comments := d.values("comments")
	created := d.created(x)
	switch {
	case d.err != "":
		st.reject(d.err, 1)
		return
	case typ != "post" && typ != "reel":
		st.reject("type is neither post nor reel", 1)
		return
	}
	if mt != "image" && mt != "video" {
		mt = ""
	}
	b.add("imp_posts", x.String(), author.String(), typ, content, r.mediaKey(media), mt, r.mediaKey(thumb),
		int64(max(views, 0)), int(max(shares, 0)), created)

	for _, u := range uniqueRefs(b.st("posts.likes"), likes, badLikes, "like") {
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
		text := c.str("text")
		switch {
		case c.err != "":
			cs.reject("comment "+c.err, 1)
			continue
		case !ok:
			cs.reject("comment userId missing", 1)
			continue
		case text == "":
			cs.reject("comment text empty", 1)
			continue
		}
		b.add("imp_comments", cid.String(), x.String(), u.String(), text, c.created(cid))
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
	if err := childRows(ctx, tx, b.st("posts.likes"), len(b.data["imp_likes"]),
		`SELECT count(*) FROM imp_likes l WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = l.user_id) OR NOT EXISTS (SELECT 1 FROM posts WHERE id = l.post_id)`,
		`INSERT INTO post_likes (post_id, user_id, created_at) SELECT l.post_id, l.user_id, l.created_at FROM imp_likes l
		 JOIN users u ON u.id = l.user_id JOIN posts p ON p.id = l.post_id ON CONFLICT DO NOTHING`); err != nil {
		return err
	}
	cs := b.st("posts.comments")
	n, err = count(ctx, tx, `SELECT count(*) FROM imp_comments c WHERE NOT EXISTS (SELECT 1 FROM users WHERE id = c.user_id) OR NOT EXISTS (SELECT 1 FROM posts WHERE id = c.post_id)`)
	if err != nil {
		return err
	}
	cs.reject("dangling reference (commenter or post missing)", n)
	return upsert(ctx, tx, cs, len(b.data["imp_comments"])-int(n), `
		INSERT INTO post_comments AS c (id, post_id, user_id, text, created_at)
		SELECT i.id, i.post_id, i.user_id, i.text, i.created_at FROM imp_comments i
		JOIN users u ON u.id = i.user_id JOIN posts p ON p.id = i.post_id
		ON CONFLICT (id) DO UPDATE SET text = excluded.text, created_at = excluded.created_at
		WHERE (c.text, c.created_at) IS DISTINCT FROM (excluded.text, excluded.created_at)
		RETURNING xmax = 0`)
}

// childRows stores rows keyed by their whole content (likes, views,
// members): dangling ones are counted, the rest inserted once.
func childRows(ctx context.Context, tx pgx.Tx, st *Stats, staged int, danglingSQL, insertSQL string) error {
	if staged == 0 {
		return nil
	}
	n, err := count(ctx, tx, danglingSQL)
	if err != nil {
		return err
	}
	st.reject("dangling reference (user or parent missing)", n)
	tag, err := tx.Exec(ctx, insertSQL)
	if err != nil {
		return err
	}
	st.Inserted += tag.RowsAffected()
	st.skip("already present", int64(staged)-n-tag.RowsAffected())
	return nil
}
