//go:build kitworkspace

// See workspace_test.go about the kitworkspace tag.

package controlplane

import (
	"bytes"
	"log"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/lakebase-go/lakebase/lakebasetest"
)

// captureStdLog collects what is written to the standard logger, which the
// SDK's default logger writes to, during the test.
func captureStdLog(t *testing.T) *bytes.Buffer {
	t.Helper()
	var buf bytes.Buffer
	orig := log.Writer()
	log.SetOutput(&buf)
	t.Cleanup(func() { log.SetOutput(orig) })
	return &buf
}

// warnWorthy runs calls that make the SDK warn: the workspace's metadata
// fails once, and the Databricks CLI's version cannot be read.
func warnWorthy(t *testing.T, logger *slog.Logger) {
	t.Helper()
	w := startWorkspace(t)
	fakeCLI(t, "Databricks CLI (development)", w.URL(), userPAT)
	w.Fail("host-metadata", lakebasetest.Fault{Status: http.StatusInternalServerError, Times: 1})
	c := newClient(t, Settings{Workspace: w.URL(), Auth: AuthU2M, TokenCacheDir: t.TempDir(), Logger: logger})
	if _, err := c.UserName(testContext(t)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.MintForInstance(testContext(t), instName, nil); err != nil {
		t.Fatal(err)
	}
}

func TestSilentWithoutLogger(t *testing.T) {
	std := captureStdLog(t)
	warnWorthy(t, nil)
	if std.Len() != 0 {
		t.Errorf("printed without a logger:\n%s", std)
	}
}

func TestLoggerGetsWarnings(t *testing.T) {
	std := captureStdLog(t)
	var buf bytes.Buffer
	warnWorthy(t, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	out := buf.String()
	for _, want := range []string{"level=WARN", "Failed to detect Databricks CLI version", "no workspace metadata", "oauth-u2m: using the Databricks CLI login"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	noSecret(t, "log", out)
	if std.Len() != 0 {
		t.Errorf("printed to the standard logger with a logger given:\n%s", std)
	}
}
