package feed

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"
	"google.golang.org/protobuf/types/known/timestamppb"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	feedv1 "github.com/infliq/infliq/backend/gen/infliq/feed/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/post/view"
)

// storyTTL is how long a story lives.
const storyTTL = 24 * time.Hour

// maxStoryFeedRows bounds one story feed (authors × their unexpired stories).
const maxStoryFeedRows = 2000

// checkMediaURL applies the story media rules: https on an allowed host.
func (s *Service) checkMediaURL(raw string) error {
	for _, base := range s.opt.ProxyBases {
		if base != "" && strings.HasPrefix(raw, strings.TrimSuffix(base, "/")+"/api/media/proxy/") && !strings.Contains(raw, "..") {
			return nil
		}
	}
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" || u.Opaque != "" {
		return apperr.BadRequest("Invalid mediaUrl format")
	}
	if u.Scheme != "https" {
		return apperr.BadRequest("mediaUrl must be https")
	}
	if u.User != nil {
		return apperr.BadRequest("Invalid mediaUrl format")
	}
	host := strings.ToLower(u.Host)
	if len(s.hosts) > 0 && !s.hosts[host] && !s.hosts[strings.ToLower(u.Hostname())] {
		return apperr.BadRequest("mediaUrl host is not allowed")
	}
	return nil
}

