package lakebase_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"go.opentelemetry.io/otel"
)

// A Provisioned instance, as a service principal (OAuth machine-to-machine).
// The credential is minted on the first connection, cached, and refreshed in
// the background before it expires.
func Example() {
	db, err := sql.Open("lakebase", "instance=my-db workspace=https://my-workspace.cloud.databricks.com auth=oauth-m2m")
	if err != nil {
		log.Fatal(err) // a malformed DSN is reported here, before anything is minted
	}
	defer db.Close()

	var user string
	if err := db.QueryRow("SELECT current_user").Scan(&user); err != nil {
		log.Fatal(err)
	}
	fmt.Println("connected as", user)
}

// Inside a Databricks App the environment names everything: DATABRICKS_HOST,
// DATABRICKS_CLIENT_ID, DATABRICKS_CLIENT_SECRET and the PG* variables of the
// app's database resource. The driver finds the instance or endpoint whose
// host is PGHOST.
func Example_databricksApp() {
	db, err := sql.Open("lakebase", "")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
}

// An Autoscaling endpoint as a person, with the Databricks CLI's login
// (databricks auth login --host ...).
func Example_autoscalingEndpoint() {
	db, err := sql.Open("lakebase",
		"endpoint=projects/shop/branches/main/endpoints/primary workspace=https://my-workspace.cloud.databricks.com auth=oauth-u2m")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
}

