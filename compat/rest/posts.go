package rest

import (
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
	segjson "github.com/segmentio/encoding/json"

	commonv1 "github.com/infliq/infliq/backend/gen/infliq/common/v1"
	feedv1 "github.com/infliq/infliq/backend/gen/infliq/feed/v1"
	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
)

// Legacy paging: limit is capped at maxLegacyLimit and offsets beyond
// maxLegacyOffset return an empty page (the services bound offsets too).
const (
	maxLegacyLimit  = 50
	maxLegacyOffset = 10000
)

// registerPosts serves /api/posts*, /api/reels/*, /api/feed* and
// /api/stories* (contract §A.4, §A.5, §A.10). Fixed paths such as
// /api/posts/feed are more specific than /api/posts/{id}, so they are never
// shadowed (legacy B2). Every route needs a token (legacy S20 is not kept).
func (rt *Router) registerPosts() {
	rt.authed("POST /api/posts", rt.createPost)
	rt.authed("GET /api/posts/feed", rt.postsFeed)
	rt.authed("GET /api/posts/reels", rt.postsReels)
	rt.authed("GET /api/reels/feed", rt.reelsFeed)
	rt.authed("GET /api/posts/user/{userId}", rt.userPosts)
	rt.authed("GET /api/posts/{id}", rt.getPost)
	rt.authed("DELETE /api/posts/{id}", rt.deletePost)
	rt.authed("POST /api/posts/{id}/like", rt.likePost)
	rt.authed("POST /api/posts/{id}/comment", rt.commentPost)
	rt.authed("POST /api/posts/{id}/view", rt.viewPost)
	rt.authed("POST /api/posts/{id}/report", rt.reportPost)
	rt.registerFeed()
	rt.registerStories()
}

// legacyAuthor is a populated post/story author (union of M2 and MS spellings).
type legacyAuthor struct {
	ID             string `json:"_id"`
	IDAlias        string `json:"id"`
	Name           string `json:"name"`
	ProfilePicture string `json:"profilePicture"`
	ProfilePhoto   string `json:"profilePhoto"`
	IsVerified     bool   `json:"isVerified"`
	Verified       bool   `json:"verified"`
}

func renderAuthor(u *commonv1.UserSummary) legacyAuthor {
	return legacyAuthor{
		ID: u.GetId(), IDAlias: u.GetId(), Name: u.GetName(),
		ProfilePicture: u.GetProfilePicture(), ProfilePhoto: u.GetProfilePicture(),
		IsVerified: u.GetIsVerified(), Verified: u.GetIsVerified(),
	}
}

// legacyPost is a post as M2 and MS clients read it.
type legacyPost struct {
	ID           string       `json:"_id"`
	IDAlias      string       `json:"id"`
	UserID       legacyAuthor `json:"userId"`
	User         legacyAuthor `json:"user"`
	Type         string       `json:"type"`
	Content      string       `json:"content"`
	Caption      string       `json:"caption"`
	MediaURL     string       `json:"mediaUrl"`
	MediaType    *string      `json:"mediaType"`
	ThumbnailURL string       `json:"thumbnailUrl"`
	Likes        []string     `json:"likes"`
	LikesCount   int32        `json:"likesCount"`
	// The newest comments (at most 20); commentsCount is the true count.
	Comments      []legacyComment `json:"comments"`
	CommentsCount int32           `json:"commentsCount"`
	Shares        int32           `json:"shares"`
	Views         int64           `json:"views"`
	IsLiked       bool            `json:"isLiked"`
	CreatedAt     string          `json:"createdAt"`
	V             int             `json:"__v"`
}

func renderPost(p *postv1.Post, me string) legacyPost {
	out := legacyPost{
		ID: p.GetId(), IDAlias: p.GetId(), UserID: renderAuthor(p.GetAuthor()), Type: "post",
		Content: p.GetContent(), Caption: p.GetContent(), MediaURL: p.GetMediaUrl(), ThumbnailURL: p.GetThumbnailUrl(),
		LikesCount: p.GetLikesCount(), CommentsCount: p.GetCommentsCount(), Shares: p.GetSharesCount(),
		Views: p.GetViewsCount(), IsLiked: p.GetIsLiked(), CreatedAt: isoTime(p.GetCreatedAt().AsTime()),
		Comments: make([]legacyComment, len(p.GetRecentComments())),
	}
	for i, c := range p.GetRecentComments() {
		out.Comments[i] = renderComment(c)
	}
	out.User = out.UserID
	if p.GetType() == postv1.PostType_POST_TYPE_REEL {
		out.Type = "reel"
	}
	switch p.GetMediaType() {
	case postv1.MediaType_MEDIA_TYPE_IMAGE:
		out.MediaType = &mediaImage
	case postv1.MediaType_MEDIA_TYPE_VIDEO:
		out.MediaType = &mediaVideo
	}
	if len(p.GetLikerIds()) == 0 && !p.GetIsLiked() {
		out.Likes = noLikes
		return out
	}
	// The app reads likes.includes(me): the caller comes first when liking.
	out.Likes = make([]string, 0, len(p.GetLikerIds())+1)
	if p.GetIsLiked() {
		out.Likes = append(out.Likes, me)
	}
	for _, l := range p.GetLikerIds() {
		if l != me {
			out.Likes = append(out.Likes, l)
		}
	}
	return out
}

