package lakebasepgx_test

import (
	"context"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasepgx"
)

// A pgx pool from the driver's DSN: credentials are minted, cached and
// refreshed by the pool's connector, and pool_ keys size the pool.
func ExampleNewPool() {
	ctx := context.Background()
	pool, err := lakebasepgx.NewPool(ctx, "instance=my-db workspace=https://my-workspace.cloud.databricks.com auth=oauth-m2m pool_max_conns=16")
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close() // closes the connector too

	var user string
	if err := pool.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil {
		log.Fatal(err)
	}
	fmt.Println("connected as", user)
}

// A pool from a Config that carries what a DSN cannot (here a logger), with
// pgx's pool settings.
func ExampleNewPoolWithConfig() {
	ctx := context.Background()
	cfg, err := lakebase.ParseDSN("endpoint=projects/shop/branches/main/endpoints/primary auth=oauth-m2m")
	if err != nil {
		log.Fatal(err)
	}
	cfg.Logger = slog.Default()
	poolCfg, err := pgxpool.ParseConfig("pool_max_conns=32")
	if err != nil {
		log.Fatal(err)
	}
	poolCfg.MaxConnIdleTime = 30 * time.Minute // Lakebase closes idle sessions after 24 h
	pool, err := lakebasepgx.NewPoolWithConfig(ctx, cfg, poolCfg)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
}

// An application that already builds its pgxpool.Config keeps it, and its
// hooks, and takes the logins from a connector it keeps.
func ExampleConfigure() {
	ctx := context.Background()
	cfg, err := lakebase.ParseDSN("instance=my-db auth=oauth-m2m")
	if err != nil {
		log.Fatal(err)
	}
	connector, err := lakebase.NewConnector(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer connector.Close() // after the pool

	poolCfg, err := pgxpool.ParseConfig("pool_max_conns=8 search_path=app")
	if err != nil {
		log.Fatal(err)
	}
	if err := lakebasepgx.Configure(poolCfg, connector); err != nil {
		log.Fatal(err)
	}
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()
}

// A Databricks App with user authorization queries as each signed-in user
// through a pgx pool of theirs: the Apps proxy forwards the user's token,
// with which the user's credentials are minted.
func ExampleNewUsers() {
	users, err := lakebasepgx.NewUsers(nil, lakebase.UsersOptions{}) // inside an App: the environment names the database
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close()
	http.HandleFunc("/orders", func(w http.ResponseWriter, r *http.Request) {
		pool, err := users.ForRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var n int
		if err := pool.QueryRow(r.Context(), "SELECT count(*) FROM orders").Scan(&n); err != nil { // row-level security counts the user's own
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, n, "orders")
	})
	log.Fatal(http.ListenAndServe(":"+os.Getenv("DATABRICKS_APP_PORT"), nil))
}
