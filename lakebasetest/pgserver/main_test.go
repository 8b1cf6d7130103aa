package pgserver

import (
	"testing"

	"github.com/lakebase-go/lakebase/internal/leakcheck"
)

func TestMain(m *testing.M) {
	leakcheck.VerifyTestMain(m)
}
