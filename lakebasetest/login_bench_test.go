//go:build unix

package lakebasetest

import (
	"syscall"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/internal/testenv"
	"github.com/lakebase-go/lakebase/lakebasetest/pgserver"
)

// BenchmarkKitLogin measures one login through a gateway over TLS, with a
// credential and with a native password, on a server of the kit's own and
// on one shared by URL, as this module's root tests share theirs.
func BenchmarkKitLogin(b *testing.B) {
	own := pgserver.New(b)
	for _, srv := range []struct {
		name string
		opts pgserver.Options
	}{{"own", pgserver.Options{}}, {"url", pgserver.Options{URL: own.SuperuserDSN()}}} {
		pg, err := pgserver.Start(b.Context(), srv.opts)
		if err != nil {
			b.Fatal(err)
		}
		defer pg.Stop()
		g, token := benchGateway(b, pg)
		for _, l := range []struct{ name, user, password string }{{"credential", alice, token}, {"native", nativeRole, nativePassword}} {
			dsn := testenv.TCPDSN("localhost", g.Port(), pg.CAFile(), l.user, l.password, pgserver.DefaultDatabase)
			b.Run(srv.name+"/"+l.name, func(b *testing.B) {
				start := cpuTime()
				benchLogins(b, dsn)
				b.ReportMetric(float64((cpuTime()-start).Microseconds())/1000/float64(b.N), "cpu-ms/op")
			})
		}
	}
}

// cpuTime is the CPU time this process has used, in user and system mode:
// the gateway's and the client's share of a login, which the load of other
// processes on the machine does not change as it changes the wall time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
