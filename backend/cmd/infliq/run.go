package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"text/tabwriter"

	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/httpx"
	"github.com/infliq/infliq/devstack"
)

// runAll runs every tier in one process. In development, missing
// dependencies are replaced by the embedded defaults.
func runAll(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("all", flag.ContinueOnError)
	wipe := fs.Bool("wipe", false, "delete the embedded stack's data before starting")
	if err := fs.Parse(args); err != nil {
		return err
	}
	stopProfile, err := cpuProfile("all")
	if err != nil {
		return err
	}
	defer stopProfile()
	cfg, log, err := loadConfig()
	if err != nil {
		return err
	}
	if cfg.InternalToken == "" {
		// Every tier of this process shares a token nobody else knows.
		cfg.InternalToken = devstack.RandomToken()
	}
	var stack *devstack.Stack
	if cfg.Dev() {
		if stack, err = devstack.Start(ctx, cfg, *wipe, log); err != nil {
			return err
		}
		defer stack.Close()
	}
	p, err := open(ctx, cfg, log, true, "infliq")
	if err != nil {
		return err
	}
	defer p.close()
	ls, err := startTiers(p, tierNames, func(name string) string {
		if name == "gateway" {
			return cfg.ListenHost
		}
		return "127.0.0.1" // internal tiers stay on loopback in development
	})
	if err != nil {
		return err
	}
	ls = append(ls, listenInternal(p, tierNames)...)
	banner(os.Stdout, ls, stack)
	return serve(ctx, p, ls)
}

// runTiers runs one tier, or several co-located in one process
// (`infliq realtime,chat`), as one deployable.
func runTiers(ctx context.Context, names []string) error {
	stop, err := cpuProfile(strings.Join(names, "+"))
	if err != nil {
		return err
	}
	defer stop()
	cfg, log, err := loadConfig()
	if err != nil {
		return err
	}
	if cfg.InternalToken == "" {
		// Split dev tiers (separate processes) share one generated token
		// through the dev data dir; production refuses to start without one.
		if cfg.InternalToken, err = devstack.SharedToken(cfg.DevDataDir); err != nil {
			return err
		}
		log.Info("INTERNAL_API_TOKEN unset: using the token shared in the dev data dir", "dir", cfg.DevDataDir)
	}
	withDB := false
	for _, n := range names {
		withDB = withDB || n != "gateway"
	}
	p, err := open(ctx, cfg, log, withDB, "infliq-"+strings.Join(names, "+"))
	if err != nil {
		return err
	}
	defer p.close()
	ls, err := startTiers(p, names, func(string) string { return cfg.ListenHost })
	if err != nil {
		return err
	}
	ls = append(ls, listenInternal(p, names)...)
	for _, l := range ls {
		log.Info("listening", "tier", l.name, "addr", l.l.Addr().String())
	}
	return serve(ctx, p, ls)
}

// startTiers binds and builds the named tiers. When there are several, the
// tiers of this process reach each other in process (p.local); the others
// are reached at their service URLs.
func startTiers(p *platform, names []string, host func(name string) string) (ls []listener, err error) {
	defer func() {
		if err != nil {
			for _, l := range ls {
				_ = l.l.Close()
			}
		}
	}()
	if len(names) > 1 {
		p.local = httpx.NewLocal()
	}
	for _, name := range names {
		port, err := listenPort(p.cfg, name)
		if err != nil {
			return ls, err
		}
		l, err := listen(host(name), port)
		if err != nil {
			return ls, fmt.Errorf("%s tier: %w (is another instance running?)", name, err)
		}
		ls = append(ls, listener{name: name, l: l})
		h, err := build(name, p)
		if err != nil {
			return ls, err
		}
		ls[len(ls)-1].h = h
		if p.local != nil && name != "gateway" {
			u, _ := url.Parse(serviceURL(p.cfg, name)) // validated by config
			p.local.Register(u.Host, h)
		}
	}
	return ls, nil
}

// cpuProfile profiles the process until stop is called when the load
// harness sets INFLIQ_CPU_PROFILE_DIR, so each process's profile
// (DIR/<name>.pprof) covers a whole run. The allocation profile of the
// whole run is written beside it on stop (DIR/<name>.allocs.pprof).
func cpuProfile(name string) (stop func(), err error) {
	dir := os.Getenv("INFLIQ_CPU_PROFILE_DIR")
	if dir == "" {
		return func() {}, nil
	}
	f, err := os.Create(filepath.Join(dir, name+".pprof"))
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
		if a, err := os.Create(filepath.Join(dir, name+".allocs.pprof")); err == nil {
			_ = pprof.Lookup("allocs").WriteTo(a, 0)
			a.Close()
		}
	}, nil
}

// runMigrate applies or lists migrations.
func runMigrate(ctx context.Context, args []string) error {
	cfg, log, err := loadConfig()
	if err != nil {
		return err
	}
	if cfg.DatabaseURL == "" {
		return fmt.Errorf("DATABASE_URL is required")
	}
	pool, err := db.Open(ctx, cfg.DatabaseURL, 2)
	if err != nil {
		return err
	}
	defer pool.Close()
	sub := "up"
	if len(args) > 0 {
		sub = args[0]
	}
	switch sub {
	case "up":
		return db.Migrate(ctx, pool, log)
	case "status":
		st, err := db.Status(ctx, pool)
		if err != nil {
			return err
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "VERSION\tSTATE\tFILE")
		for _, s := range st {
			fmt.Fprintf(w, "%d\t%s\t%s\n", s.Source.Version, s.State, s.Source.Path)
		}
		return w.Flush()
	default:
		return fmt.Errorf("migrate: unknown subcommand %q (up|status)", sub)
	}
}

// banner prints one table of what listens where.
func banner(out io.Writer, ls []listener, stack *devstack.Stack) {
	w := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "\nINFLIQ backend is up")
	fmt.Fprintln(w, "TIER\tADDRESS\tNOTE")
	for _, l := range ls {
		note := ""
		switch l.name {
		case "gateway":
			note = "public entry: Connect, gRPC, gRPC-Web, JSON, legacy /api/*, /socket.io"
		case "realtime":
			note = "connection tier"
		case "internal":
			note = "/metrics and detailed /health (not public)"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\n", l.name, l.l.Addr().String(), note)
	}
	if stack != nil {
		for _, c := range stack.Used {
			fmt.Fprintf(w, "%s\t%s\t%s\n", c.Name, c.Address, c.Note)
		}
	}
	fmt.Fprintln(w, strings.Repeat("-", 20))
	_ = w.Flush()
}
