package lakebase

import (
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/internal/pqsession"
)

// A Config's retirement limits reach the transport as it says: zero is the
// default, a negative value none, and a DSN's 0 is NeverRetire.
func TestConfigRetirement(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		dsn  string // FormatDSN of cfg
		want pqsession.Retirement
	}{
		{"defaults", Config{}, "", pqsession.Retirement{MaxLifetime: 24 * time.Hour, MaxIdleTime: time.Hour}},
		{"set", Config{ConnMaxLifetime: 2 * time.Second, ConnMaxIdleTime: 90 * time.Minute},
			"conn_max_lifetime=2s conn_max_idle_time=1h30m0s", pqsession.Retirement{MaxLifetime: 2 * time.Second, MaxIdleTime: 90 * time.Minute}},
		{"off", Config{ConnMaxLifetime: NeverRetire, ConnMaxIdleTime: -5 * time.Minute},
			"conn_max_lifetime=0 conn_max_idle_time=0", pqsession.Retirement{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.cfg.retirement(); got != tt.want {
				t.Errorf("retirement() = %+v; want %+v", got, tt.want)
			}
			if got := tt.cfg.FormatDSN(); got != tt.dsn {
				t.Errorf("FormatDSN() = %q; want %q", got, tt.dsn)
			}
			again, err := ParseDSN(tt.dsn)
			if err != nil {
				t.Fatal(err)
			}
			if got := again.retirement(); got != tt.want {
				t.Errorf("retirement() after ParseDSN(FormatDSN()) = %+v; want %+v", got, tt.want)
			}
		})
	}
}
