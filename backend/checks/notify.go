package checks

import (
	"context"
	"fmt"
	"time"
)

// notifySmoke walks like → notification → unread count → markRead through
// the gateway with two users: owner (SMOKE_JWT) posts, peer
// (SMOKE_PEER_JWT) likes it, and the owner's inbox must show the like group
// naming peer, counted unread, until marked read. The post is deleted at
// the end.
func notifySmoke(ctx context.Context, r *runner, owner, peer *client, wait time.Duration) {
	rpc := func(c *client, method string, body map[string]any) (map[string]any, error) {
		res, err := c.do(ctx, "POST", "/infliq."+method, body, nil)
		if err != nil {
			return nil, err
		}
		if err := wantStatus(res, 200); err != nil {
			return nil, err
		}
		return res.Body, nil
	}
	var postID, peerID string
	r.check("notifications: like → grouped notification", func() error {
		me, err := rpc(peer, "user.v1.UserService/GetMe", map[string]any{})
		if err != nil {
			return fmt.Errorf("peer GetMe: %w", err)
		}
		u, _ := me["user"].(map[string]any)
		if peerID, _ = u["id"].(string); peerID == "" {
			return fmt.Errorf("peer GetMe: no user id")
		}
		p, err := rpc(owner, "post.v1.PostService/CreatePost", map[string]any{"content": "smoke: notifications"})
		if err != nil {
			return fmt.Errorf("CreatePost: %w", err)
		}
		pp, _ := p["post"].(map[string]any)
		if postID, _ = pp["id"].(string); postID == "" {
			return fmt.Errorf("CreatePost: no post id")
		}
		if _, err := rpc(peer, "post.v1.PostService/LikePost", map[string]any{"postId": postID}); err != nil {
			return fmt.Errorf("LikePost: %w", err)
		}
		deadline := time.Now().Add(wait)
		for {
			l, err := rpc(owner, "notify.v1.NotificationService/ListNotifications", map[string]any{"kinds": []string{"KIND_LIKE"}})
			if err != nil {
				return err
			}
			ns, _ := l["notifications"].([]any)
			for _, n := range ns {
				g, _ := n.(map[string]any)
				actors, _ := g["actors"].([]any)
				if g["postId"] == postID && len(actors) > 0 {
					if a, _ := actors[0].(map[string]any); a["id"] == peerID {
						return nil
					}
				}
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("no like notification for post %s within %v", postID, wait)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})
	r.check("notifications: unread count, then markRead", func() error {
		u, err := rpc(owner, "notify.v1.NotificationService/GetUnreadCount", map[string]any{})
		if err != nil {
			return err
		}
		if n := fmt.Sprint(u["unreadCount"]); n == "" || n == "0" || n == "<nil>" {
			return fmt.Errorf("unread count %v after a like", u["unreadCount"])
		}
		m, err := rpc(owner, "notify.v1.NotificationService/MarkRead", map[string]any{"all": true})
		if err != nil {
			return err
		}
		if n := m["unreadCount"]; n != nil && fmt.Sprint(n) != "0" {
			return fmt.Errorf("unread count %v after markRead", n)
		}
		return nil
	})
	if postID != "" {
		_, _ = rpc(owner, "post.v1.PostService/DeletePost", map[string]any{"postId": postID})
	}
}