// CreateStory publishes a story after the media, caption and rate rules.
func (s *Service) CreateStory(ctx context.Context, req *connect.Request[feedv1.CreateStoryRequest]) (*connect.Response[feedv1.CreateStoryResponse], error) {
	me, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	mediaURL := strings.TrimSpace(req.Msg.GetMediaUrl())
	if mediaURL == "" {
		return nil, apperr.BadRequest("mediaUrl is required")
	}
	if err := s.checkMediaURL(mediaURL); err != nil {
		return nil, err
	}
	caption := strings.TrimSpace(req.Msg.GetCaption())
	if n := s.opt.Stories.CaptionMaxLen; utf8.RuneCountInString(caption) > n {
		return nil, apperr.BadRequest(fmt.Sprintf("caption exceeds %d characters", n))
	}
	mediaType := view.MediaTypeName(req.Msg.GetMediaType())
	if mediaType == "" {
		mediaType = "image"
	}
	sid := id.New()
	var created, expires time.Time
	err = db.InTx(ctx, s.db, func(tx pgx.Tx) error {
		// Serialise one user's creates so the limits hold under concurrency.
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock(hashtextextended('story:' || $1::text, 0))`, me); err != nil {
			return apperr.Internal(err)
		}
		var active, recent int
		if err := tx.QueryRow(ctx, `SELECT count(*) FILTER (WHERE expires_at > now()),
				count(*) FILTER (WHERE created_at > now() - $2::interval)
			FROM stories WHERE user_id = $1 AND expires_at > now() - interval '1 day'`,
			me, s.opt.Stories.CreateWindow.D()).Scan(&active, &recent); err != nil {
			return apperr.Internal(err)
		}
		if active >= s.opt.Stories.MaxPerUser {
			return apperr.RateLimited("Story limit reached. Please wait for older stories to expire.", 0)
		}
		if recent >= s.opt.Stories.CreateMax {
			return apperr.RateLimited("Too many stories created in a short time. Try again later.", s.opt.Stories.CreateWindow.D())
		}
		err := tx.QueryRow(ctx, `INSERT INTO stories (id, user_id, media_url, media_type, caption, created_at, expires_at)
			VALUES ($1, $2, $3, $4, $5, now(), now() + $6::interval) RETURNING created_at, expires_at`,
			sid, me, mediaURL, mediaType, caption, storyTTL).Scan(&created, &expires)
		if db.IsForeignKeyViolation(err) {
			return apperr.NotFound("User not found")
		}
		return wrap(err)
	})
	if err != nil {
		return nil, apperr.From(err)
	}
	author, err := s.summary(ctx, me)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&feedv1.CreateStoryResponse{Story: &feedv1.Story{
		Id: sid.String(), Author: author, MediaUrl: mediaURL, MediaType: view.MediaType(mediaType),
		Caption: caption, CreatedAt: timestamppb.New(created), ExpiresAt: timestamppb.New(expires),
	}}), nil
}

func wrap(err error) error {
	if err != nil {
		return apperr.Internal(err)
	}
	return nil
}

func (s *Service) summary(ctx context.Context, uid id.ID) (*commonv1.UserSummary, error) {
	var a commonv1.UserSummary
	err := s.db.QueryRow(ctx, `SELECT id, name, profile_picture, is_verified FROM users WHERE id = $1`, uid).
		Scan(&a.Id, &a.Name, &a.ProfilePicture, &a.IsVerified)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	return &a, nil
}

// storyFeedSQL is the story read model: the caller and their followees
// (follows primary key), minus authors blocked either way, joined with each
// author's unexpired stories (stories_user_idx), the author (users) and the
// caller's view (story_views primary key). One query per feed.
const storyFeedSQL = `WITH authors AS (
		SELECT f.followee_id AS uid FROM follows f WHERE f.follower_id = $1
		UNION SELECT $1::object_id
	)
	SELECT s.id, s.media_url, s.media_type, s.caption, s.created_at, s.expires_at,
		u.id, u.name, u.profile_picture, u.is_verified,
		EXISTS (SELECT 1 FROM story_views v WHERE v.story_id = s.id AND v.viewer_id = $1)
	FROM authors a
	JOIN stories s ON s.user_id = a.uid AND s.expires_at > now()
	JOIN users u ON u.id = s.user_id
	WHERE NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = $1 AND b.blocked_id = a.uid)
	  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = a.uid AND b.blocked_id = $1)
	  AND NOT EXISTS (SELECT 1 FROM story_hidden h WHERE h.story_id = s.id)
	ORDER BY s.id DESC
	LIMIT $2`

// StoryFeed groups every unexpired story per author: the caller's group
// first, then authors by their newest story. Each group holds all of the
// author's unexpired stories, newest first (not only the latest, legacy B35).
func (s *Service) StoryFeed(ctx context.Context, req *connect.Request[feedv1.StoryFeedRequest]) (*connect.Response[feedv1.StoryFeedResponse], error) {
	me, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	rows, err := s.db.Query(ctx, storyFeedSQL, me, maxStoryFeedRows)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	defer rows.Close()
	var (
		groups []*feedv1.StoryGroup
		index  = map[string]*feedv1.StoryGroup{}
	)
	for rows.Next() {
		var (
			st                 feedv1.Story
			a                  commonv1.UserSummary
			mediaType          string
			created, expiresAt time.Time
		)
		if err := rows.Scan(&st.Id, &st.MediaUrl, &mediaType, &st.Caption, &created, &expiresAt,
			&a.Id, &a.Name, &a.ProfilePicture, &a.IsVerified, &st.Viewed); err != nil {
			return nil, apperr.Internal(err)
		}
		g := index[a.Id]
		if g == nil {
			g = &feedv1.StoryGroup{Author: &a}
			index[a.Id] = g
			groups = append(groups, g)
		}
		st.Author = g.Author
		st.MediaType = view.MediaType(mediaType)
		st.CreatedAt, st.ExpiresAt = timestamppb.New(created), timestamppb.New(expiresAt)
		g.Stories = append(g.Stories, &st)
		if !st.Viewed {
			g.HasUnviewed = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, apperr.Internal(err)
	}
	// Own group first; the rest keep newest-story order.
	if g := index[me.String()]; g != nil {
		out := make([]*feedv1.StoryGroup, 0, len(groups))
		out = append(out, g)
		for _, o := range groups {
			if o != g {
				out = append(out, o)
			}
		}
		groups = out
	}
	return connect.NewResponse(&feedv1.StoryFeedResponse{Groups: groups}), nil
}

// ViewStory records the caller's view of an unexpired, visible story.
func (s *Service) ViewStory(ctx context.Context, req *connect.Request[feedv1.ViewStoryRequest]) (*connect.Response[feedv1.ViewStoryResponse], error) {
	me, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	sid, _ := id.Parse(req.Msg.GetStoryId())
	var ok bool
	err = s.db.QueryRow(ctx, `WITH target AS (
			SELECT s.id FROM stories s WHERE s.id = $1 AND s.expires_at > now()
			  AND NOT EXISTS (SELECT 1 FROM story_hidden h WHERE h.story_id = s.id)
			  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = $2 AND b.blocked_id = s.user_id)
			  AND NOT EXISTS (SELECT 1 FROM blocks b WHERE b.blocker_id = s.user_id AND b.blocked_id = $2)
		), ins AS (
			INSERT INTO story_views (story_id, viewer_id) SELECT id, $2 FROM target ON CONFLICT DO NOTHING
		)
		SELECT EXISTS (SELECT 1 FROM target)`, sid, me).Scan(&ok)
	if db.IsForeignKeyViolation(err) {
		return nil, apperr.NotFound("User not found")
	}
	if err != nil {
		return nil, apperr.Internal(err)
	}
	if !ok {
		return nil, apperr.NotFound("Story not found")
	}
	return connect.NewResponse(&feedv1.ViewStoryResponse{}), nil
}

// DeleteStory deletes the caller's story. Someone else's story is reported
// as not found, so ids of others' stories reveal nothing.
func (s *Service) DeleteStory(ctx context.Context, req *connect.Request[feedv1.DeleteStoryRequest]) (*connect.Response[feedv1.DeleteStoryResponse], error) {
	me, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	sid, _ := id.Parse(req.Msg.GetStoryId())
	tag, err := s.db.Exec(ctx, `DELETE FROM stories WHERE id = $1 AND user_id = $2`, sid, me)
	if err != nil {
		return nil, apperr.Internal(err)
	}
	if tag.RowsAffected() == 0 {
		return nil, apperr.NotFound("Story not found")
	}
	return connect.NewResponse(&feedv1.DeleteStoryResponse{}), nil
}
