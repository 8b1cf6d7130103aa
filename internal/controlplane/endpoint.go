package controlplane

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"github.com/databricks/databricks-sdk-go/common/types/duration"
	"github.com/databricks/databricks-sdk-go/service/postgres"
)

// Endpoint is what the driver needs to know about an Autoscaling endpoint.
type Endpoint struct {
	Path               string // projects/P/branches/B/endpoints/E
	State              string // current_state: ACTIVE, IDLE, INIT, DEGRADED
	PendingState       string // pending_state: the state it is moving to; empty or State when settled
	Disabled           bool   // connections are refused until someone enables it again
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
// budget. A disabled endpoint gives ErrStopped: a connection cannot enable
// it. Errors are *Error with step resolve.
func (c *Client) Endpoint(ctx context.Context, path string) (Endpoint, error) {
	return lookup(ctx, c, endpointTarget(path), CheckEndpointPath(path), func(ctx context.Context) (*postgres.Endpoint, error) {
		return c.w.Postgres.GetEndpoint(ctx, postgres.GetEndpointRequest{Name: path})
	}, func(pe *postgres.Endpoint) Endpoint {
		ep := endpointOf(pe)
		if ep.Path == "" {
			ep.Path = path
		}
		return ep
	})
}

// endpointOf keeps what the driver needs of the SDK's endpoint.
func endpointOf(pe *postgres.Endpoint) Endpoint {
	ep := Endpoint{Path: pe.Name}
	// A disabled spec not yet in the status is a suspension under way: the
	// endpoint is as good as disabled already.
	ep.Disabled = pe.Spec != nil && pe.Spec.Disabled
	if st := pe.Status; st != nil {
		ep.State = string(st.CurrentState)
		ep.PendingState = string(st.PendingState)
		ep.Disabled = ep.Disabled || st.Disabled
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
// A disabled endpoint is ErrStopped whatever its compute's state. An
// endpoint without a current_state is judged by the state it is moving to.
func (e Endpoint) check() error {
	target := endpointTarget(e.Path)
	state := e.State
	if state == "" {
		state = e.PendingState
	}
	switch {
	case e.Disabled:
		return &Error{Step: StepResolve, Target: target, Kind: ErrStopped, State: e.describeState(),
			Err: errors.New("the endpoint is disabled, and a connection cannot enable it: enable it in the workspace")}
	case state == string(postgres.EndpointStatusStateIdle),
		state == string(postgres.EndpointStatusStateInit):
		return &Error{Step: StepResolve, Target: target, Kind: ErrNotReady, State: e.describeState()}
	case e.Host == "":
		return &Error{Step: StepResolve, Target: target, Kind: ErrNotReady, State: e.describeState(),
			Err: errors.New("the workspace gave no host for it yet")}
	}
	return nil
}

// Wakes reports whether a connection to the endpoint's host may wake it:
// its compute is idle (scaled to zero) or on its way there, and it is not
// disabled.
func (e Endpoint) Wakes() bool {
	idle := string(postgres.EndpointStatusStateIdle)
	return !e.Disabled && (e.State == idle || e.State == "" && e.PendingState == idle)
}

// describeState is the current state, followed by the pending one when the
// endpoint is moving: "IDLE, pending ACTIVE".
func (e Endpoint) describeState() string {
	switch {
	case e.PendingState == "" || e.PendingState == e.State:
		return e.State
	case e.State == "":
		return "pending " + e.PendingState
	}
	return e.State + ", pending " + e.PendingState
}

// MintForEndpoint mints a Postgres credential of the calling identity for
// the Autoscaling endpoint path, scoped by claims when there are any, living ttl (between MinEndpointTTL and
// MaxEndpointTTL; zero leaves it to the workspace). The expiry is the
// workspace's expire_time, or, when it gives none or one that does not
// parse, the time of the request plus ttl (or DefaultCredentialLifetime). Errors are *Error with
// step mint; a 429 answer fails at once, as in MintForInstance.
func (c *Client) MintForEndpoint(ctx context.Context, path string, ttl time.Duration, claims []Claim) (token string, expiry time.Time, err error) {
	req := postgres.GenerateDatabaseCredentialRequest{Endpoint: path}
	for _, cl := range claims {
		rc := postgres.RequestedClaims{PermissionSet: postgres.RequestedClaimsPermissionSet(cl.PermissionSet)}
		for _, t := range cl.Tables {
			rc.Resources = append(rc.Resources, postgres.RequestedResource{TableName: t})
		}
		req.Claims = append(req.Claims, rc)
	}
	lifetime := DefaultCredentialLifetime
	invalid := CheckEndpointPath(path)
	if ttl != 0 {
		if invalid == nil && (ttl < MinEndpointTTL || ttl > MaxEndpointTTL) {
			invalid = fmt.Errorf("credential lifetime %s is outside %s..%s", ttl, MinEndpointTTL, MaxEndpointTTL)
		}
		req.Ttl = duration.New(ttl)
		lifetime = ttl
	}
	return c.mint(ctx, endpointTarget(path), invalid, lifetime, func(ctx context.Context) (mintAnswer, error) {
		cred, err := c.generateEndpointCredential(ctx, req)
		return mintAnswer{cred.Token, cred.ExpireTime}, err
	})
}

// endpointCredential is the answer of POST /api/2.0/postgres/credentials.
// The SDK's own type decodes expire_time as a protobuf Timestamp, which
// fails the whole call on an RFC 3339 form it does not take (a space
// separator, a lower-case "z", more than nine fractional digits); read as a
// string, ParseExpiry takes them all, and a bad one costs only the expiry.
type endpointCredential struct {
	Token      string `json:"token"`
	ExpireTime string `json:"expire_time"`
}

// generateEndpointCredential sends the SDK's request as the SDK does,
// keeping expire_time as text.
func (c *Client) generateEndpointCredential(ctx context.Context, req postgres.GenerateDatabaseCredentialRequest) (endpointCredential, error) {
	headers := map[string]string{"Accept": "application/json", "Content-Type": "application/json"}
	if id := c.api.Config.WorkspaceID; id != "" {
		headers["X-Databricks-Workspace-Id"] = id
	}
	var cred endpointCredential
	err := c.api.Do(ctx, http.MethodPost, "/api/2.0/postgres/credentials", headers, map[string]any{}, req, &cred)
	return cred, err
}
