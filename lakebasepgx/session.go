package lakebasepgx

import (
	"context"
	"errors"
	"maps"
	"net"
	"sync/atomic"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/lakebase-go/lakebase"
)

// session is one pgx connection's dial: the first call logs in through the
// connector's engine (Connector.Open); later calls are the session's cancel
// requests, dialled to the same server with the same TLS. Both go over the
// transport of the pool's configuration (base's DialFunc and LookupFunc).
type session struct {
	connector *lakebase.Connector
	// base is pgx's configuration of the connection before prepare changed
	// it: the settings of the real login (its transport, protocol versions,
	// require_auth, channel binding, notice handlers, run-time parameters).
	base  *pgconn.Config
	login atomic.Pointer[lakebase.Login] // set once logged in; without the credential
}

// dial is the pgconn.DialFunc of one connection.
func (s *session) dial(ctx context.Context, network, address string) (net.Conn, error) {
	if l := s.login.Load(); l != nil {
		return l.DialWith(ctx, s.base.DialFunc, network, address) // a cancel request
	}
	var conn net.Conn
	err := s.connector.Open(ctx, func(ctx context.Context, l lakebase.Login) error {
		c, err := s.logIn(ctx, l)
		if err != nil {
			return err
		}
		conn = c
		s.login.Store(&c.login)
		return nil
	})
	return conn, err
}

// logIn logs in with pgconn as l says and returns the session, ready to
// replay the login to pgx's own connect. A server's refusal comes back as
// pgconn's error, whose *pgconn.PgError tells the engine its SQLSTATE.
func (s *session) logIn(ctx context.Context, l lakebase.Login) (*replayConn, error) {
	cfg := s.base.Copy()
	cfg.Host, cfg.Port, cfg.User, cfg.Database = l.Host, uint16(l.Port), l.User, l.Database
	cfg.Password = l.Credential.Value
	cfg.TLSConfig, cfg.Fallbacks = nil, nil // Login.DialWith runs TLS as the driver does
	// pgconn looks l.Host up with base's LookupFunc and dials each address
	// with base's DialFunc, under the driver's TLS.
	cfg.DialFunc = func(ctx context.Context, network, address string) (net.Conn, error) {
		return l.DialWith(ctx, s.base.DialFunc, network, address)
	}
	cfg.ConnectTimeout = 0 // ctx holds the connect budget
	cfg.RuntimeParams = maps.Clone(cfg.RuntimeParams)
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = make(map[string]string, len(l.RuntimeParams))
	}
	maps.Copy(cfg.RuntimeParams, l.RuntimeParams)
	// What pgx does after a login, it does on the replayed session.
	cfg.AfterNetConnect, cfg.ValidateConnect, cfg.AfterConnect = nil, nil, nil

	pc, err := pgconn.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, unwrapConnectError(err)
	}
	if err := pc.SyncConn(ctx); err != nil {
		_ = pc.Close(ctx)
		return nil, err
	}
	hc, err := pc.Hijack()
	if err != nil {
		_ = pc.Close(ctx)
		return nil, err
	}
	conn, err := newReplayConn(hc, l)
	if err != nil {
		_ = hc.Conn.Close()
		return nil, err
	}
	return conn, nil
}

// unwrapConnectError drops pgconn's "failed to connect to `user=...
// database=...`" from err: the engine's error names the user and the
// target already, and pgx's own connect adds it again.
func unwrapConnectError(err error) error {
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		if inner := ce.Unwrap(); inner != nil {
			return inner
		}
	}
	return err
}

// keepHost is a pgconn.LookupFunc that hands pgx's own connect the
// placeholder host as it is: the session's dial learns the real host from
// the connector.
func keepHost(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
