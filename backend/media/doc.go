// Package media is the media tier: MediaService (S3 objects and the upload
// audit log), the legacy streamed multipart upload, the media proxy and the
// legacy /uploads/ files.
//
// Decisions (legacy contract §E, §G):
//
//   - Objects are private (no ACL). Clients get stable URLs from
//     mediaurl.Resolver: the CDN when CLOUDFRONT_DOMAIN is set, otherwise
//     <PUBLIC_BASE_URL>/api/media/proxy/<key>, which checks the key is ours
//     (key shape or a media_objects row) and 302s to a 15-minute signed GET.
//     Those URLs never expire, so the "≥ 7 days" rule holds.
//   - Keys are server-chosen: <folder>/<userId>/<objectId>.<ext>. The
//     extension and the stored Content-Type come from the sniffed bytes,
//     never from the declaration (B17, B18). Images and videos may not be
//     swapped; within a family the app's mislabels (HEIC as image/jpeg, MOV
//     as video/mp4) are accepted and stored as what they are.
//   - Legacy uploads stream: multipart part → metadata filter → S3 multipart
//     parts of 5 MiB from a process-wide pool of 12 buffers. MAX_FILE_SIZE is
//     enforced on the incoming bytes; exceeding it aborts the multipart
//     upload (413). The per-user rate limit runs before the body is read; a
//     body slower than ~35 KB/s is cut.
//   - Metadata: JPEG (EXIF except orientation, XMP, IPTC, comments) and PNG
//     (eXIf, text chunks) are filtered while streaming, and bytes after the
//     image's end are dropped; WebP chunks and HEIC/HEIF Exif/XMP items are
//     removed/blanked after upload. GIF has none.
//   - Display rendition: images whose long side exceeds 1200 px get a JPEG
//     q80 copy (<key>_display.jpg) and the legacy `url` points at it; smaller
//     images keep their original. HEIC/HEIF get none (no Go decoder).
//     Videos get <key>_thumb.jpg when ffmpeg is on PATH; otherwise
//     thumbnailUrl is null.
//   - CreateUpload signs a POST policy (key, Content-Type, size range,
//     expiry); CompleteUpload then sniffs, filters, renders and records.
//   - Every upload attempt is audited (success, rejected, error) with the
//     gateway's client IP, masked on read; RunRetention deletes expired rows.
package media
