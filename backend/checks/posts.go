package checks

import (
	"context"
	"fmt"
)

// postClient is an authenticated client for the post checks: CONTRACT_JWT
// when set, else a login with the contract credentials; nil without either.
func postClient(ctx context.Context, c *client, cfg ContractConfig) *client {
	tok := cfg.JWT
	if tok == "" {
		res, err := contractLogin(ctx, c, cfg)
		if err != nil {
			return nil
		}
		tok, _ = res.Body["token"].(string)
	}
	if tok == "" {
		return nil
	}
	return newClient(cfg.BaseURL, cfg.Timeout, tok)
}

// postContracts checks the post, feed and story routes (contract §A.4,
// §A.5, §A.10, §B.2 rows 10–20). anon has no token; authed (nil when no
// token is configured) carries one.
func postContracts(ctx context.Context, r *runner, anon, authed *client) {
	for _, path := range []string{"/api/posts/feed?page=1&limit=1", "/api/reels/feed?page=1&limit=1", "/api/stories/feed", "/api/feed"} {
		r.check("posts: "+path+" needs a token (401 JSON)", func() error {
			res, err := anon.do(ctx, "GET", path, nil, nil)
			if err != nil {
				return err
			}
			if err := wantStatus(res, 401); err != nil {
				return err
			}
			if res.Body["error"] == nil || res.Body["code"] == nil {
				return fmt.Errorf("body is not {error, code}: %s", truncate(res.Raw))
			}
			return nil
		})
	}
	if authed == nil {
		r.info("Post/feed/story payload contracts skipped (set CONTRACT_JWT, CONTRACT_EMAIL/CONTRACT_PASSWORD or CONTRACT_PHONE/CONTRACT_OTP).")
		return
	}
	r.check("posts feed payload contract", func() error {
		res, err := authed.do(ctx, "GET", "/api/posts/feed?page=1&limit=2", nil, nil)
		if err != nil {
			return err
		}
		if err := wantStatus(res, 200); err != nil {
			return err
		}
		if err := isArray(res.Body, "posts"); err != nil {
			return err
		}
		if _, ok := res.Body["hasMore"].(bool); !ok {
			return fmt.Errorf("hasMore is not a boolean")
		}
		posts := res.Body["posts"].([]any)
		if len(posts) == 0 {
			return nil
		}
		p, _ := posts[0].(map[string]any)
		u, _ := p["userId"].(map[string]any)
		if u == nil || (u["profilePicture"] == nil && u["profilePhoto"] == nil) || u["_id"] == nil {
			return fmt.Errorf("posts[0].userId is not populated: %v", p["userId"])
		}
		for _, k := range []string{"_id", "content", "caption", "likes", "likesCount", "commentsCount", "isLiked", "mediaType"} {
			if _, ok := p[k]; !ok {
				return fmt.Errorf("posts[0] lacks %s", k)
			}
		}
		if _, ok := p["likes"].([]any); !ok {
			return fmt.Errorf("posts[0].likes is not an array")
		}
		return nil
	})
	r.check("reels routes are not shadowed by /api/posts/:id", func() error {
		for _, path := range []string{"/api/reels/feed?page=1&limit=1", "/api/posts/reels"} {
			res, err := authed.do(ctx, "GET", path, nil, nil)
			if err != nil {
				return err
			}
			if err := wantStatus(res, 200); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
			if err := isArray(res.Body, "reels"); err != nil {
				return fmt.Errorf("%s: %w", path, err)
			}
		}
		return nil
	})
	r.check("stories feed payload contract (groups and storyGroups)", func() error {
		res, err := authed.do(ctx, "GET", "/api/stories/feed", nil, nil)
		if err != nil {
			return err
		}
		if err := wantStatus(res, 200); err != nil {
			return err
		}
		if err := isArray(res.Body, "groups"); err != nil {
			return err
		}
		if err := isArray(res.Body, "storyGroups"); err != nil {
			return err
		}
		for _, g := range res.Body["groups"].([]any) {
			gm, _ := g.(map[string]any)
			u, _ := gm["user"].(map[string]any)
			if u == nil || u["_id"] == nil {
				return fmt.Errorf("group without user._id")
			}
			if _, ok := u["verified"]; !ok {
				return fmt.Errorf("group user lacks verified")
			}
			if _, ok := u["isVerified"]; !ok {
				return fmt.Errorf("group user lacks isVerified")
			}
			if _, ok := gm["hasUnviewed"].(bool); !ok {
				return fmt.Errorf("group lacks hasUnviewed")
			}
		}
		return nil
	})
	r.check("post create/validation contract", func() error {
		res, err := authed.do(ctx, "POST", "/api/posts", map[string]any{"content": "   "}, nil)
		if err != nil {
			return err
		}
		if err := wantStatus(res, 400); err != nil {
			return err
		}
		res, err = authed.do(ctx, "GET", "/api/posts/not-an-id", nil, nil)
		if err != nil {
			return err
		}
		return statusIn(res.Status, 400, 404)
	})
	r.check("feed (MS) payload contract", func() error {
		res, err := authed.do(ctx, "GET", "/api/feed?limit=1", nil, nil)
		if err != nil {
			return err
		}
		if err := wantStatus(res, 200); err != nil {
			return err
		}
		return isArray(res.Body, "posts")
	})
}

// postSmoke adds the story feed to the protected smoke checks.
func postSmoke(ctx context.Context, r *runner, authed *client) {
	r.check("protected stories feed", func() error {
		res, err := authed.do(ctx, "GET", "/api/stories/feed", nil, nil)
		if err != nil {
			return err
		}
		if err := wantStatus(res, 200); err != nil {
			return err
		}
		return isArray(res.Body, "groups")
	})
}
