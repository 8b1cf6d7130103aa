package lakebasepgx

import "github.com/jackc/pgx/v5/pgxpool"

// jitterKey is pgxpool's DSN key of MaxConnLifetimeJitter.
const jitterKey = "pool_max_conn_lifetime_jitter"

// spreadLifetimes gives a pool whose MaxConnLifetimeJitter is 0 a jitter of
// a tenth of its MaxConnLifetime, so that the connections opened together
// (at the pool's start, or after a failover) do not all close together:
// pgxpool's own default is none. A pool without a lifetime gets none.
func spreadLifetimes(poolCfg *pgxpool.Config) {
	if poolCfg.MaxConnLifetimeJitter == 0 && poolCfg.MaxConnLifetime > 0 {
		poolCfg.MaxConnLifetimeJitter = poolCfg.MaxConnLifetime / 10
	}
}
