package lakebasepgx

import (
	"context"
	"errors"
	"net"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lakebase-go/lakebase"
)

// errNil is returned by Configure when it is given nothing to configure.
var errNil = errors.New("lakebasepgx: configure: the pool configuration and the connector must not be nil")

// placeholderHost stands in pgx's configuration for the host that each
// connection learns from the connector when it logs in (see prepare).
const placeholderHost = "lakebase"

// Configure makes every new connection of poolCfg's pool log in through
// connector, for a pgxpool.Config the application already has: its pool
// settings, hooks, tracer and statement settings stay as they are, while
// the host, port, user, password, database and TLS of each new connection
// come from the connector when it connects (so the pool follows a failover
// and honours read_only), with the connector's waits and retries. A
// BeforeConnect hook already set runs first; its changes to the host, the
// user, the password, the database and TLS are overridden.
//
// For a pooled connector (pooled=true), whose PgBouncer runs in
// transaction mode, Configure also swaps pgx's default query exec mode,
// which caches named prepared statements on each session, for one that
// does not: see forPooler.
//
// The caller keeps the connector and closes it after the pool. Configuring
// a pgxpool.Config twice is pointless: the later connector logs in.
//
// One pool setting changes: a MaxConnLifetimeJitter of 0 becomes a tenth of
// MaxConnLifetime, so that the pool's connections do not all close at once;
// pgxpool adds the jitter to the lifetime. MaxConnLifetime and
// MaxConnIdleTime are kept as they are, also 0 (no lifetime limit; for the
// idle time, pgxpool closes idle connections at each health check) or
// beyond Lakebase's own limits (it closes connections idle for 24 hours and
// may close any connection older than 3 days): they are the caller's choice.
func Configure(poolCfg *pgxpool.Config, connector *lakebase.Connector) error {
	if poolCfg == nil || connector == nil {
		return errNil
	}
	if connector.Pooled() {
		forPooler(poolCfg.ConnConfig)
	}
	spreadLifetimes(poolCfg)
	before := poolCfg.BeforeConnect
	poolCfg.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
		if before != nil {
			if err := before(ctx, cc); err != nil {
				return err
			}
		}
		// The user and database name the connection in pgx's errors; the
		// identity is cached after the first connection.
		user, err := connector.User(ctx)
		if err != nil {
			return err
		}
		prepare(&cc.Config, connector)
		cc.User, cc.Database = user, connector.DBName()
		return nil
	}
	return nil
}

// prepare sets up one new connection's pgconn configuration, a copy made
// for it, so that its dial logs in through connector (see session) and pgx
// then finds the session logged in.
func prepare(cfg *pgconn.Config, connector *lakebase.Connector) {
	s := &session{connector: connector, base: cfg.Copy()}
	cfg.Host, cfg.Port, cfg.Password = placeholderHost, 5432, ""
	cfg.TLSConfig, cfg.Fallbacks = nil, nil
	cfg.DialFunc, cfg.LookupFunc = s.dial, keepHost
	// The real login checked these; pgx sees only its replay.
	cfg.RequireAuth, cfg.ChannelBinding, cfg.OAuthTokenProvider = "", "", nil
	after := cfg.AfterNetConnect
	cfg.AfterNetConnect = func(ctx context.Context, c *pgconn.Config, conn net.Conn) (net.Conn, error) {
		if rc, ok := conn.(*replayConn); ok {
			// What the connection's Config tells the application.
			c.Host, c.Port, c.User, c.Database = rc.login.Host, uint16(rc.login.Port), rc.login.User, rc.login.Database
		}
		if after != nil {
			return after(ctx, c, conn)
		}
		return conn, nil
	}
}
