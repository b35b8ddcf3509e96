package media

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/backend/platform/tier/tiertest"
)

// heapSampler records the peak heap in use while it runs.
type heapSampler struct {
	peak atomic.Uint64
	stop chan struct{}
	done sync.WaitGroup
}

func sampleHeap() *heapSampler {
	h := &heapSampler{stop: make(chan struct{})}
	h.done.Add(1)
	go func() {
		defer h.done.Done()
		var ms runtime.MemStats
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > h.peak.Load() {
				h.peak.Store(ms.HeapInuse)
			}
			select {
			case <-h.stop:
				return
			case <-t.C:
			}
		}
	}()
	return h
}

func (h *heapSampler) Stop() uint64 { close(h.stop); h.done.Wait(); return h.peak.Load() }

// TestStreamed200MBUploadFlatMemory streams a 200 MB video through the
// legacy route: the heap never grows by more than a few part buffers.
func TestStreamed200MBUploadFlatMemory(t *testing.T) {
	sink, s3cfg := newSink(t)
	e := newEnv(t, func(m *configMedia, s *configS3) { m.MaxFileSize = 256 << 20; *s = s3cfg })
	const size = 200 << 20
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	base := ms.HeapInuse
	h := sampleHeap()
	body, ct := streamingForm("file", "long.mp4", "video/mp4", newVideoStream(size))
	status, m := e.legacyUpload("/api/media/upload", id.New(), body, ct)
	peak := h.Stop()
	if status != 200 {
		t.Fatalf("upload: %d %v", status, m)
	}
	if got := sink.received.Load(); got != size+int64(len(mp4Header("isom"))) {
		t.Fatalf("S3 received %d bytes", got)
	}
	if sink.completed.Load() != 1 {
		t.Fatal("multipart upload not completed")
	}
	growth := int64(peak) - int64(base)
	t.Logf("heap: base %d MiB, peak %d MiB, growth %d MiB for a %d MiB upload", base>>20, peak>>20, growth>>20, size>>20)
	// One part buffer (5 MiB) plus the SDK's and HTTP stack's own buffers;
	// a buffered upload would grow by 200 MiB.
	if growth > 40<<20 {
		t.Fatalf("heap grew by %d MiB: the upload is not streamed", growth>>20)
	}
}

// TestSlowUploadIsCut: a body that stops arriving is cut by the read
// deadline instead of holding a part buffer, and nothing is stored.
func TestSlowUploadIsCut(t *testing.T) {
	e := newEnv(t)
	e.svc.minRateWindow = 300 * time.Millisecond
	srv := httptest.NewServer(e.svc.uploadHandler(false))
	t.Cleanup(srv.Close)
	pr, pw := io.Pipe()
	body, ct := streamingForm("file", "slow.mp4", "video/mp4", io.MultiReader(bytes.NewReader(mp4Header("isom")), pr))
	req, _ := http.NewRequest(http.MethodPost, srv.URL, body)
	req.Header.Set("Content-Type", ct)
	req.Header.Set("Authorization", "Bearer "+tiertest.Token(t, id.New()))
	done := make(chan struct{})
	go func() {
		defer close(done)
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
			if res.StatusCode == 200 {
				t.Error("stalled upload succeeded")
			}
		}
	}()
	<-done // the server gave up on its own: the writer never finished
	pw.Close()
	if keys := e.objects(); len(keys) != 0 {
		t.Fatalf("objects left: %v", keys)
	}
}
