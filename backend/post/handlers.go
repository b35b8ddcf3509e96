package post

import (
	"context"
	"strings"
	"unicode/utf8"

	"connectrpc.com/connect"
	"github.com/jackc/pgx/v5"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/post/view"
)

// caller is the authenticated user; the authn middleware guarantees one on
// every non-public procedure.
func caller(ctx context.Context) (id.ID, error) {
	p, ok := authn.FromContext(ctx)
	if !ok || p.UserID.IsZero() {
		return id.Nil, apperr.Unauthorized("No token provided")
	}
	return p.UserID, nil
}

// mustID parses an id the proto already validated.
func mustID(s string) id.ID {
	v, err := id.Parse(s)
	if err != nil {
		return id.Nil
	}
	return v
}

// CreatePost inserts a post owned by the caller. Owner, counters and
// timestamps are set here, never taken from the request (legacy S15).
func (s *Service) CreatePost(ctx context.Context, req *connect.Request[postv1.CreatePostRequest]) (*connect.Response[postv1.CreatePostResponse], error) {
	me, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	m := req.Msg
	content := strings.TrimSpace(m.GetContent())
	mediaURL := strings.TrimSpace(m.GetMediaUrl())
	if content == "" && mediaURL == "" {
		return nil, apperr.BadRequest("Post content or media is required")
	}
	if s.mod.Blocked(content) {
		return nil, apperr.BadRequest("Content contains objectionable language").WithReason("moderation_blocked")
	}
	np := newPost{
		ID: id.New(), UserID: me, Type: view.PostTypeName(m.GetType()), Content: content,
		MediaURL: mediaURL, MediaType: view.MediaTypeName(m.GetMediaType()),
		ThumbnailURL: strings.TrimSpace(m.GetThumbnailUrl()), IdempotencyKey: m.GetIdempotencyKey(),
	}
	postID, created, err := insertPost(ctx, s.db, np)
	if err != nil {
		return nil, err
	}
	if rec := postRecord(me, postID, content); rec != nil && created {
		s.record(ctx, *rec)
	}
	p, err := view.Get(ctx, s.db, me, postID)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&postv1.CreatePostResponse{Post: p, Created: created}), nil
}

// GetPost returns a post visible to the caller.
func (s *Service) GetPost(ctx context.Context, req *connect.Request[postv1.GetPostRequest]) (*connect.Response[postv1.GetPostResponse], error) {
	me, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	p, err := view.Get(ctx, s.db, me, mustID(req.Msg.GetPostId()))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&postv1.GetPostResponse{Post: p}), nil
}

// DeletePost deletes the caller's own post; anyone else's is refused.
func (s *Service) DeletePost(ctx context.Context, req *connect.Request[postv1.DeletePostRequest]) (*connect.Response[postv1.DeletePostResponse], error) {
	me, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	if err := deletePost(ctx, s.db, me, mustID(req.Msg.GetPostId())); err != nil {
		return nil, err
	}
	return connect.NewResponse(&postv1.DeletePostResponse{}), nil
}

// ListUserPosts lists a user's posts newest first.
func (s *Service) ListUserPosts(ctx context.Context, req *connect.Request[postv1.ListUserPostsRequest]) (*connect.Response[postv1.ListUserPostsResponse], error) {
	me, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	pg, err := view.ParsePage(req.Msg.GetPage(), req.Msg.GetOffset(), defaultPageSize, int(Limits.MaxPageSize))
	if err != nil {
		return nil, err
	}
	posts, next, err := view.ByUser(ctx, s.db, me, mustID(req.Msg.GetUserId()), pg)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&postv1.ListUserPostsResponse{Posts: posts, Page: &commonv1.PageResponse{NextCursor: next}}), nil
}

// LikePost likes a post (idempotent).
func (s *Service) LikePost(ctx context.Context, req *connect.Request[postv1.LikePostRequest]) (*connect.Response[postv1.LikePostResponse], error) {
	p, _, err := s.like(ctx, req.Msg.GetPostId(), likeOn)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&postv1.LikePostResponse{Post: p}), nil
}

// UnlikePost removes the caller's like (idempotent).
func (s *Service) UnlikePost(ctx context.Context, req *connect.Request[postv1.UnlikePostRequest]) (*connect.Response[postv1.UnlikePostResponse], error) {
	p, _, err := s.like(ctx, req.Msg.GetPostId(), likeOff)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&postv1.UnlikePostResponse{Post: p}), nil
}

// ToggleLike likes or unlikes in one transaction.
func (s *Service) ToggleLike(ctx context.Context, req *connect.Request[postv1.ToggleLikeRequest]) (*connect.Response[postv1.ToggleLikeResponse], error) {
	p, liked, err := s.like(ctx, req.Msg.GetPostId(), likeToggle)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&postv1.ToggleLikeResponse{Post: p, Liked: liked}), nil
}

