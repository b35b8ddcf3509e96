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
	var stack *devstack.Stack
	if cfg.Dev() {
		if stack, err = devstack.Start(ctx, cfg, *wipe, log); err != nil {
			return err
		}
		defer stack.Close()
	}
	p, err := open(ctx, cfg, log, true)
	if err != nil {
		return err
	}
	defer p.close()
	p.local = httpx.NewLocal()
	var ls []listener
	defer func() {
		for _, l := range ls {
			_ = l.l.Close()
		}
	}()
	for _, name := range tierNames {
		port, err := listenPort(cfg, name)
		if err != nil {
			return err
		}
		host := "127.0.0.1"
		if name == "gateway" {
			host = cfg.ListenHost
		}
		l, err := listen(host, port)
		if err != nil {
			return fmt.Errorf("%s tier: %w (is another instance running?)", name, err)
		}
		h, err := build(name, p)
		if err != nil {
			return err
		}
		if name != "gateway" {
			u, _ := url.Parse(serviceURL(cfg, name)) // validated by config
			p.local.Register(u.Host, h)
		}
		ls = append(ls, listener{name: name, l: l, h: h})
	}
	banner(os.Stdout, ls, stack)
	return serve(ctx, p, ls)
}

// runTier runs one tier as its own deployable.
func runTier(ctx context.Context, name string) error {
	stop, err := cpuProfile(name)
	if err != nil {
		return err
	}
	defer stop()
	cfg, log, err := loadConfig()
	if err != nil {
		return err
	}
	p, err := open(ctx, cfg, log, name != "gateway")
	if err != nil {
		return err
	}
	defer p.close()
	port, err := listenPort(cfg, name)
	if err != nil {
		return err
	}
	l, err := listen(cfg.ListenHost, port)
	if err != nil {
		return err
	}
	h, err := build(name, p)
	if err != nil {
		return err
	}
	log.Info("listening", "tier", name, "addr", l.Addr().String())
	return serve(ctx, p, []listener{{name: name, l: l, h: h}})
}

// cpuProfile profiles the process until stop is called when the load
// harness sets INFLIQ_CPU_PROFILE_DIR, so each process's profile
// (DIR/<name>.pprof) covers a whole run.
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
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
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
