package integration_test

import (
	"context"
	"fmt"
	"log"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lakebase-go/lakebase"
)

// lakebasePoolConfig returns a pgx pool configuration that logs in like the
// lakebase driver: to the connector's host, as its user, into its database,
// with a credential from its cache (minted when needed and refreshed before
// it expires) for every new connection. A login the server refuses for its
// credential (revoked early) tells the connector, which drops it: that
// connection fails, and the next one gets a new credential. A login accepted
// tells it too, so that it knows the refusal for a revocation. sslParams are
// pgx's TLS settings, "sslmode=require" on Lakebase.
func lakebasePoolConfig(ctx context.Context, connector *lakebase.Connector, sslParams string) (*pgxpool.Config, error) {
	host, port, err := connector.Host(ctx)
	if err != nil {
		return nil, err
	}
	user, err := connector.User(ctx)
	if err != nil {
		return nil, err
	}
	cfg, err := pgxpool.ParseConfig(fmt.Sprintf("host=%s port=%d user=%s dbname=%s %s",
		host, port, quotePGX(user), quotePGX(connector.DBName()), sslParams))
	if err != nil {
		return nil, err
	}
	cfg.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
		token, err := connector.Credential(ctx)
		if err != nil {
			return err
		}
		cc.Password = token.Value
		// A login refused for its credential (revoked early) drops it from
		// the connector's cache; pgx's own handler still closes on FATAL.
		onPgError := cc.OnPgError
		cc.OnPgError = func(pc *pgconn.PgConn, pgErr *pgconn.PgError) bool {
			if pgErr.Code == "28P01" || pgErr.Code == "28000" {
				connector.Rejected(token)
			}
			return onPgError == nil || onPgError(pc, pgErr)
		}
		// A login accepted tells the connector that the credential works, so
		// that a later refusal is taken for a revocation.
		afterConnect := cc.AfterConnect
		cc.AfterConnect = func(ctx context.Context, pc *pgconn.PgConn) error {
			connector.Accepted(token)
			if afterConnect != nil {
				return afterConnect(ctx, pc)
			}
			return nil
		}
		return nil
	}
	return cfg, nil
}

// quotePGX quotes a value for pgx's key/value connection string.
func quotePGX(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// Teams on pgx keep their pool and take only the credentials from the
// lakebase driver.
func Example_pgxpool() {
	ctx := context.Background()
	cfg, err := lakebase.ParseDSN("instance=my-db workspace=https://my-workspace.cloud.databricks.com auth=oauth-m2m")
	if err != nil {
		log.Fatal(err)
	}
	connector, err := lakebase.NewConnector(cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer connector.Close()

	poolCfg, err := lakebasePoolConfig(ctx, connector, "sslmode=require")
	if err != nil {
		log.Fatal(err)
	}
	poolCfg.MaxConnIdleTime = 30 * time.Minute // Lakebase closes idle sessions after 24 h
	poolCfg.MaxConnLifetime = 24 * time.Hour   // and any session after 3 days
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		log.Fatal(err)
	}
	defer pool.Close()

	var user string
	if err := pool.QueryRow(ctx, "SELECT current_user").Scan(&user); err != nil {
		log.Fatal(err)
	}
	fmt.Println("connected as", user)
}
