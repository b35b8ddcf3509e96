package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/infliq/infliq/backend/importer"
	"github.com/infliq/infliq/backend/platform/db"
	"github.com/infliq/infliq/backend/platform/logx"
	"github.com/infliq/infliq/backend/platform/mediaurl"
)

// runImportMongo is `infliq import-mongo`: the offline legacy data import.
func runImportMongo(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("import-mongo", flag.ContinueOnError)
	uri := fs.String("mongo-uri", os.Getenv("MONGO_URI"), "legacy MongoDB URI (default $MONGO_URI)")
	database := fs.String("database", "infliq", "legacy database name")
	dry := fs.Bool("dry-run", false, "read, validate and report without writing")
	since := fs.String("since", "", "only documents created/changed at or after this time (RFC 3339 or 2006-01-02)")
	batch := fs.Int("batch", 1000, "documents per PostgreSQL transaction")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *uri == "" {
		return errors.New("--mongo-uri is required")
	}
	if *batch < 1 || *batch > 100000 {
		return errors.New("--batch must be between 1 and 100000")
	}
	var t time.Time
	if *since != "" {
		var err error
		if t, err = time.Parse(time.RFC3339, *since); err != nil {
			if t, err = time.Parse(time.DateOnly, *since); err != nil {
				return fmt.Errorf("--since: %q is neither RFC 3339 nor YYYY-MM-DD", *since)
			}
		}
	}
	cfg, log, err := loadConfig()
	if err != nil {
		return err
	}
	// On a terminal each collection gets a bar and log lines print above
	// the bars; otherwise progress is periodic log lines.
	var progress importer.Progress
	if fi, _ := os.Stderr.Stat(); fi != nil && fi.Mode()&os.ModeCharDevice != 0 {
		bars := importer.NewBars(os.Stderr)
		defer bars.Wait()
		format := cfg.LogFormat
		if format == "auto" { // the bars are a terminal, though not an *os.File
			format = "text"
		}
		log = logx.New(bars, logx.Options{Level: cfg.LogLevel, Format: format})
		progress = bars
	} else {
		progress = importer.NewProgress(os.Stderr, false, log)
	}
	mdb, closeMongo, err := importer.Open(ctx, *uri, *database)
	if err != nil {
		return err
	}
	defer closeMongo()
	o := importer.Options{Mongo: mdb, Media: mediaurl.New(cfg.S3), Since: t, Batch: *batch, DryRun: *dry, Log: log,
		Progress: progress, RingTimeout: time.Duration(cfg.Calls.RingTimeoutSeconds) * time.Second}
	if !*dry {
		if cfg.DatabaseURL == "" {
			return errors.New("DATABASE_URL is required")
		}
		// Sized from the work: the lock's connection and every writer of
		// the collections imported at once.
		pool, err := db.Open(ctx, cfg.DatabaseURL, importer.PoolSize(o.Parallel))
		if err != nil {
			return err
		}
		defer pool.Close()
		if err := db.Migrate(ctx, pool, log); err != nil {
			return err
		}
		o.DB = pool
	}
	sum, err := importer.Run(ctx, o)
	if b, ok := progress.(*importer.Bars); ok {
		b.Wait() // the bars end before the table
	}
	if sum != nil {
		sum.WriteTable(os.Stdout)
	}
	return err
}
