package lakebasepgx

import (
	"context"
	"fmt"
	"maps"
	"strings"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lakebase-go/lakebase"
)

// Pool is a pgx pool on a lakebase connector of its own. It is a
// *pgxpool.Pool in every way (Acquire, Query, Exec, Begin, Stat...), except
// that Close closes the connector too.
type Pool struct {
	*pgxpool.Pool
	connector *lakebase.Connector
}

// NewPool returns a pgx pool for dsn, a lakebase DSN as sql.Open("lakebase",
// dsn) takes it, environment fallbacks included. Keys that start with pool_
// (pool_max_conns, pool_max_conn_lifetime, ...) are pgxpool's and go to the
// pool, with pgxpool's defaults (a lifetime of an hour, half an hour idle)
// but one: without pool_max_conn_lifetime_jitter, the jitter is a tenth of
// the lifetime (see Configure). conn_max_lifetime and conn_max_idle_time,
// which database/sql connections of the driver honour, do not apply to a
// pgx pool. Nothing is looked up or minted until the first connection.
func NewPool(ctx context.Context, dsn string) (*Pool, error) {
	cfg, err := lakebase.ParseDSN(dsn)
	if err != nil {
		return nil, err
	}
	return NewPoolWithConfig(ctx, cfg, nil)
}

// NewPoolWithConfig returns a pgx pool for cfg, the driver's Config (which
// can carry what a DSN cannot: a logger, a TokenSource, an SDK client).
// poolCfg holds pgx's pool settings; nil means pgxpool's defaults and the
// pool_ keys of cfg.Params, which are refused next to a poolCfg. NewPoolWithConfig configures poolCfg (see
// Configure); cfg is copied, as NewConnector copies it.
func NewPoolWithConfig(ctx context.Context, cfg *lakebase.Config, poolCfg *pgxpool.Config) (*Pool, error) {
	if cfg == nil {
		cfg = &lakebase.Config{}
	}
	own := *cfg
	own.Params = maps.Clone(cfg.Params)
	_, jitterGiven := own.Params[jitterKey]
	if poolCfg == nil {
		var err error
		if poolCfg, err = poolConfig(own.Params); err != nil {
			return nil, err
		}
	}
	jitter := poolCfg.MaxConnLifetimeJitter
	for key := range own.Params {
		if strings.HasPrefix(key, "pool_") { // left when poolCfg was given
			return nil, fmt.Errorf("lakebasepgx: dsn: %s: a pgxpool setting; with a pgxpool.Config of your own, set it there: %w", key, lakebase.ErrInvalidDSN)
		}
	}
	connector, err := lakebase.NewConnector(&own)
	if err != nil {
		return nil, err
	}
	if err := Configure(poolCfg, connector); err != nil {
		_ = connector.Close()
		return nil, err
	}
	if jitterGiven {
		poolCfg.MaxConnLifetimeJitter = jitter // the DSN's, 0 included
	}
	pool, err := pgxpool.NewWithConfig(ctx, poolCfg)
	if err != nil {
		_ = connector.Close()
		return nil, fmt.Errorf("lakebasepgx: pool: %w", err)
	}
	return &Pool{Pool: pool, connector: connector}, nil
}

// poolConfig returns pgxpool's configuration with its defaults, the pool_
// keys and pgx's statement keys (pgxKeys) of params (taken out of params,
// which would otherwise send them to the server) and connect_timeout, which bounds pgx's connect as it bounds
// the driver's. Nothing is read from the environment but what pgx reads.
func poolConfig(params map[string]string) (*pgxpool.Config, error) {
	var b strings.Builder
	b.WriteString("host=" + placeholderHost + " sslmode=disable") // TLS is the connector's
	for key, value := range params {
		if strings.HasPrefix(key, "pool_") || pgxKeys[key] || key == "connect_timeout" {
			b.WriteString(" " + key + "=" + quote(value))
		}
		if strings.HasPrefix(key, "pool_") || pgxKeys[key] {
			delete(params, key)
		}
	}
	cfg, err := pgxpool.ParseConfig(b.String())
	if err != nil {
		// pgxpool's messages name the key; the string holds no secret.
		return nil, fmt.Errorf("%w: pgxpool: %w", lakebase.ErrInvalidDSN, err)
	}
	return cfg, nil
}

// pgxKeys are pgx's own connection keys, which configure pgx's statement
// handling rather than the server: poolConfig gives them to pgx.
var pgxKeys = map[string]bool{queryExecModeKey: true, "statement_cache_capacity": true, "description_cache_capacity": true}

// quote quotes a value for pgx's key/value connection string.
func quote(v string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, `'`, `\'`).Replace(v) + "'"
}

// Connector returns the pool's connector, for its Stats.
func (p *Pool) Connector() *lakebase.Connector { return p.connector }

// Close closes every connection of the pool, waiting for those acquired to
// be released, and then the connector, whose background work it stops.
func (p *Pool) Close() {
	p.Pool.Close()
	_ = p.connector.Close()
}
