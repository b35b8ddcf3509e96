// Package migrations embeds the one ordered set of SQL migrations.
//
// Files are named NNNNN_<owner>_<what>.sql. Each owning service takes its own
// version range so parallel work never collides: foundation 00001–00999,
// auth 01001+, user 02001+, post 03001+, feed 04001+, chat 05001+, call 06001+,
// media 07001+, realtime 08001+. Out-of-order application is allowed, so a
// range may grow after a later range has been applied.
package migrations

import "embed"

//go:embed *.sql
var FS embed.FS
