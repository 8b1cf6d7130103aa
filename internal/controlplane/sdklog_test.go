package controlplane

import (
	"bytes"
	"context"
	"log"
	"log/slog"
	"strings"
	"testing"

	"github.com/databricks/databricks-sdk-go/logger"
)

func TestSDKLoggerLevels(t *testing.T) {
	var buf bytes.Buffer
	l := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx := withSDKLogger(context.Background(), l)
	sdk := logger.Get(ctx)
	logger.Tracef(ctx, "trace %s", "line")
	logger.Debugf(ctx, "debug %s", "line")
	logger.Infof(ctx, "info %s", "line")
	logger.Warnf(ctx, "warn %s", "line")
	logger.Errorf(ctx, "error %s", "line")
	out := buf.String()
	for _, want := range []string{`level=DEBUG msg="info line"`, `level=WARN msg="warn line"`, `level=ERROR msg="error line"`, "from=databricks-sdk"} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	for _, dropped := range []string{"trace line", "debug line"} {
		if strings.Contains(out, dropped) {
			t.Errorf("log has %q, which must be dropped:\n%s", dropped, out)
		}
	}
	if sdk.Enabled(ctx, logger.LevelDebug) || !sdk.Enabled(ctx, logger.LevelInfo) {
		t.Errorf("Enabled: debug must be off and info on")
	}
}

func TestSDKLoggerSilentWithoutLogger(t *testing.T) {
	var std bytes.Buffer
	orig := log.Writer()
	log.SetOutput(&std)
	t.Cleanup(func() { log.SetOutput(orig) })
	ctx := withSDKLogger(context.Background(), nil)
	logger.Warnf(ctx, "warn")
	logger.Errorf(ctx, "error")
	if logger.Get(ctx).Enabled(ctx, logger.LevelError) {
		t.Error("Enabled without a logger")
	}
	if std.Len() != 0 {
		t.Errorf("printed: %q", std.String())
	}
}

func TestSDKLoggerKeepsCallersOwn(t *testing.T) {
	own := &logger.SimpleLogger{Level: logger.LevelError}
	ctx := logger.NewContext(context.Background(), own)
	if got := logger.Get(withSDKLogger(ctx, slog.Default())); got != own {
		t.Errorf("withSDKLogger replaced the caller's own SDK logger with %T", got)
	}
}
