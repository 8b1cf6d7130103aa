package lakebase

import (
	"errors"
	"fmt"

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

// observe starts reporting the connector's metrics read from its Stats.
func (c *Connector) observe() error {
	err := c.tel.Observe(func() telemetry.Observed {
		s := c.Stats()
		return telemetry.Observed{CredentialWaits: s.CredentialWaits, LoginRetries: s.LoginRetries, CredentialExpiry: s.CredentialExpiry}
	})
	if err != nil {
		return fmt.Errorf("%w: telemetry: %w", ErrInvalidDSN, err)
	}
	return nil
}

// failedStep is the step that err, a Connect's failure, names.
func failedStep(err error) string {
	var ce *ConnectError
	if errors.As(err, &ce) {
		return ce.Step
	}
	return "unknown"
}