// Shared by every rendered post, never written: a post with no likes
// renders [] without allocating a slice, media types without a string each.
var (
	noLikes                = []string{}
	mediaImage, mediaVideo = "image", "video"
)

func renderPosts(ps []*postv1.Post, me string) []legacyPost {
	out := make([]legacyPost, len(ps))
	for i, p := range ps {
		out[i] = renderPost(p, me)
	}
	return out
}

// bodyBufs recycles response buffers (a page of 10 posts is ~11 KB).
var bodyBufs = sync.Pool{New: func() any { b := make([]byte, 0, 16<<10); return &b }}

// writeBody writes a typed legacy body: the same headers and bytes as
// writeJSON (encoding/json with HTML escaping, then a newline), but encoded
// by segmentio/encoding/json, which takes about a third of encoding/json's
// CPU on a feed page, into a pooled buffer sent with a Content-Length in
// one write instead of chunks (TestWriteBodyMatchesEncodingJSON pins the bytes).
// The feed, post and story routes serve the app's hottest reads.
func writeBody(w http.ResponseWriter, status int, v any) {
	bp := bodyBufs.Get().(*[]byte)
	b, err := segjson.Append((*bp)[:0], v, segjson.EscapeHTML|segjson.SortMapKeys)
	if err != nil {
		writeJSON(w, status, v) // unreachable for these types; keep encoding/json's behaviour
		return
	}
	b = append(b, '\n')
	h := w.Header()
	h.Set("Content-Type", "application/json; charset=utf-8")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(status)
	_, _ = w.Write(b)
	if cap(b) <= 1<<20 {
		*bp = b
		bodyBufs.Put(bp)
	}
}

// isoTime is t.UTC().Format("2006-01-02T15:04:05.000Z") written directly
// (Format parses its layout on every call; a feed page formats a time per
// post and comment). TestISOTimeMatchesFormat pins the bytes.
func isoTime(t time.Time) string {
	t = t.UTC()
	y, mo, d := t.Date()
	if y < 0 || y > 9999 {
		return t.Format("2006-01-02T15:04:05.000Z")
	}
	h, mi, sec := t.Clock()
	var b [24]byte
	digits(b[0:4], y)
	b[4] = '-'
	digits(b[5:7], int(mo))
	b[7] = '-'
	digits(b[8:10], d)
	b[10] = 'T'
	digits(b[11:13], h)
	b[13] = ':'
	digits(b[14:16], mi)
	b[16] = ':'
	digits(b[17:19], sec)
	b[19] = '.'
	digits(b[20:23], t.Nanosecond()/1e6)
	b[23] = 'Z'
	return string(b[:])
}

// digits writes n zero-padded into b.
func digits(b []byte, n int) {
	for i := len(b) - 1; i >= 0; i-- {
		b[i] = byte('0' + n%10)
		n /= 10
	}
}

// legacyPage reads page/limit/skip. skip wins over page; ok is false when
// the offset is beyond what the services serve (an empty page follows).
func legacyPage(r *http.Request, defLimit int) (page, limit, offset int, ok bool) {
	q := r.URL.Query()
	page = atoiOr(q.Get("page"), 1)
	if page < 1 {
		page = 1
	}
	limit = atoiOr(q.Get("limit"), defLimit)
	if limit < 1 {
		limit = defLimit
	}
	if limit > maxLegacyLimit {
		limit = maxLegacyLimit
	}
	if s := q.Get("skip"); s != "" {
		offset = atoiOr(s, 0)
	} else if page <= maxLegacyOffset {
		offset = (page - 1) * limit
	} else {
		offset = maxLegacyOffset + 1
	}
	if offset < 0 {
		offset = 0
	}
	return page, limit, offset, offset <= maxLegacyOffset
}

func atoiOr(s string, def int) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return def
	}
	return n
}

func pageReq(limit int) *commonv1.PageRequest { return &commonv1.PageRequest{Limit: int32(limit)} }

func offsetReq(offset int) *postv1.PageOffset { return &postv1.PageOffset{Offset: int32(offset)} }

