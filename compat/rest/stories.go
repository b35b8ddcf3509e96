package rest

import (
	"net/http"
	"strings"

	"connectrpc.com/connect"

	feedv1 "github.com/infliq/infliq/backend/gen/infliq/feed/v1"
	postv1 "github.com/infliq/infliq/backend/gen/infliq/post/v1"
	"github.com/infliq/infliq/backend/platform/apperr"
	"github.com/infliq/infliq/backend/platform/authn"
)

// registerStories serves M2's /api/stories* (the routes the app calls).
func (rt *Router) registerStories() {
	rt.authed("POST /api/stories", func(w http.ResponseWriter, r *http.Request, p authn.Principal) {
		rt.createStory(w, r, p, http.StatusOK)
	})
	rt.authed("GET /api/stories/feed", rt.storyFeed)
	rt.authed("POST /api/stories/{id}/view", rt.viewStory)
	rt.authed("DELETE /api/stories/{id}", rt.deleteStory)
}

// legacyStory is a story in the union of M2 and MS shapes.
type legacyStory struct {
	ID        string       `json:"_id"`
	IDAlias   string       `json:"id"`
	UserID    legacyAuthor `json:"userId"`
	MediaURL  string       `json:"mediaUrl"`
	MediaType string       `json:"mediaType"`
	Caption   string       `json:"caption"`
	Viewers   []string     `json:"viewers"`
	Viewed    bool         `json:"viewed"`
	CreatedAt string       `json:"createdAt"`
	ExpiresAt string       `json:"expiresAt"`
	V         int          `json:"__v"`
}

func renderStory(s *feedv1.Story, me string) legacyStory {
	out := legacyStory{
		ID: s.GetId(), IDAlias: s.GetId(), UserID: renderAuthor(s.GetAuthor()), MediaURL: s.GetMediaUrl(),
		MediaType: "image", Caption: s.GetCaption(), Viewed: s.GetViewed(), Viewers: []string{},
		CreatedAt: isoTime(s.GetCreatedAt().AsTime()), ExpiresAt: isoTime(s.GetExpiresAt().AsTime()),
	}
	if s.GetMediaType() == postv1.MediaType_MEDIA_TYPE_VIDEO {
		out.MediaType = "video"
	}
	// Other viewers are not disclosed; the caller sees themself when they viewed it.
	if s.GetViewed() {
		out.Viewers = append(out.Viewers, me)
	}
	return out
}

// Story replies, fields in sorted key order (see okReply).
type (
	storyReply struct {
		Story   legacyStory `json:"story"`
		Success bool        `json:"success"`
	}
	storyGroupsReply struct {
		Groups      []legacyStoryGroup `json:"groups"`
		StoryGroups []legacyStoryGroup `json:"storyGroups"`
		Success     bool               `json:"success"`
	}
)

type legacyStoryGroup struct {
	User        legacyAuthor  `json:"user"`
	HasUnviewed bool          `json:"hasUnviewed"`
	Stories     []legacyStory `json:"stories"`
}

func renderGroups(gs []*feedv1.StoryGroup, me string) []legacyStoryGroup {
	out := make([]legacyStoryGroup, len(gs))
	for i, g := range gs {
		lg := legacyStoryGroup{User: renderAuthor(g.GetAuthor()), HasUnviewed: g.GetHasUnviewed(), Stories: make([]legacyStory, len(g.GetStories()))}
		for j, s := range g.GetStories() {
			lg.Stories[j] = renderStory(s, me)
		}
		out[i] = lg
	}
	return out
}

func (rt *Router) createStory(w http.ResponseWriter, r *http.Request, p authn.Principal, status int) {
	var b struct {
		MediaURL  *string `json:"mediaUrl"`
		MediaType *string `json:"mediaType"`
		Caption   *string `json:"caption"`
	}
	if err := decodeJSON(r, &b); err != nil {
		writeError(w, err)
		return
	}
	if strings.TrimSpace(str(b.MediaURL)) == "" {
		writeError(w, apperr.BadRequest("mediaUrl is required"))
		return
	}
	req := &feedv1.CreateStoryRequest{MediaUrl: str(b.MediaURL), Caption: str(b.Caption), MediaType: postv1.MediaType_MEDIA_TYPE_IMAGE}
	switch str(b.MediaType) {
	case "", "image":
	case "video":
		req.MediaType = postv1.MediaType_MEDIA_TYPE_VIDEO
	default:
		writeError(w, apperr.BadRequest("mediaType must be image or video"))
		return
	}
	res, err := rt.d.Clients.Feed.CreateStory(r.Context(), Forward(r, connect.NewRequest(req)))
	if err != nil {
		writeError(w, err)
		return
	}
	writeBody(w, status, storyReply{Story: renderStory(res.Msg.GetStory(), p.UserID.String()), Success: true})
}

// storyFeed answers both `groups` (what the app reads) and `storyGroups`
// (what M2 sent), each group's user carrying verified and isVerified.
func (rt *Router) storyFeed(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	res, err := rt.d.Clients.Feed.StoryFeed(r.Context(), Forward(r, connect.NewRequest(&feedv1.StoryFeedRequest{})))
	if err != nil {
		writeError(w, err)
		return
	}
	groups := renderGroups(res.Msg.GetGroups(), p.UserID.String())
	writeBody(w, http.StatusOK, storyGroupsReply{Groups: groups, StoryGroups: groups, Success: true})
}

func (rt *Router) viewStory(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	if _, err := rt.d.Clients.Feed.ViewStory(r.Context(), Forward(r, connect.NewRequest(&feedv1.ViewStoryRequest{StoryId: r.PathValue("id")}))); err != nil {
		writeError(w, err)
		return
	}
	writeBody(w, http.StatusOK, okReply{Success: true})
}

func (rt *Router) deleteStory(w http.ResponseWriter, r *http.Request, _ authn.Principal) {
	if _, err := rt.d.Clients.Feed.DeleteStory(r.Context(), Forward(r, connect.NewRequest(&feedv1.DeleteStoryRequest{StoryId: r.PathValue("id")}))); err != nil {
		writeError(w, err)
		return
	}
	writeBody(w, http.StatusOK, okReply{Success: true})
}
