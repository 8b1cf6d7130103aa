package controlplane

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/databricks/databricks-sdk-go/common/types/duration"
	"github.com/databricks/databricks-sdk-go/service/postgres"
)

// Endpoint is what the driver needs to know about an Autoscaling endpoint.
type Endpoint struct {
	Path               string // projects/P/branches/B/endpoints/E
	State              string // ACTIVE, IDLE, INIT, DEGRADED
	Host               string // read-write host
	ReadOnlyHost       string
	PooledHost         string // read-write pooled (PgBouncer) host, native passwords only
	ReadOnlyPooledHost string
}

// The bounds of a minted endpoint credential's lifetime.
const (
	MinEndpointTTL = 300 * time.Second
	MaxEndpointTTL = 3600 * time.Second
)

// Endpoint looks up the Autoscaling endpoint path.
//
// An endpoint that is idle (scaled to zero) or still being created gives
// ErrNotReady together with the endpoint: an idle endpoint wakes when a
// connection arrives, so the caller may dial its host and retry within its
// budget. Errors are *Error with step resolve.
func (c *Client) Endpoint(ctx context.Context, path string) (Endpoint, error) {
	target := endpointTarget(path)
	if err := CheckEndpointPath(path); err != nil {
		return Endpoint{}, &Error{Step: StepResolve, Target: target, Kind: ErrConfig, Err: err}
	}
	ctx, err := c.prepare(ctx)
	if err != nil {
		return Endpoint{}, fail(StepResolve, target, err)
	}
	pe, err := c.w.Postgres.GetEndpoint(ctx, postgres.GetEndpointRequest{Name: path})
	if err != nil {
		return Endpoint{}, fail(StepResolve, target, err)
	}
	ep := endpointOf(pe)
	if ep.Path == "" {
		ep.Path = path
	}
	return ep, ep.check()
}

// endpointOf keeps what the driver needs of the SDK's endpoint.
func endpointOf(pe *postgres.Endpoint) Endpoint {
	ep := Endpoint{Path: pe.Name}
	if st := pe.Status; st != nil {
		ep.State = string(st.CurrentState)
		if h := st.Hosts; h != nil {
			ep.Host = h.Host
			ep.ReadOnlyHost = h.ReadOnlyHost
			ep.PooledHost = h.ReadWritePooledHost
			ep.ReadOnlyPooledHost = h.ReadOnlyPooledHost
		}
	}
	return ep
}

// check classifies the endpoint's state: nil when it can take connections.
func (e Endpoint) check() error {
	target := endpointTarget(e.Path)
	switch {
	case e.State == string(postgres.EndpointStatusStateIdle),
		e.State == string(postgres.EndpointStatusStateInit):
		return &Error{Step: StepResolve, Target: target, Kind: ErrNotReady, State: e.State}
	case e.Host == "":
		return &Error{Step: StepResolve, Target: target, Kind: ErrNotReady, State: e.State,
			Err: errors.New("the workspace gave no host for it yet")}
	}
	return nil
}

// MintForEndpoint mints a Postgres credential of the calling identity for
// the Autoscaling endpoint path, living ttl (between MinEndpointTTL and
// MaxEndpointTTL; zero leaves it to the workspace). The expiry is the
// workspace's expire_time (zero if it gave none). Errors are *Error with
// step mint; a 429 answer fails at once, as in MintForInstance.
func (c *Client) MintForEndpoint(ctx context.Context, path string, ttl time.Duration) (token string, expiry time.Time, err error) {
	target := endpointTarget(path)
	if err := CheckEndpointPath(path); err != nil {
		return "", time.Time{}, &Error{Step: StepMint, Target: target, Kind: ErrConfig, Err: err}
	}
	req := postgres.GenerateDatabaseCredentialRequest{Endpoint: path}
	if ttl != 0 {
		if ttl < MinEndpointTTL || ttl > MaxEndpointTTL {
			return "", time.Time{}, &Error{Step: StepMint, Target: target, Kind: ErrConfig,
				Err: fmt.Errorf("credential lifetime %s is outside %s..%s", ttl, MinEndpointTTL, MaxEndpointTTL)}
		}
		req.Ttl = duration.New(ttl)
	}
	ctx, err = c.prepare(ctx)
	if err != nil {
		return "", time.Time{}, fail(StepMint, target, err)
	}
	cred, err := c.w.Postgres.GenerateDatabaseCredential(reportThrottling(ctx), req)
	if err != nil {
		return "", time.Time{}, fail(StepMint, target, err)
	}
	if cred.Token == "" {
		return "", time.Time{}, &Error{Step: StepMint, Target: target, Err: errors.New("the workspace returned no token")}
	}
	if cred.ExpireTime != nil {
		// The SDK parses expire_time as a protobuf Timestamp: RFC 3339 with
		// or without fractional seconds, years 1 to 9999, as ParseExpiry.
		expiry = cred.ExpireTime.AsTime().UTC()
	}
	return cred.Token, expiry, nil
}
