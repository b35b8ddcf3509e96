// Command infliq is the one binary of the INFLIQ backend. Each tier is a
// subcommand and its own deployable; `infliq all` runs every tier in one
// process over the same code paths. main only wires.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"runtime/debug"
	"strings"
	"syscall"
)

const usage = `infliq — the INFLIQ backend

Usage:
  infliq all [--wipe]     every tier in one process; embedded defaults in development
  infliq <tier>           one tier: gateway realtime auth user post feed chat call media admin
  infliq <tier>,<tier>…   several tiers co-located in one process, calling each other
                          in process (e.g. realtime,chat or gateway,post,feed)
  infliq migrate [up|status]
  infliq import-mongo --mongo-uri URI [--database infliq] [--dry-run] [--since TIME] [--batch N]
                          copy the legacy MongoDB into PostgreSQL (idempotent)
  infliq admin grant|revoke <phone|user-id> <admin|moderator>
                          give or take a moderation console role (DATABASE_URL)
  infliq admin list       list the role holders
  infliq smoke            smoke checks against a running gateway (SMOKE_BASE_URL)
  infliq contracts        contract checks against a running gateway (CONTRACT_BASE_URL)

Configuration comes from the environment; env.sample lists every variable.
`

func main() {
	gcDefaults()
	os.Exit(run(os.Args[1:]))
}

// gcDefaults sets GOGC to 200 unless the environment sets GOGC. The tiers
// keep a small live heap (tens of MB) and allocate per request, so the
// runtime default (100) collects several times a second under load;
// doubling it measured 17% less CPU per feed request for about 10 MB more
// RSS (BENCHMARKS.md).
func gcDefaults() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(200)
	}
}

func run(args []string) int {
	if len(args) == 0 {
		fmt.Fprint(os.Stderr, usage)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	cmd, rest := args[0], args[1:]
	var err error
	switch cmd {
	case "all":
		err = runAll(ctx, rest)
	case "migrate":
		err = runMigrate(ctx, rest)
	case "admin":
		if len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
			err = runAdminCLI(ctx, rest, os.Stdout)
			break
		}
		err = runTiers(ctx, []string{"admin"})
	case "import-mongo":
		err = runImportMongo(ctx, rest)
	case "smoke":
		return runChecks(ctx, "smoke")
	case "contracts":
		return runChecks(ctx, "contracts")
	case "help", "-h", "--help":
		fmt.Print(usage)
		return 0
	default:
		names, ok := parseTiers(cmd)
		if !ok {
			fmt.Fprintf(os.Stderr, "infliq: unknown command %q\n\n%s", cmd, usage)
			return 2
		}
		err = runTiers(ctx, names)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "infliq %s: %v\n", cmd, err)
		return 1
	}
	return 0
}
