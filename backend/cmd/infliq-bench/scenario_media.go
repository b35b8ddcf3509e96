//go:build linux

package main

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"

	"github.com/infliq/infliq/backend/platform/id"
)

func init() {
	register(Scenario{
		Name:        "media.signed-url",
		Description: "GET /api/media/signed-url/:key (compat/rest → MediaService.GetSignedUrl → SigV4 presign), 256 users",
		Connections: 64,
		Prepare: func(ctx context.Context, env *Env) (func(uint64) Request, error) {
			type user struct {
				h    http.Header
				path string
			}
			users := make([]user, 256)
			for i := range users {
				uid := id.New()
				users[i] = user{
					h:    http.Header{"Authorization": {"Bearer " + env.Token(uid)}},
					path: "/api/media/signed-url/posts/" + uid.String() + "/" + id.New().String() + ".jpg?expires=600",
				}
			}
			return func(i uint64) Request {
				u := users[i%uint64(len(users))]
				return Request{Method: "GET", Path: u.path, Header: u.h}
			}, nil
		},
	})
	register(Scenario{
		Name:        "media.upload-small",
		Description: "POST /api/media/upload of a 64 KiB MP4 (streamed multipart → S3 PutObject, audit row, media_objects row)",
		Connections: 16,
		Prepare: func(ctx context.Context, env *Env) (func(uint64) Request, error) {
			var b bytes.Buffer
			mw := multipart.NewWriter(&b)
			w, err := mw.CreateFormFile("file", "clip.mp4")
			if err != nil {
				return nil, err
			}
			head := []byte{0, 0, 0, 0x20, 'f', 't', 'y', 'p', 'i', 's', 'o', 'm', 0, 0, 2, 0}
			_, _ = w.Write(append(head, make([]byte, 64<<10)...))
			_ = mw.Close()
			body, ct := b.Bytes(), mw.FormDataContentType()
			hs := make([]http.Header, 64)
			for i := range hs {
				hs[i] = http.Header{"Authorization": {"Bearer " + env.Token(id.New())}, "Content-Type": {ct}}
			}
			return func(i uint64) Request {
				return Request{Method: "POST", Path: "/api/media/upload", Header: hs[i%uint64(len(hs))], Body: body}
			}, nil
		},
	})
}