type createPostBody struct {
	Type         string  `json:"type"`
	Content      *string `json:"content"`
	Caption      *string `json:"caption"`
	MediaURL     *string `json:"mediaUrl"`
	MediaType    *string `json:"mediaType"`
	ThumbnailURL *string `json:"thumbnailUrl"`
}

func str(p *string) string {
	if p == nil {
		return ""
	}
	return *p
}

func (rt *Router) createPost(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	var b createPostBody
	if err := decodeJSON(r, &b); err != nil {
		writeError(w, err)
		return
	}
	req := &postv1.CreatePostRequest{
		Content: str(b.Content), MediaUrl: str(b.MediaURL), ThumbnailUrl: str(b.ThumbnailURL),
		IdempotencyKey: r.Header.Get("Idempotency-Key"),
	}
	if strings.TrimSpace(req.Content) == "" {
		req.Content = str(b.Caption)
	}
	switch b.Type {
	case "", "post":
		req.Type = postv1.PostType_POST_TYPE_POST
	case "reel":
		req.Type = postv1.PostType_POST_TYPE_REEL
	default:
		writeError(w, apperr.BadRequest("type must be post or reel"))
		return
	}
	switch str(b.MediaType) {
	case "":
	case "image":
		req.MediaType = postv1.MediaType_MEDIA_TYPE_IMAGE
	case "video":
		req.MediaType = postv1.MediaType_MEDIA_TYPE_VIDEO
	default:
		writeError(w, apperr.BadRequest("mediaType must be image or video"))
		return
	}
	res, err := rt.d.Clients.Post.CreatePost(r.Context(), Forward(r, connect.NewRequest(req)))
	if err != nil {
		writeError(w, err)
		return
	}
	// M2 answers the bare post, MS {success, post}: send both.
	post := renderPost(res.Msg.GetPost(), p.UserID.String())
	writeBody(w, http.StatusOK, createPostReply{post, true, post})
}

type feedPage struct {
	Success bool `json:"success"`
	// Exactly one of Posts and Reels is set (pointers, so an empty page
	// still renders as []).
	Posts   *[]legacyPost `json:"posts,omitempty"`
	Reels   *[]legacyPost `json:"reels,omitempty"`
	Page    int           `json:"page"`
	HasMore bool          `json:"hasMore"`
}

func (rt *Router) postsFeed(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	page, limit, offset, ok := legacyPage(r, 10)
	out := feedPage{Success: true, Page: page, Posts: &[]legacyPost{}}
	if ok {
		res, err := rt.d.Clients.Feed.GlobalFeed(r.Context(), Forward(r, connect.NewRequest(&feedv1.GlobalFeedRequest{Page: pageReq(limit), Offset: offsetReq(offset)})))
		if err != nil {
			writeError(w, err)
			return
		}
		*out.Posts, out.HasMore = renderPosts(res.Msg.GetPosts(), p.UserID.String()), res.Msg.GetPage().GetNextCursor() != ""
	}
	writeBody(w, http.StatusOK, out)
}

func (rt *Router) reels(w http.ResponseWriter, r *http.Request, p authn.Principal, defLimit int) {
	page, limit, offset, ok := legacyPage(r, defLimit)
	out := feedPage{Success: true, Page: page, Reels: &[]legacyPost{}}
	if ok {
		res, err := rt.d.Clients.Feed.ReelsFeed(r.Context(), Forward(r, connect.NewRequest(&feedv1.ReelsFeedRequest{Page: pageReq(limit), Offset: offsetReq(offset)})))
		if err != nil {
			writeError(w, err)
			return
		}
		*out.Reels, out.HasMore = renderPosts(res.Msg.GetReels(), p.UserID.String()), res.Msg.GetPage().GetNextCursor() != ""
	}
	writeBody(w, http.StatusOK, out)
}

func (rt *Router) reelsFeed(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	rt.reels(w, r, p, 10)
}

func (rt *Router) postsReels(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	rt.reels(w, r, p, 20)
}

func (rt *Router) userPosts(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	page, limit, offset, ok := legacyPage(r, maxLegacyLimit)
	out := feedPage{Success: true, Page: page, Posts: &[]legacyPost{}}
	if ok {
		res, err := rt.d.Clients.Post.ListUserPosts(r.Context(), Forward(r, connect.NewRequest(&postv1.ListUserPostsRequest{
			UserId: r.PathValue("userId"), Page: pageReq(limit), Offset: offsetReq(offset),
		})))
		if err != nil {
			writeError(w, err)
			return
		}
		*out.Posts, out.HasMore = renderPosts(res.Msg.GetPosts(), p.UserID.String()), res.Msg.GetPage().GetNextCursor() != ""
	}
	writeBody(w, http.StatusOK, out)
}