// A personal access token.
func Example_personalAccessToken() {
	db, err := sql.Open("lakebase", "instance=my-db workspace=https://my-workspace.cloud.databricks.com auth=pat token="+os.Getenv("MY_PAT"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
}

// A native Postgres role with a password, on the pooled host of an endpoint.
func Example_nativePassword() {
	db, err := sql.Open("lakebase",
		"endpoint=projects/shop/branches/main/endpoints/primary pooled=true auth=password user=app password="+os.Getenv("APP_PASSWORD"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
}

// A Config carries what a DSN cannot: here a logger that sees refreshes and
// failures (never a secret). sql.DB.Close closes the connector.
func ExampleNewConnector() {
	cfg, err := lakebase.ParseDSN("instance=my-db auth=oauth-m2m")
	if err != nil {
		log.Fatal(err)
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil))
	connector, err := lakebase.NewConnector(cfg)
	if err != nil {
		log.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()

	fmt.Printf("credentials minted so far: %d\n", connector.Stats().CredentialsMinted)
}

// A TokenSource of your own supplies the password of new connections.
// Tokens with an expiry are cached until shortly before it.
func ExampleTokenSourceFunc() {
	connector, err := lakebase.NewConnector(&lakebase.Config{
		Host: "instance-1234.database.cloud.databricks.com",
		User: "me@example.com",
		TokenSource: lakebase.TokenSourceFunc(func(ctx context.Context) (lakebase.Token, error) {
			return lakebase.Token{Value: "token from elsewhere", Expiry: time.Now().Add(time.Hour)}, nil
		}),
	})
	if err != nil {
		log.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
}

// A PostgreSQL client of one's own (here pgconn) logs in through the
// connector with Open: the connector gives each attempt its host, user,
// credential and TLS, and itself retries a refused credential once, waits
// for a waking target and follows a failover, judging each attempt by the
// error the client returns.
func ExampleConnector_Open() {
	cfg, err := lakebase.ParseDSN("instance=my-db auth=oauth-m2m")
	if err != nil {
		log.Fatal(err)
	}
	connector, err := lakebase.NewConnector(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer connector.Close()

	ctx := context.Background()
	var conn *pgconn.PgConn
	err = connector.Open(ctx, func(ctx context.Context, l lakebase.Login) error {
		pc, err := pgconn.ParseConfig("")
		if err != nil {
			return err
		}
		pc.Host, pc.Port, pc.User, pc.Database = l.Host, uint16(l.Port), l.User, l.Database
		pc.Password, pc.RuntimeParams = l.Credential.Value, l.RuntimeParams
		pc.TLSConfig, pc.Fallbacks = nil, nil // l.Dial runs the driver's TLS
		pc.DialFunc = l.Dial
		conn, err = pgconn.ConnectConfig(ctx, pc)
		return err // a *pgconn.PgError tells Open the server's SQLSTATE
	})
	if err != nil {
		log.Fatal(err)
	}
	defer conn.Close(ctx)
}

// ParseDSN reads both spellings; String never shows a secret.
func ExampleParseDSN() {
	cfg, err := lakebase.ParseDSN("lakebase://app:s3cret@db.example.com/shop?sslmode=verify-full")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg)
	fmt.Println(cfg.Host, cfg.DBName)
	// Output:
	// host=db.example.com user=app password=[redacted] dbname=shop sslmode=verify-full
	// db.example.com shop
}

// A credential scoped to Unity Catalog tables: sessions of this pool get
// read grants on the tables' Postgres counterparts (synced tables, say),
// which the service principal holds in Unity Catalog.
func Example_claims() {
	db, err := sql.Open("lakebase", "instance=my-db auth=oauth-m2m "+
		"claims=read_only:main.sales.orders,read_only:main.sales.items")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow("SELECT count(*) FROM sales.orders").Scan(&n); err != nil {
		log.Fatal(err)
	}
	fmt.Println(n, "orders")
}

// OpenTelemetry metrics and traces, off by default: give the connector the
// providers of the service's OpenTelemetry SDK (here the global ones, which
// GlobalTelemetry: true would pick as well). Each Connect is then a span
// with a child per step, and the credential cache reports mints, mint
// latency and the current credential's remaining lifetime. The metrics and
// what to alert on: docs/OBSERVABILITY.md.
func Example_openTelemetry() {
	cfg, err := lakebase.ParseDSN("instance=my-db workspace=https://my-workspace.cloud.databricks.com auth=oauth-m2m")
	if err != nil {
		log.Fatal(err)
	}
	cfg.MeterProvider = otel.GetMeterProvider()
	cfg.TracerProvider = otel.GetTracerProvider()
	connector, err := lakebase.NewConnector(cfg)
	if err != nil {
		log.Fatal(err)
	}
	db := sql.OpenDB(connector)
	defer db.Close()
}

// The pooled host of an endpoint, with a service principal: Lakebase's
// PgBouncer, in transaction mode, takes OAuth roles. pooled=true also has
// lib/pq send each query with arguments in one message, which transaction
// mode needs; a DSN that sets binary_parameters itself keeps its choice.
func Example_pooler() {
	cfg, err := lakebase.ParseDSN("endpoint=projects/shop/branches/main/endpoints/primary pooled=true auth=oauth-m2m")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(cfg.Pooled, cfg.Auth)

	// Instances have no pooled host.
	_, err = lakebase.ParseDSN("instance=my-db pooled=true")
	fmt.Println(err)
	// Output:
	// true oauth-m2m
	// lakebase: dsn: pooled: pooled hosts belong to Autoscaling endpoints; an instance has none
}

// A session that the server ended (a restart, a failover, an idle limit)
// inside a transaction: the error keeps the server's reason, and says
// whether the statement had been sent. (Outside a transaction a statement
// that was not sent never fails: database/sql runs it on another session.)
func ExampleSessionEndedError() {
	db, err := sql.Open("lakebase", "instance=my-db workspace=https://my-workspace.cloud.databricks.com auth=oauth-m2m")
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	tx, err := db.Begin()
	if err != nil {
		log.Fatal(err)
	}
	defer tx.Rollback()
	if _, err := tx.Exec("UPDATE accounts SET balance = balance - 10 WHERE id = 1"); err != nil {
		log.Fatal(err)
	}
	err = tx.Commit()
	var ended *lakebase.SessionEndedError
	switch {
	case err == nil:
	case errors.As(err, &ended) && !ended.Sent:
		// The server rolled the transaction back and never saw the COMMIT.
		log.Print("transaction lost, safe to run again: ", ended.Server.Code)
	case errors.As(err, &ended):
		log.Print("the COMMIT was sent: check whether it took effect: ", ended.Server.Code)
	default:
		log.Print(err)
	}
}

// A Databricks App with user authorization queries as each signed-in user,
// so that the database's grants and row-level security apply to them: the
// handler takes the pool of the request's user. Here the kit stands in for
// the workspace, the database and the Apps proxy, which forwards the user's
// token in X-Forwarded-Access-Token. Inside an App, lakebase.NewUsers(nil,
// lakebase.UsersOptions{}) takes the database from the environment.
func ExampleUsers_ForRequest() {
	kit, err := lakebasetest.Start(context.Background(), lakebasetest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer kit.Close()
	cfg, err := lakebase.ParseDSN(kit.DSNs().M2M) // the App's own login, for the lookups
	if err != nil {
		log.Fatal(err)
	}
	users, err := lakebase.NewUsers(cfg, lakebase.UsersOptions{ConnsPerUser: 3})
	if err != nil {
		log.Fatal(err)
	}
	defer users.Close() // every user's pool

	app := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		db, err := users.ForRequest(r)
		if err != nil {
			http.Error(w, err.Error(), http.StatusUnauthorized)
			return
		}
		var me string
		if err := db.QueryRowContext(r.Context(), "SELECT current_user").Scan(&me); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		fmt.Fprintln(w, "hello,", me)
	})
	proxy := httptest.NewServer(app)
	defer proxy.Close()

	token, err := kit.Workspace.ForwardedToken(kit.User.Email)
	if err != nil {
		log.Fatal(err)
	}
	for _, forwarded := range []string{token, ""} {
		req, err := http.NewRequest(http.MethodGet, proxy.URL, nil)
		if err != nil {
			log.Fatal(err)
		}
		if forwarded != "" {
			req.Header.Set(lakebase.HeaderForwardedAccessToken, forwarded)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			log.Fatal(err)
		}
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			log.Fatal(err)
		}
		fmt.Print(resp.StatusCode, " ", string(body))
	}
	// Output:
	// 200 hello, person@example.com
	// 401 lakebase: user: no user token: the request has no X-Forwarded-Access-Token header: turn on user authorization for the App, or set UsersOptions.FallbackToken for local development
}