func (s *Service) like(ctx context.Context, rawPostID string, op likeOp) (*postv1.Post, bool, error) {
	me, err := caller(ctx)
	if err != nil {
		return nil, false, err
	}
	postID := mustID(rawPostID)
	// The liker commits the operation with others and notifies the owner of
	// a new like before it answers.
	res, err := s.likes.do(ctx, me, postID, op)
	if err != nil {
		return nil, false, err
	}
	return res.post, res.liked, nil
}

// ListComments lists a post's comments newest first.
func (s *Service) ListComments(ctx context.Context, req *connect.Request[postv1.ListCommentsRequest]) (*connect.Response[postv1.ListCommentsResponse], error) {
	me, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	pg, err := view.ParsePage(req.Msg.GetPage(), nil, defaultPageSize, int(Limits.MaxPageSize))
	if err != nil {
		return nil, err
	}
	postID := mustID(req.Msg.GetPostId())
	if _, err := visibleOwner(ctx, s.db, me, postID); err != nil {
		return nil, err
	}
	comments, next, err := listComments(ctx, s.db, postID, pg)
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&postv1.ListCommentsResponse{Comments: comments, Page: &commonv1.PageResponse{NextCursor: next}}), nil
}

// AddComment comments on a visible post and notifies its owner.
func (s *Service) AddComment(ctx context.Context, req *connect.Request[postv1.AddCommentRequest]) (*connect.Response[postv1.AddCommentResponse], error) {
	me, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	text := strings.TrimSpace(req.Msg.GetText())
	if text == "" {
		return nil, apperr.BadRequest("Comment text required")
	}
	if s.mod.Blocked(text) {
		return nil, apperr.BadRequest("Comment contains objectionable language").WithReason("moderation_blocked")
	}
	postID := mustID(req.Msg.GetPostId())
	var (
		c     *postv1.Comment
		owner id.ID
	)
	err = db.InTx(ctx, s.db, func(tx pgx.Tx) error {
		var err error
		if owner, err = visibleOwner(ctx, tx, me, postID); err != nil {
			return err
		}
		c, err = insertComment(ctx, tx, me, postID, text)
		return err
	})
	if err != nil {
		return nil, apperr.From(err)
	}
	s.record(ctx, commentRecord(owner, me, postID, mustID(c.Id), text))
	return connect.NewResponse(&postv1.AddCommentResponse{Comment: c}), nil
}

// DeleteComment deletes a comment; allowed to its author and the post's owner.
func (s *Service) DeleteComment(ctx context.Context, req *connect.Request[postv1.DeleteCommentRequest]) (*connect.Response[postv1.DeleteCommentResponse], error) {
	me, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	err = db.InTx(ctx, s.db, func(tx pgx.Tx) error {
		return deleteComment(ctx, tx, me, mustID(req.Msg.GetPostId()), mustID(req.Msg.GetCommentId()))
	})
	if err != nil {
		return nil, apperr.From(err)
	}
	return connect.NewResponse(&postv1.DeleteCommentResponse{}), nil
}

// RecordView counts the caller's first view of a post.
func (s *Service) RecordView(ctx context.Context, req *connect.Request[postv1.RecordViewRequest]) (*connect.Response[postv1.RecordViewResponse], error) {
	me, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	var counted bool
	err = db.InTx(ctx, s.db, func(tx pgx.Tx) error {
		if _, err := visibleOwner(ctx, tx, me, mustID(req.Msg.GetPostId())); err != nil {
			return err
		}
		counted, err = recordView(ctx, tx, me, mustID(req.Msg.GetPostId()))
		return err
	})
	if err != nil {
		return nil, apperr.From(err)
	}
	return connect.NewResponse(&postv1.RecordViewResponse{Counted: counted}), nil
}

// ReportPost files a report (one per reporter and post; repeats return the
// first report).
func (s *Service) ReportPost(ctx context.Context, req *connect.Request[postv1.ReportPostRequest]) (*connect.Response[postv1.ReportPostResponse], error) {
	me, err := caller(ctx)
	if err != nil {
		return nil, err
	}
	reason := strings.TrimSpace(req.Msg.GetReason())
	if reason == "" || !utf8.ValidString(reason) {
		return nil, apperr.BadRequest("Report reason required")
	}
	postID := mustID(req.Msg.GetPostId())
	if _, err := visibleOwner(ctx, s.db, me, postID); err != nil {
		return nil, err
	}
	rid, err := insertReport(ctx, s.db, me, postID, reason, strings.TrimSpace(req.Msg.GetDetails()))
	if err != nil {
		return nil, err
	}
	return connect.NewResponse(&postv1.ReportPostResponse{ReportId: rid.String()}), nil
}
