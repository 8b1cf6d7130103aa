package main

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"github.com/lakebase-go/lakebase/lakebasetest/pgserver"
	"github.com/lib/pq"
)

// Env is one test kit and the connectors the cases compare, all aimed at the
// kit's one PostgreSQL server. Start it once; every case shares it.
type Env struct {
	// Kit is the test kit: the server, the fake workspace and the gateways.
	Kit *lakebasetest.Kit

	mintLatency time.Duration

	// Straight to the server as the kit's native role, over TLS.
	direct   directTarget
	pqDirect *pq.Connector       // a fixed password
	lbDirect *lakebase.Connector // a TokenSource returning that password
	// Through the default instance's gateway as the kit's service principal.
	gateway *lakebase.Connector // oauth-m2m, its credential warm
	pqGate  *pq.Connector       // lib/pq with the credential gateway holds
}

// directTarget is where the direct connectors log in.
type directTarget struct {
	host     string
	port     int
	user     string
	password string
	ca       string
}

// dsn is a key/value DSN for lib/pq and pgx, with TLS verified against the
// kit's CA as the kit's own DSNs do.
func (d directTarget) dsn() string {
	return keyValueDSN(d.host, d.port, d.user, d.password, d.ca)
}

// keyValueDSN writes a libpq key/value DSN that lib/pq and pgx both read.
func keyValueDSN(host string, port int, user, password, ca string) string {
	return fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=verify-full sslrootcert=%s",
		quote(host), port, quote(user), quote(password), pgserver.DefaultDatabase, quote(ca))
}

// quote quotes a value for a key/value DSN.
func quote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// StartEnv starts a kit whose workspace takes mintLatency to mint, with room
// for a storm of stormSize connections, and prepares the connectors. Close
// it when done.
func StartEnv(ctx context.Context, mintLatency time.Duration, stormSize int) (*Env, error) {
	kit, err := lakebasetest.Start(ctx, lakebasetest.Options{
		// Every storm connection is a server session for a moment, and the
		// server's listen backlog is twice max_connections.
		Postgres:    pgserver.Options{MaxConnections: stormSize + 200},
		MintLatency: mintLatency,
	})
	if err != nil {
		return nil, err
	}
	e := &Env{Kit: kit, mintLatency: mintLatency}
	if err := e.prepare(ctx); err != nil {
		return nil, errors.Join(err, e.Close())
	}
	return e, nil
}

// prepare builds the connectors, warms the gateway connector's credential and
// creates the table the scan reads.
func (e *Env) prepare(ctx context.Context) error {
	k := e.Kit
	e.direct = directTarget{host: k.Postgres.Host(), port: k.Postgres.Port(), user: k.NativeRole, password: k.NativePassword, ca: k.Postgres.CAFile()}
	var err error
	if e.pqDirect, err = pq.NewConnector(e.direct.dsn()); err != nil {
		return fmt.Errorf("bench: lib/pq connector: %w", err)
	}
	if e.lbDirect, err = e.directConnector(); err != nil {
		return err
	}
	if e.gateway, err = e.m2mConnector(0, 0); err != nil {
		return err
	}
	// One connection warms every cache: the SDK's login, the host, the
	// identity and the credential.
	if err := connectOnce(ctx, e.gateway); err != nil {
		return fmt.Errorf("bench: warm the gateway connector: %w", err)
	}
	if e.pqGate, err = e.gatewayPQ(ctx, e.gateway); err != nil {
		return err
	}
	return e.createScanTable(ctx)
}

// directConnector returns a new lakebase connector of directConfig.
func (e *Env) directConnector() (*lakebase.Connector, error) {
	cfg := e.directConfig()
	c, err := lakebase.NewConnector(&cfg)
	if err != nil {
		return nil, fmt.Errorf("bench: lakebase connector: %w", err)
	}
	return c, nil
}

