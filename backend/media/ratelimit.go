package media

import (
	"context"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// uploadLimiter is the per-user fixed-window upload limit shared by every
// media replica: key `<prefix>:<userId>:<window index>`, as the legacy
// service kept it.
type uploadLimiter struct {
	rdb    redis.UniversalClient
	prefix string
	window time.Duration
	max    int64
}

var incrExpire = redis.NewScript(`
local n = redis.call('INCR', KEYS[1])
if n == 1 then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n`)

// allow counts one upload for uid and reports whether it is within the
// limit, and when the window resets.
func (l *uploadLimiter) allow(ctx context.Context, uid string, now time.Time) (bool, time.Duration, error) {
	w := l.window.Milliseconds()
	if w <= 0 {
		w = 60000
	}
	bucket := now.UnixMilli() / w
	key := l.prefix + ":" + uid + ":" + strconv.FormatInt(bucket, 10)
	n, err := incrExpire.Run(ctx, l.rdb, []string{key}, w).Int64()
	if err != nil {
		return false, 0, err
	}
	reset := time.Duration((bucket+1)*w-now.UnixMilli()) * time.Millisecond
	return n <= l.max, reset, nil
}
