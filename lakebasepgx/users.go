package lakebasepgx

import (
	"context"
	"fmt"
	"maps"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lakebase-go/lakebase"
)

// NewUsers returns a lakebase.Users whose pools are pgx's: each signed-in
// user's *Pool is a pgxpool of at most opts.ConnsPerUser connections on a
// connector of that user's own, whose credentials are minted with the user's
// forwarded token (see lakebase.Users). cfg is the App's own configuration,
// as lakebase.NewUsers takes it (an empty one inside a Databricks App); the
// pool_ keys of its Params set every user's pool as NewPool's DSN does, but
// for pool_max_conns, which opts.ConnsPerUser sets. cfg is copied. Nothing
// is looked up until the first request.
//
//	pool, err := users.ForRequest(r)
//	rows, err := pool.Query(r.Context(), "SELECT ...")
func NewUsers(cfg *lakebase.Config, opts lakebase.UsersOptions) (*lakebase.Users[*Pool], error) {
	if cfg == nil {
		cfg = &lakebase.Config{}
	}
	own := *cfg
	own.Params = maps.Clone(cfg.Params)
	_, jitterGiven := own.Params[jitterKey]
	template, err := poolConfig(own.Params) // takes the pool's keys out of the connectors'
	if err != nil {
		return nil, err
	}
	return lakebase.NewUsersOf(&own, opts, lakebase.UserPools[*Pool]{
		Open: func(c *lakebase.Connector, maxConns int) (*Pool, error) {
			poolCfg := template.Copy()
			poolCfg.MaxConns = int32(maxConns)
			if err := Configure(poolCfg, c); err != nil {
				return nil, err
			}
			if jitterGiven {
				poolCfg.MaxConnLifetimeJitter = template.MaxConnLifetimeJitter // the DSN's, 0 included
			}
			pool, err := pgxpool.NewWithConfig(context.Background(), poolCfg)
			if err != nil {
				return nil, fmt.Errorf("lakebasepgx: pool: %w", err)
			}
			return &Pool{Pool: pool, connector: c}, nil
		},
		Close: (*Pool).Close,
	})
}
