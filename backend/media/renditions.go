package media

import (
	"bytes"
	"context"
	"image"
	"image/jpeg"
	"io"
	"os/exec"
	"strings"
	"time"

	// Decoders for the display rendition.
	_ "image/gif"
	_ "image/png"

	"golang.org/x/image/draw"
	_ "golang.org/x/image/webp"
)

const (
	// DisplayMaxSide is the long side of the display rendition.
	DisplayMaxSide = 1200
	// maxDecodePixels bounds what we decode: 36 MP is ~108 MB as YCbCr
	// (JPEG) and ~144 MB as NRGBA (PNG); two decodes run at most at once.
	// Larger images keep their original and get no rendition.
	maxDecodePixels = 36_000_000
)

// renditionKey is `<key without extension><suffix>`.
func renditionKey(key, suffix string) string {
	if i := strings.LastIndexByte(key, '.'); i > strings.LastIndexByte(key, '/') {
		key = key[:i]
	}
	return key + suffix
}

// makeDisplay writes a JPEG q80 display rendition of the image at key when
// its long side exceeds DisplayMaxSide and returns its key; images that are
// already small keep their original (and their type): "" is returned.
// HEIC/HEIF have no Go decoder, so they get no rendition.
func (s *Service) makeDisplay(ctx context.Context, k Kind, key string, size int64) (string, error) {
	switch k.ContentType {
	case "image/jpeg", "image/png", "image/gif", "image/webp":
	default:
		return "", nil
	}
	select { // bounded: decoding is the only unbounded-memory step
	case s.decoders <- struct{}{}:
		defer func() { <-s.decoders }()
	case <-ctx.Done():
		return "", ctx.Err()
	}
	body, err := s.st.Open(ctx, key)
	if err != nil {
		return "", err
	}
	defer body.Close()
	raw, err := io.ReadAll(io.LimitReader(body, size+1))
	if err != nil {
		return "", err
	}
	cfg, _, err := image.DecodeConfig(bytes.NewReader(raw))
	if err != nil {
		return "", errBadImage
	}
	long := max(cfg.Width, cfg.Height)
	if long <= DisplayMaxSide || cfg.Width*cfg.Height > maxDecodePixels {
		return "", nil
	}
	src, _, err := image.Decode(bytes.NewReader(raw))
	if err != nil {
		return "", errBadImage
	}
	raw = nil
	w, h := cfg.Width*DisplayMaxSide/long, cfg.Height*DisplayMaxSide/long
	dst := image.NewRGBA(image.Rect(0, 0, max(w, 1), max(h, 1)))
	draw.ApproxBiLinear.Scale(dst, dst.Bounds(), src, src.Bounds(), draw.Src, nil)
	var out bytes.Buffer
	if err := jpeg.Encode(&out, dst, &jpeg.Options{Quality: 80}); err != nil {
		return "", err
	}
	dk := renditionKey(key, "_display.jpg")
	return dk, s.st.Put(ctx, dk, "image/jpeg", out.Bytes())
}

// makeThumbnail grabs a 640 px wide JPEG frame of the video at key with
// ffmpeg, reading it through a short-lived signed URL (no temp files). It
// is skipped ("" and no error) when ffmpeg is not on PATH.
func (s *Service) makeThumbnail(ctx context.Context, key string) (string, error) {
	if s.ffmpeg == "" {
		return "", nil
	}
	src, err := s.st.PresignGet(ctx, key, 5*time.Minute)
	if err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, s.ffmpeg, "-nostdin", "-loglevel", "error", "-ss", "1", "-i", src,
		"-frames:v", "1", "-vf", "scale='min(640,iw)':-2", "-f", "image2", "-c:v", "mjpeg", "pipe:1")
	var out bytes.Buffer
	cmd.Stdout = &limitedBuffer{b: &out, n: 5 << 20}
	if err := cmd.Run(); err != nil || out.Len() == 0 {
		// Very short clips have no frame at 1 s; that is not an upload failure.
		return "", nil
	}
	tk := renditionKey(key, "_thumb.jpg")
	return tk, s.st.Put(ctx, tk, "image/jpeg", out.Bytes())
}

type limitedBuffer struct {
	b *bytes.Buffer
	n int
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	if l.b.Len()+len(p) > l.n {
		return 0, io.ErrShortWrite
	}
	return l.b.Write(p)
}

// scrubStored rewrites a stored WebP or HEIC/HEIF without its metadata
// (JPEG and PNG are filtered while streaming) and returns the new size.
func (s *Service) scrubStored(ctx context.Context, k Kind, key string, size int64) (int64, error) {
	switch k.ContentType {
	case "image/webp", "image/heic", "image/heif":
	default:
		return size, nil
	}
	select {
	case s.decoders <- struct{}{}:
		defer func() { <-s.decoders }()
	case <-ctx.Done():
		return 0, ctx.Err()
	}
	body, err := s.st.Open(ctx, key)
	if err != nil {
		return 0, err
	}
	raw, err := io.ReadAll(io.LimitReader(body, size+1))
	body.Close()
	if err != nil {
		return 0, err
	}
	if k.ContentType != "image/webp" {
		changed, err := scrubHEIF(raw)
		if err != nil || !changed {
			return size, err
		}
		return size, s.st.Put(ctx, key, k.ContentType, raw)
	}
	clean, err := stripWebP(raw)
	if err != nil {
		return 0, err
	}
	if len(clean) == len(raw) {
		return size, nil
	}
	return int64(len(clean)), s.st.Put(ctx, key, k.ContentType, clean)
}
