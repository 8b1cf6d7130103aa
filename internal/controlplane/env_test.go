package controlplane

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// isolate keeps the test away from the machine's Databricks settings: no
// DATABRICKS_* variables, no configuration file, a fresh home.
func isolate(t *testing.T) {
	t.Helper()
	home := t.TempDir()
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); strings.HasPrefix(k, "DATABRICKS_") {
			t.Setenv(k, "")
		}
	}
	t.Setenv("HOME", home)
	t.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
	t.Setenv("DATABRICKS_CONFIG_FILE", filepath.Join(home, "no-databrickscfg"))
}
