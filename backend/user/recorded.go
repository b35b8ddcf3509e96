package user

import (
	"sync"
	"time"

	"github.com/infliq/infliq/backend/platform/id"
)

// recorded remembers, per viewer, the cell and time of the last position a
// nearby query of this process asked recordSQL to store, so the next
// queries skip the write while recordSQL would refuse it anyway (a move
// within recordMinGap, the same cell within recordRefresh). The UPDATE
// that finds nothing to write was most of a map query's extra cost. It is
// a hint only: another replica without the stamp sends the statement,
// whose own conditions still hold.
type recorded struct {
	mu    sync.Mutex
	last  map[id.ID]stamp
	swept time.Time
}

type stamp struct {
	lat, lng float64
	at       time.Time
}

// recordedCap bounds the map; past it, stamps older than recordRefresh go.
const recordedCap = 200_000

const (
	minGap  = time.Minute      // recordMinGap
	refresh = 10 * time.Minute // recordRefresh
)

// due reports whether a query at (lat, lng), already snapped, should send
// the record statement for viewer, and if so stamps it.
func (r *recorded) due(viewer id.ID, lat, lng float64, now time.Time) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.last == nil {
		r.last = map[id.ID]stamp{}
	}
	if st, ok := r.last[viewer]; ok {
		age := now.Sub(st.at)
		if age < minGap || (age < refresh && st.lat == lat && st.lng == lng) {
			return false
		}
	}
	if len(r.last) >= recordedCap && now.Sub(r.swept) > time.Second {
		r.swept = now
		for k, st := range r.last {
			if now.Sub(st.at) >= refresh {
				delete(r.last, k)
			}
		}
	}
	r.last[viewer] = stamp{lat, lng, now}
	return true
}

// forget drops viewer's stamp (their position or map setting changed
// elsewhere in this process).
func (r *recorded) forget(viewer id.ID) {
	r.mu.Lock()
	delete(r.last, viewer)
	r.mu.Unlock()
}
