package controlplane

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/databricks/databricks-sdk-go/logger"
)

// sdkLogger passes the SDK's log lines to the user's slog.Logger, or drops
// them. The SDK's debug and trace lines (request and response dumps) are
// always dropped, so that nothing it dumps can reach a log; its info lines
// become debug lines, its warnings and errors stay what they are.
//
// It is installed on the context of every call this package makes, which the
// SDK prefers to its global logger.DefaultLogger; that global is never
// touched. A few SDK lines are written with a context of the SDK's own
// (configuration loading, background token refresh) and still go to
// logger.DefaultLogger: those are debug lines, which its default level does
// not print.
type sdkLogger struct {
	l *slog.Logger // nil: drop everything
}

var _ logger.Logger = sdkLogger{}

// level maps an SDK level to the slog level its lines are written at, and
// reports false for levels that are dropped.
func (s sdkLogger) level(l logger.Level) (slog.Level, bool) {
	switch {
	case s.l == nil || l < logger.LevelInfo:
		return 0, false
	case l < logger.LevelWarn:
		return slog.LevelDebug, true
	case l < logger.LevelError:
		return slog.LevelWarn, true
	}
	return slog.LevelError, true
}

// Enabled reports whether lines of level l reach the user's logger.
func (s sdkLogger) Enabled(ctx context.Context, l logger.Level) bool {
	lvl, ok := s.level(l)
	return ok && s.l.Enabled(ctx, lvl)
}

func (s sdkLogger) logf(ctx context.Context, l logger.Level, format string, v ...any) {
	lvl, ok := s.level(l)
	if !ok || !s.l.Enabled(ctx, lvl) {
		return
	}
	s.l.Log(ctx, lvl, fmt.Sprintf(format, v...), slog.String("from", "databricks-sdk"))
}

// Tracef drops the line.
func (s sdkLogger) Tracef(context.Context, string, ...any) {}

// Debugf drops the line.
func (s sdkLogger) Debugf(context.Context, string, ...any) {}

// Infof writes the line at debug level.
func (s sdkLogger) Infof(ctx context.Context, format string, v ...any) {
	s.logf(ctx, logger.LevelInfo, format, v...)
}

// Warnf writes the line at warn level.
func (s sdkLogger) Warnf(ctx context.Context, format string, v ...any) {
	s.logf(ctx, logger.LevelWarn, format, v...)
}

// Errorf writes the line at error level.
func (s sdkLogger) Errorf(ctx context.Context, format string, v ...any) {
	s.logf(ctx, logger.LevelError, format, v...)
}

// withSDKLogger returns ctx carrying l for the SDK, unless ctx already
// carries an SDK logger of the caller's own.
func withSDKLogger(ctx context.Context, l *slog.Logger) context.Context {
	if _, ok := logger.FromContext(ctx); ok {
		return ctx
	}
	return logger.NewContext(ctx, sdkLogger{l: l})
}
