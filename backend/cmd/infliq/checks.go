package main

import (
	"context"
	"os"

	"github.com/infliq/infliq/backend/checks"
)

// runChecks runs the smoke or contract checks and returns the exit code.
func runChecks(ctx context.Context, kind string) int {
	var failed int
	if kind == "smoke" {
		failed = checks.Smoke(ctx, checks.SmokeConfigFromEnv(), os.Stdout)
	} else {
		failed = checks.Contracts(ctx, checks.ContractConfigFromEnv(), os.Stdout)
	}
	if failed > 0 {
		return 1
	}
	return 0
}
