package lakebasepgx_test

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasepgx"
)

// A pool's connections close at lifetimes spread by a jitter of a tenth of
// the lifetime, unless the user names a jitter of their own (0 included);
// the lifetime and idle time stay the user's, also beyond Lakebase's limits.
// No connection is opened: the settings are read from the pool.
func TestLifetimeJitter(t *testing.T) {
	t.Parallel()
	const server = "host=127.0.0.1 port=1 user=u password=p sslmode=disable "
	parsed := func(t *testing.T, dsn string) *pgxpool.Config {
		cfg, err := pgxpool.ParseConfig(dsn)
		if err != nil {
			t.Fatal(err)
		}
		return cfg
	}
	tests := []struct {
		name                   string
		dsn                    string                             // of NewPool, or of the lakebase.Config next to poolCfg
		poolCfg                func(t *testing.T) *pgxpool.Config // nil: NewPool
		lifetime, jitter, idle time.Duration
	}{
		{"pgxpool's defaults", server, nil, time.Hour, 6 * time.Minute, 30 * time.Minute},
		{"a lifetime of the DSN", server + "pool_max_conn_lifetime=20m", nil, 20 * time.Minute, 2 * time.Minute, 30 * time.Minute},
		{"a jitter of the DSN", server + "pool_max_conn_lifetime_jitter=30s", nil, time.Hour, 30 * time.Second, 30 * time.Minute},
		{"no jitter, as the DSN says", server + "pool_max_conn_lifetime_jitter=0", nil, time.Hour, 0, 30 * time.Minute},
		{"no lifetime limit", server + "pool_max_conn_lifetime=0", nil, 0, 0, 30 * time.Minute},
		{"beyond Lakebase's limits", server + "pool_max_conn_lifetime=96h pool_max_conn_idle_time=48h", nil, 96 * time.Hour, 9*time.Hour + 36*time.Minute, 48 * time.Hour},
		{"a pgxpool.Config without a jitter", server, func(t *testing.T) *pgxpool.Config {
			return parsed(t, "pool_max_conn_lifetime=40m")
		}, 40 * time.Minute, 4 * time.Minute, 30 * time.Minute},
		{"a pgxpool.Config with a jitter", server, func(t *testing.T) *pgxpool.Config {
			return parsed(t, "pool_max_conn_lifetime_jitter=1m")
		}, time.Hour, time.Minute, 30 * time.Minute},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			ctx := context.Background()
			var pool *lakebasepgx.Pool
			var err error
			if tt.poolCfg == nil {
				pool, err = lakebasepgx.NewPool(ctx, tt.dsn)
			} else {
				var cfg *lakebase.Config
				if cfg, err = lakebase.ParseDSN(tt.dsn); err != nil {
					t.Fatal(err)
				}
				pool, err = lakebasepgx.NewPoolWithConfig(ctx, cfg, tt.poolCfg(t))
			}
			if err != nil {
				t.Fatal(err)
			}
			defer pool.Close()
			got := pool.Config()
			if got.MaxConnLifetime != tt.lifetime || got.MaxConnLifetimeJitter != tt.jitter || got.MaxConnIdleTime != tt.idle {
				t.Errorf("lifetime %v, jitter %v, idle time %v; want %v, %v, %v",
					got.MaxConnLifetime, got.MaxConnLifetimeJitter, got.MaxConnIdleTime, tt.lifetime, tt.jitter, tt.idle)
			}
		})
	}
	poolCfg := parsed(t, "pool_max_conn_lifetime=50m")
	cfg, err := lakebase.ParseDSN(server)
	if err != nil {
		t.Fatal(err)
	}
	connector, err := lakebase.NewConnector(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer connector.Close()
	if err := lakebasepgx.Configure(poolCfg, connector); err != nil {
		t.Fatal(err)
	}
	if poolCfg.MaxConnLifetimeJitter != 5*time.Minute {
		t.Errorf("Configure left a jitter of %v; want a tenth of the 50m lifetime", poolCfg.MaxConnLifetimeJitter)
	}
}
