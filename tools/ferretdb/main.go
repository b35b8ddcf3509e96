// Command ferretdb runs an embedded FerretDB (SQLite backend) on loopback for
// the importer's tests: a real Mongo-wire server without Docker. It lives in
// its own module so FerretDB's dependency tree stays out of the backend.
//
//	ferretdb -listen 127.0.0.1:0 -dir /tmp/x
//
// prints the mongodb:// URI on stdout once the listener is up and serves
// until SIGINT/SIGTERM or until stdin closes (the parent went away).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"runtime/pprof"
	"syscall"

	"github.com/FerretDB/FerretDB/ferretdb"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "TCP address to listen on")
	dir := flag.String("dir", "", "SQLite data directory (required)")
	cpuprofile := flag.String("cpuprofile", "", "write a CPU profile of the whole run to this file (benchmarks)")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "ferretdb: -dir is required")
		os.Exit(2)
	}
	abs, err := filepath.Abs(*dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(2)
	}
	if *cpuprofile != "" {
		pf, err := os.Create(*cpuprofile)
		if err != nil {
			fmt.Fprintln(os.Stderr, "ferretdb:", err)
			os.Exit(2)
		}
		if err := pprof.StartCPUProfile(pf); err != nil {
			fmt.Fprintln(os.Stderr, "ferretdb:", err)
			os.Exit(2)
		}
		defer func() { pprof.StopCPUProfile(); _ = pf.Close() }()
	}
	// The garbage collector took a large share of this process's CPU while
	// serving cursors (every document is decoded from SQLite's JSON into
	// short-lived values): collect less often, bounded by a memory limit.
	// The limit leaves room for a sorted find, which FerretDB answers by
	// holding the whole collection in memory. GOGC and GOMEMLIMIT in the
	// environment still win.
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(400)
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		debug.SetMemoryLimit(4 << 30)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() { // stdin EOF means the parent is gone
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: *listen},
		Logger:    slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
		Handler:   "sqlite",
		SQLiteURL: "file:" + abs + "/",
	})
	if err != nil {
		fmt.Fprintln(os.Stderr, "ferretdb:", err)
		os.Exit(1)
	}
	done := make(chan struct{})
	go func() { _ = f.Run(ctx); close(done) }()
	fmt.Println(f.MongoDBURI())
	<-done
}
