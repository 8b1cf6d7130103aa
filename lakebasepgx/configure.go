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

// errNotParsed is returned by Configure for a pgxpool.Config that
// pgxpool.ParseConfig did not make, which pgxpool refuses too.
var errNotParsed = errors.New("lakebasepgx: configure: the pool configuration must be made by pgxpool.ParseConfig")

// placeholderHost stands in pgx's configuration for the host that each
// connection learns from the connector when it logs in (see prepare).
const placeholderHost = "lakebase"

// Configure makes every new connection of poolCfg's pool log in through
// connector, for a pgxpool.Config the application already has. Field by
// field of the pool's configuration:
//
//   - Kept as pgx uses them: the pool settings, its hooks (but PrepareConn
//     and BeforeAcquire, below) and tracer, the statement settings,
//     run-time parameters (next to the connector's), protocol versions,
//     RequireAuth and ChannelBinding (checked at the real login), notice
//     and notification handlers. A BeforeConnect hook already set runs
//     first, and what it changes in the fields below is treated as if set
//     in poolCfg.
//   - Composed: DialFunc and LookupFunc are the transport of every login and
//     cancel request. The connector's host is looked up with LookupFunc and
//     each address dialled with DialFunc, in order, as pgx does, and the
//     connector's TLS and login run on top of that connection: a dialer of
//     the application's (an SSH tunnel, a SOCKS proxy, a delay proxy or an
//     in-memory pipe in tests) carries the session. pgx's defaults (a
//     net.Dialer and net.DefaultResolver) dial as the connector's own dial
//     does, so no DialFunc needs telling apart from the default: every
//     one is used. AfterNetConnect, ValidateConnect and AfterConnect run on
//     the logged-in session, which pgx reads as a new one.
//   - Composed: PrepareConn, which pgxpool calls before it hands out a
//     connection, first finds a session that the server has ended since
//     its last use (a restart, a failover, pg_terminate_backend, an idle
//     limit: the server's FATAL or the end of the connection waits on the
//     socket), and returns false with no error, so that pgxpool destroys the
//     connection and takes another, however recently it was used (pgxpool
//     pings only connections idle for more than a second, by default). A
//     live connection then goes to the PrepareConn that poolCfg had, with
//     pgx's meaning of its results, or else to the deprecated BeforeAcquire,
//     which pgxpool would have called in its place and ignores next to a
//     PrepareConn. The look costs one non-blocking system call; what waits
//     (a notice, a notification) is read only then, by pgx, and keeps the
//     connection. Set these hooks before Configure: a PrepareConn set after
//     it replaces the look, and a BeforeAcquire is ignored by pgxpool.
//   - Replaced by the connector's: the host, port, user, password and
//     database of each connection (so the pool follows a failover and
//     honours read_only), its TLS (TLSConfig and Fallbacks, whose hosts are
//     ignored as the host is), and the waits and retries of the login.
//   - Refused with an error, by Configure, or by the connect for what
//     changed since (in poolCfg, or in a BeforeConnect hook): TLS that the connector's cannot stand in
//     for (see checkTLS): TLS that never falls back to plaintext next to a
//     connector with sslmode=disable, a verified certificate next to one
//     with sslmode=require, a verified host name next to verify-ca, and a
//     client certificate in TLSConfig or sslcertmode=require. A client
//     certificate file that pgx's sslcert names is held inside pgx, where
//     Configure cannot see it: it is not sent either. A pgxpool.Config not
//     made by pgxpool.ParseConfig is refused too.
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
	if poolCfg.ConnConfig == nil {
		return errNotParsed
	}
	if err := checkTLS(&poolCfg.ConnConfig.Config, connector); err != nil {
		return err
	}
	if connector.Pooled() {
		forPooler(poolCfg.ConnConfig)
	}
	spreadLifetimes(poolCfg)
	poolCfg.PrepareConn = prepareConn(poolCfg)
	before := poolCfg.BeforeConnect
	poolCfg.BeforeConnect = func(ctx context.Context, cc *pgx.ConnConfig) error {
		if before != nil {
			if err := before(ctx, cc); err != nil {
				return err
			}
		}
		// Again: the hook, or the application after Configure, may have
		// changed the TLS settings.
		if err := checkTLS(&cc.Config, connector); err != nil {
			return err
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