// directConfig logs in straight to the server as the native role, with a
// TokenSource that returns the role's password.
func (e *Env) directConfig() lakebase.Config {
	password := e.direct.password
	return lakebase.Config{
		Host: e.direct.host, Port: e.direct.port, User: e.direct.user,
		DBName: pgserver.DefaultDatabase, SSLMode: "verify-full",
		Params: map[string]string{"sslrootcert": e.direct.ca},
		TokenSource: lakebase.TokenSourceFunc(func(context.Context) (lakebase.Token, error) {
			return lakebase.Token{Value: password, Expiry: time.Now().Add(time.Hour)}, nil
		}),
	}
}

// m2mConnector returns a new, cold connector of the kit's oauth-m2m DSN,
// through the default instance's gateway, with the given refresh window and
// safety margin (zero: the driver's defaults).
func (e *Env) m2mConnector(window, margin time.Duration) (*lakebase.Connector, error) {
	cfg, err := lakebase.ParseDSN(e.Kit.DSNs().M2M)
	if err != nil {
		return nil, fmt.Errorf("bench: the kit's DSN: %w", err)
	}
	cfg.RefreshWindow, cfg.SafetyMargin = window, margin
	c, err := lakebase.NewConnector(cfg)
	if err != nil {
		return nil, fmt.Errorf("bench: lakebase connector: %w", err)
	}
	return c, nil
}

// gatewayPQ returns a lib/pq connector that logs in to the gateway with the
// credential c holds now, as a user who fetched one credential would.
func (e *Env) gatewayPQ(ctx context.Context, c *lakebase.Connector) (*pq.Connector, error) {
	dsn, err := e.gatewayDSN(ctx, c)
	if err != nil {
		return nil, err
	}
	pc, err := pq.NewConnector(dsn)
	if err != nil {
		return nil, fmt.Errorf("bench: lib/pq connector: %w", err)
	}
	return pc, nil
}

// gatewayDSN is a key/value DSN, for lib/pq and pgx, of the host c dials
// (a gateway of the kit) with the user and the credential c holds now.
func (e *Env) gatewayDSN(ctx context.Context, c *lakebase.Connector) (string, error) {
	tok, err := c.Credential(ctx)
	if err != nil {
		return "", fmt.Errorf("bench: credential: %w", err)
	}
	user, err := c.User(ctx)
	if err != nil {
		return "", fmt.Errorf("bench: user: %w", err)
	}
	host, port, err := c.Host(ctx)
	if err != nil {
		return "", fmt.Errorf("bench: host: %w", err)
	}
	return keyValueDSN(host, port, user, tok.Value, e.Kit.Postgres.CAFile()), nil
}

// scanRows is the size of the table the scan reads.
const scanRows = 10_000

// createScanTable creates bench_rows, readable by the native role.
func (e *Env) createScanTable(ctx context.Context) error {
	db, err := sql.Open("postgres", e.Kit.Postgres.SuperuserDSN())
	if err != nil {
		return fmt.Errorf("bench: superuser: %w", err)
	}
	defer db.Close()
	stmts := []string{
		`DROP TABLE IF EXISTS bench_rows`,
		fmt.Sprintf(`CREATE TABLE bench_rows AS
			SELECT g AS id, 'row number ' || g AS name, g * 0.5 AS value, now() AS created
			FROM generate_series(1, %d) AS g`, scanRows),
		`GRANT SELECT ON bench_rows TO ` + pq.QuoteIdentifier(e.Kit.NativeRole),
		`GRANT CREATE ON SCHEMA public TO ` + pq.QuoteIdentifier(e.Kit.NativeRole), // the COPY case's tables
		`ANALYZE bench_rows`,
	}
	for _, s := range stmts {
		if _, err := db.ExecContext(ctx, s); err != nil {
			return fmt.Errorf("bench: create the scan table: %w", err)
		}
	}
	return nil
}

// Close closes the connectors and the kit.
func (e *Env) Close() error {
	for _, c := range []*lakebase.Connector{e.lbDirect, e.gateway} {
		if c != nil {
			_ = c.Close()
		}
	}
	return e.Kit.Close()
}

// connectOnce opens one connection with c and closes it.
func connectOnce(ctx context.Context, c driver.Connector) error {
	conn, err := c.Connect(ctx)
	if err != nil {
		return err
	}
	return conn.Close()
}
