package main

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/internal/leakcheck"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

func TestMain(m *testing.M) {
	leakcheck.Main(m, sharedKit.Close)
}

// sharedKit is the kit shared by this package's tests, closed by TestMain.
var sharedKit lakebasetest.Shared

// testKit returns the shared kit, started on first use. Without PostgreSQL
// it skips, except under CI.
func testKit(t *testing.T) *lakebasetest.Kit {
	t.Helper()
	return sharedKit.Kit(t)
}

// result is what one run of the command did.
type result struct {
	code           int
	stdout, stderr string
}

// runCmd runs the command line args in-process.
func runCmd(args ...string) result {
	var stdout, stderr bytes.Buffer
	code := run(args, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// String shows the run for a failure message.
func (r result) String() string {
	return fmt.Sprintf("exit %d\n--- stdout\n%s--- stderr\n%s", r.code, r.stdout, r.stderr)
}

// kitSecrets are the kit's secrets, which no output may show.
func kitSecrets(kit *lakebasetest.Kit) []string {
	return []string{kit.ServicePrincipal.Secret, kit.User.Token, kit.NativePassword}
}

// assertNoSecret fails the test if r shows any of secrets.
func assertNoSecret(t *testing.T, r result, secrets ...string) {
	t.Helper()
	for _, s := range secrets {
		if s != "" && strings.Contains(r.stdout+r.stderr, s) {
			t.Errorf("the output shows a secret:\n%v", r)
		}
	}
}

// modifyDSN parses dsn, lets change alter it, and formats it again.
func modifyDSN(t *testing.T, dsn string, change func(*lakebase.Config)) string {
	t.Helper()
	cfg, err := lakebase.ParseDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	change(cfg)
	return cfg.FormatDSN()
}
