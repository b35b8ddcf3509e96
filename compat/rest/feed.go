package rest

import (
	"net/http"

	"connectrpc.com/connect"

	feedv1 "github.com/infliq/infliq/backend/gen/infliq/feed/v1"
	"github.com/infliq/infliq/backend/platform/authn"
)

// registerFeed serves the MS feed-service routes (/api/feed*).
func (rt *Router) registerFeed() {
	rt.authed("GET /api/feed", rt.homeFeed)
	rt.authed("GET /api/feed/stories", rt.feedStories)
	rt.authed("POST /api/feed/stories", func(w http.ResponseWriter, r *http.Request, p authn.Principal) {
		rt.createStory(w, r, p, http.StatusCreated)
	})
	rt.authed("POST /api/feed/stories/{id}/view", rt.viewStory)
	rt.authed("DELETE /api/feed/stories/{id}", rt.deleteStory)
}

// homeFeedReply is MS's GET /api/feed: a feed page and whether it was cached.
type homeFeedReply struct {
	feedPage
	Cached bool `json:"cached"`
}

func (rt *Router) homeFeed(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	page, limit, offset, ok := legacyPage(r, 20)
	out := homeFeedReply{feedPage: feedPage{Success: true, Page: page, Posts: &[]legacyPost{}}}
	if ok {
		res, err := rt.d.Clients.Feed.HomeFeed(r.Context(), Forward(r, connect.NewRequest(&feedv1.HomeFeedRequest{Page: pageReq(limit), Offset: offsetReq(offset)})))
		if err != nil {
			writeError(w, err)
			return
		}
		*out.Posts, out.HasMore = renderPosts(res.Msg.GetPosts(), p.UserID.String()), res.Msg.GetPage().GetNextCursor() != ""
	}
	writeBody(w, http.StatusOK, out)
}

// legacyStoryEntry is MS's flat per-author entry (its latest story). The
// response also carries the full groups, so older stories stay reachable
// (legacy B35).
type legacyStoryEntry struct {
	UserID         string `json:"userId"`
	Name           string `json:"name"`
	ProfilePhoto   string `json:"profilePhoto"`
	ProfilePicture string `json:"profilePicture"`
	IsVerified     bool   `json:"isVerified"`
	HasStory       bool   `json:"hasStory"`
	Seen           bool   `json:"seen"`
	StoryID        string `json:"storyId"`
	MediaURL       string `json:"mediaUrl"`
	MediaType      string `json:"mediaType"`
	Caption        string `json:"caption"`
	ExpiresAt      string `json:"expiresAt"`
	CreatedAt      string `json:"createdAt"`
}

// storyFeedReply is GET /api/feed/stories (fields in sorted key order, see okReply).
type storyFeedReply struct {
	Groups      []legacyStoryGroup `json:"groups"`
	Stories     []legacyStoryEntry `json:"stories"`
	StoryGroups []legacyStoryGroup `json:"storyGroups"`
	Success     bool               `json:"success"`
}

func (rt *Router) feedStories(w http.ResponseWriter, r *http.Request, p authn.Principal) {
	res, err := rt.d.Clients.Feed.StoryFeed(r.Context(), Forward(r, connect.NewRequest(&feedv1.StoryFeedRequest{})))
	if err != nil {
		writeError(w, err)
		return
	}
	groups := renderGroups(res.Msg.GetGroups(), p.UserID.String())
	entries := make([]legacyStoryEntry, 0, len(groups))
	for _, g := range groups {
		if len(g.Stories) == 0 {
			continue
		}
		s := g.Stories[0]
		name := g.User.Name
		if name == "" {
			name = "User"
		}
		entries = append(entries, legacyStoryEntry{
			UserID: g.User.ID, Name: name, ProfilePhoto: g.User.ProfilePhoto, ProfilePicture: g.User.ProfilePicture,
			IsVerified: g.User.IsVerified, HasStory: true, Seen: s.Viewed, StoryID: s.ID, MediaURL: s.MediaURL,
			MediaType: s.MediaType, Caption: s.Caption, ExpiresAt: s.ExpiresAt, CreatedAt: s.CreatedAt,
		})
	}
	writeBody(w, http.StatusOK, storyFeedReply{Groups: groups, Stories: entries, StoryGroups: groups, Success: true})
}
