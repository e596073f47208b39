// Command ferretdb-local runs FerretDB (MongoDB wire protocol over an embedded
// SQLite backend, or over a PostgreSQL server with -postgresql-url) for the project's
// local stack. It exists because the upstream
// `cmd/ferretdb` binary needs generated build metadata that `go install` does
// not produce; the embeddable package has no such need.
package main

import (
	"context"
	"database/sql"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // CPU and goroutine profiles on -debug-addr, for the benchmark
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	_ "modernc.org/sqlite" // the driver FerretDB's SQLite backend uses
)

// idExpression is how FerretDB 1.24's SQLite backend writes a lookup by _id
// (`WHERE _ferretdb_sjson->'$._id' = ?`). The unique index it creates for _id is on
// `_ferretdb_sjson->"_id"`, an expression SQLite does not consider the same, so every
// lookup by _id scans the table (docs/decisions/0003). keepIDIndexes adds, to every
// collection table, an index on the expression the lookups use.
const idExpression = `_ferretdb_sjson->'$._id'`

func main() {
	listen := flag.String("listen-addr", "127.0.0.1:27017", "TCP address to accept MongoDB wire-protocol clients on")
	dataDir := flag.String("data-dir", "data/ferretdb", "directory holding the SQLite database files")
	logLevel := flag.String("log-level", "warn", "log level: debug, info, warn or error")
	debugAddr := flag.String("debug-addr", os.Getenv("FERRETDB_LOCAL_DEBUG_ADDR"),
		"TCP address serving Go's /debug/pprof profiles (empty: none)")
	postgresURL := flag.String("postgresql-url", "",
		"store documents in this PostgreSQL database instead of SQLite files "+
			"(e.g. postgres://postgres@127.0.0.1:5432/ferretdb)")
	flag.Parse()

	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		log.Fatalf("log level: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))

	abs, err := filepath.Abs(*dataDir)
	if err != nil {
		log.Fatalf("data dir: %v", err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		log.Fatalf("data dir: %v", err)
	}

	config := &ferretdb.Config{
		Listener: ferretdb.ListenerConfig{TCP: *listen},
		Logger:   logger,
		Handler:  "sqlite",
		// synchronous(NORMAL): in WAL mode a commit is written to the log but not synced
		// to disk; it survives a crash of any process (the page cache holds it), not a
		// power loss, the same promise as the local single Kafka broker. FULL (SQLite's
		// default) syncs every commit, under the one write lock of a database file.
		SQLiteURL: "file:" + abs + "/?_pragma=synchronous(NORMAL)",
	}
	if *postgresURL != "" {
		config.Handler, config.PostgreSQLURL, config.SQLiteURL = "postgresql", *postgresURL, ""
	}
	f, err := ferretdb.New(config)
	if err != nil {
		log.Fatalf("ferretdb: %v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	if config.Handler == "sqlite" {
		go keepIDIndexes(ctx, abs, logger)
	}

	if *debugAddr != "" {
		go func() {
			if err := http.ListenAndServe(*debugAddr, nil); err != nil {
				logger.Warn("ferretdb-local: debug listener stopped", "error", err)
			}
		}()
	}

	fmt.Fprintf(os.Stderr, "ferretdb-local listening on %s, data in %s\n", *listen, abs)
	if err := f.Run(ctx); err != nil && ctx.Err() == nil {
		log.Fatalf("ferretdb: %v", err)
	}
}

// keepIDIndexes gives every collection table of every database file in dir an index on
// idExpression, checking every two seconds for tables created since. It only reads the
// schema unless an index is missing; FerretDB's connections wait (busy_timeout) for the
// moment an index is being created.
func keepIDIndexes(ctx context.Context, dir string, logger *slog.Logger) {
	ticker := time.NewTicker(2 * time.Second)
	defer ticker.Stop()
	for {
		files, _ := filepath.Glob(filepath.Join(dir, "*.sqlite"))
		for _, file := range files {
			if err := indexFile(ctx, file); err != nil && ctx.Err() == nil {
				logger.Warn("ferretdb-local: indexing _id lookups failed", "file", file, "error", err)
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-ticker.C:
		}
	}
}

func indexFile(ctx context.Context, file string) error {
	db, err := sql.Open("sqlite", "file:"+file+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(wal)")
	if err != nil {
		return err
	}
	defer db.Close()

	rows, err := db.QueryContext(ctx, `SELECT t.name FROM sqlite_master t
		WHERE t.type = 'table' AND t.name NOT LIKE '\_%' ESCAPE '\'
		AND NOT EXISTS (SELECT 1 FROM sqlite_master i WHERE i.type = 'index' AND i.name = t.name || '_pakn_id_path')`)
	if err != nil {
		return err
	}
	var tables []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			rows.Close()
			return err
		}
		tables = append(tables, name)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}

	for _, table := range tables {
		quoted := `"` + strings.ReplaceAll(table, `"`, `""`) + `"`
		index := `"` + strings.ReplaceAll(table+"_pakn_id_path", `"`, `""`) + `"`
		q := fmt.Sprintf("CREATE INDEX IF NOT EXISTS %s ON %s (%s)", index, quoted, idExpression)
		if _, err := db.ExecContext(ctx, q); err != nil {
			return err
		}
	}
	return nil
}
