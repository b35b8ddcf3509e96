// Package media is the media tier: MediaService (S3 objects and the upload audit log).
package media

import (
	"context"

	"connectrpc.com/connect"

	mediav1 "github.com/infliq/infliq/backend/gen/infliq/media/v1"
	"github.com/infliq/infliq/backend/gen/infliq/media/v1/mediav1connect"
	"github.com/infliq/infliq/backend/platform/config"
	"github.com/infliq/infliq/backend/platform/tier"
)

// ContentTypes are the types accepted, sniffed from the bytes.
var ContentTypes = []string{
	"image/jpeg", "image/png", "image/gif", "image/webp", "image/heic", "image/heif",
	"video/mp4", "video/quicktime", "video/x-msvideo",
}

// Service implements mediav1connect.MediaServiceHandler.
type Service struct {
	policy *mediav1.GetUploadPolicyResponse
}

// NewTier assembles the media tier.
func NewTier(d tier.Deps, m config.Media) *tier.Tier {
	t := tier.New("media", d)
	s := &Service{policy: &mediav1.GetUploadPolicyResponse{
		AllowedFolders:      append([]string(nil), m.AllowedFolders...),
		AllowedContentTypes: ContentTypes,
		MaxFileSizeBytes:    m.MaxFileSize,
		MaxFilesPerUpload:   int32(m.MaxMultipleFiles),
	}}
	path, h := mediav1connect.NewMediaServiceHandler(s, t.ConnectOptions()...)
	t.Mount(path, h, mediav1connect.MediaServiceName, mediav1connect.MediaServiceGetUploadPolicyProcedure)
	return t
}

// GetUploadPolicy returns what an upload may contain.
func (s *Service) GetUploadPolicy(context.Context, *connect.Request[mediav1.GetUploadPolicyRequest]) (*connect.Response[mediav1.GetUploadPolicyResponse], error) {
	return connect.NewResponse(s.policy), nil
}
