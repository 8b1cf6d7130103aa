package lakebase

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"

	"github.com/lakebase-go/lakebase/internal/credcache"
	"github.com/lakebase-go/lakebase/internal/telemetry"
)

// newTelemetry builds the OpenTelemetry instrumentation that cfg asks for
// (see internal/telemetry), or returns nil: instrumentation off.
func newTelemetry(cfg *Config) (*telemetry.Telemetry, error) {
	port := cfg.Port
	if port == 0 {
		port = DefaultPort
	}
	tel, err := telemetry.New(telemetry.Settings{
		MeterProvider: cfg.MeterProvider, TracerProvider: cfg.TracerProvider,
		Global: cfg.GlobalTelemetry, User: cfg.TelemetryUser,
		DBName: cfg.DBName, Instance: cfg.Instance, Endpoint: cfg.Endpoint, Host: cfg.Host, Port: port,
		ErrorType: errorType,
	})
	if err != nil {
		return nil, fmt.Errorf("%w: telemetry: %w", ErrInvalidDSN, err)
	}
	return tel, nil
}

// failedStep is the step that err, a Connect's failure, names.
func failedStep(err error) string {
	var ce *ConnectError
	if errors.As(err, &ce) {
		return ce.Step
	}
	return "unknown"
}

// errorTypeOther is OpenTelemetry's error.type for an error of no known kind.
const errorTypeOther = "_OTHER"

// errorKinds are the driver's error kinds, as error.type names them, in the
// order they are tried: a throttled mint that gave up at the deadline is
// throttled first.
var errorKinds = []struct {
	err  error
	name string
}{
	{ErrThrottled, "throttled"},
	{context.DeadlineExceeded, "deadline_exceeded"},
	{context.Canceled, "canceled"},
	{ErrConnectorClosed, "closed"},
	{credcache.ErrClosed, "closed"},
	{ErrInvalidDSN, "invalid_config"},
	{ErrNotFound, "not_found"},
	{ErrPermissionDenied, "permission_denied"},
	{ErrUnauthenticated, "unauthenticated"},
	{ErrStopped, "stopped"},
	{ErrNotReady, "not_ready"},
	{credcache.ErrExpired, "expired_credential"},
	{errEmptyToken, "empty_token"},
}

// errorType names err's kind for the error.type attribute of spans and
// metrics: a small, fixed set of values, never the error's text, which may
// name the user. A login the server refused is its SQLSTATE ("28P01"), told
// by lib/pq's *pq.Error or, for a login through Open, by pgconn's *PgError.
func errorType(err error) string {
	for _, k := range errorKinds {
		if errors.Is(err, k.err) {
			return k.name
		}
	}
	if state := sqlState(err); state != "" {
		return state
	}
	var (
		ne  net.Error
		ce  *tls.CertificateVerificationError
		ue  x509.UnknownAuthorityError
		he  x509.HostnameError
		rhe tls.RecordHeaderError
	)
	switch {
	case errors.As(err, &ce), errors.As(err, &ue), errors.As(err, &he), errors.As(err, &rhe):
		return "tls"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	case errors.As(err, &ne):
		return "network"
	}
	return errorTypeOther
}