func (rt *Router) getPost(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	res, err := rt.d.Clients.Post.GetPost(r.Context(), Forward(r, connect.NewRequest(&postv1.GetPostRequest{PostId: r.PathValue("id")})))
	if err != nil {
		writeError(w, err)
		return
	}
	writeBody(w, http.StatusOK, postReply{Post: renderPost(res.Msg.GetPost(), p.UserID.String()), Success: true})
}

func (rt *Router) deletePost(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	_, err := rt.d.Clients.Post.DeletePost(r.Context(), Forward(r, connect.NewRequest(&postv1.DeletePostRequest{PostId: r.PathValue("id")})))
	if err != nil {
		// The app logs out on any 403, so "not yours" is rendered as not found.
		if connect.CodeOf(err) == connect.CodePermissionDenied {
			err = apperr.NotFound("Post not found")
		}
		writeError(w, err)
		return
	}
	writeBody(w, http.StatusOK, messageReply{Message: "Post deleted successfully", Success: true})
}

// likePost toggles, as the app's UI expects (legacy M2 could not unlike).
func (rt *Router) likePost(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	res, err := rt.d.Clients.Post.ToggleLike(r.Context(), Forward(r, connect.NewRequest(&postv1.ToggleLikeRequest{PostId: r.PathValue("id")})))
	if err != nil {
		writeError(w, err)
		return
	}
	writeBody(w, http.StatusOK, likeReply{renderPost(res.Msg.GetPost(), p.UserID.String()), res.Msg.GetLiked()})
}

// Typed replies instead of map[string]any: encoding/json sorts a map's
// keys on every call. Fields are in that sorted order, so the bytes are the
// same as the map replies these replaced.
type (
	okReply struct {
		Success bool `json:"success"`
	}
	messageReply struct {
		Message string `json:"message"`
		Success bool   `json:"success"`
	}
	postReply struct {
		Post    legacyPost `json:"post"`
		Success bool       `json:"success"`
	}
	commentReply struct {
		Comment legacyComment `json:"comment"`
		Success bool          `json:"success"`
	}
	// createPostReply is the bare post (M2) plus {success, post} (MS).
	createPostReply struct {
		legacyPost
		Success bool       `json:"success"`
		Post    legacyPost `json:"post"`
	}
	likeReply struct {
		legacyPost
		Liked bool `json:"liked"`
	}
)

type legacyComment struct {
	ID        string       `json:"_id"`
	IDAlias   string       `json:"id"`
	UserID    legacyAuthor `json:"userId"`
	Text      string       `json:"text"`
	CreatedAt string       `json:"createdAt"`
}

func (rt *Router) commentPost(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	var b struct {
		Text *string `json:"text"`
	}
	if err := decodeJSON(r, &b); err != nil {
		writeError(w, err)
		return
	}
	if strings.TrimSpace(str(b.Text)) == "" {
		writeError(w, apperr.BadRequest("Comment text required"))
		return
	}
	res, err := rt.d.Clients.Post.AddComment(r.Context(), Forward(r, connect.NewRequest(&postv1.AddCommentRequest{PostId: r.PathValue("id"), Text: *b.Text})))
	if err != nil {
		writeError(w, err)
		return
	}
	writeBody(w, http.StatusOK, commentReply{Comment: renderComment(res.Msg.GetComment()), Success: true})
}

func renderComment(c *postv1.Comment) legacyComment {
	return legacyComment{
		ID: c.GetId(), IDAlias: c.GetId(), UserID: renderAuthor(c.GetAuthor()), Text: c.GetText(), CreatedAt: isoTime(c.GetCreatedAt().AsTime()),
	}
}

func (rt *Router) viewPost(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	if _, err := rt.d.Clients.Post.RecordView(r.Context(), Forward(r, connect.NewRequest(&postv1.RecordViewRequest{PostId: r.PathValue("id")}))); err != nil {
		writeError(w, err)
		return
	}
	writeBody(w, http.StatusOK, okReply{Success: true})
}

func (rt *Router) reportPost(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	var b struct {
		Reason  *string `json:"reason"`
		Details *string `json:"details"`
	}
	if err := decodeJSON(r, &b); err != nil {
		writeError(w, err)
		return
	}
	reason := strings.TrimSpace(str(b.Reason))
	if reason == "" {
		reason = "other"
	}
	if _, err := rt.d.Clients.Post.ReportPost(r.Context(), Forward(r, connect.NewRequest(&postv1.ReportPostRequest{
		PostId: r.PathValue("id"), Reason: reason, Details: str(b.Details),
	}))); err != nil {
		writeError(w, err)
		return
	}
	writeBody(w, http.StatusOK, messageReply{Message: "Report submitted for review", Success: true})
}
