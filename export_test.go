package lakebase

import (
	"time"
)

// SetClock makes connectors made from cfg judge credential expiry by now
// instead of time.Now: the fault tests jump it as a waking laptop's clock
// jumps.
func SetClock(cfg *Config, now func() time.Time) { cfg.now = now }
