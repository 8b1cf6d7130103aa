package controlplane

import (
	"context"
	"errors"
	"net"
	"strings"

	"github.com/databricks/databricks-sdk-go/service/database"
	"github.com/databricks/databricks-sdk-go/service/postgres"
)

// Target is the instance or endpoint that FindByHost found: exactly one of
// Instance and Endpoint is set.
type Target struct {
	Instance *Instance
	Endpoint *Endpoint
	ReadOnly bool // the host is a read-only host
	Pooled   bool // the host is a pooled (PgBouncer) host of an endpoint
}

// FindByHost finds the instance or endpoint one of whose hosts is host, as
// a Databricks App's PGHOST names it: it lists the Provisioned instances,
// then the Autoscaling projects, their branches and their endpoints. Host
// names compare case-insensitively; ports compare only when both sides carry
// one, so "h" matches "h:5432" and "h:5432" does not match "h:5433".
//
// It returns the target with the error of its state, as Instance and
// Endpoint do. When nothing matches it gives ErrNotFound, or the error of a
// listing that failed. Errors are *Error with step resolve.
func (c *Client) FindByHost(ctx context.Context, host string) (Target, error) {
	want := host
	target := hostTarget(host)
	if h, _ := splitHost(host); h == "" {
		return Target{}, &Error{Step: StepResolve, Target: target, Kind: ErrConfig, Err: errors.New("no host to look for")}
	}
	ctx, err := c.prepare(ctx)
	if err != nil {
		return Target{}, fail(StepResolve, target, err)
	}
	t, instErr := c.findInstance(ctx, want)
	if t.Instance != nil {
		return t, t.Instance.check()
	}
	t, epErr := c.findEndpoint(ctx, want)
	if t.Endpoint != nil {
		return t, t.Endpoint.check()
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return Target{}, fail(StepResolve, target, ctxErr)
	}
	// A workspace without one of the two products may refuse to list it;
	// report a failed listing only when it might have hidden the host.
	if err := errors.Join(instErr, epErr); err != nil {
		return Target{}, fail(StepResolve, target, err)
	}
	return Target{}, &Error{Step: StepResolve, Target: target, Kind: ErrNotFound,
		Err: errors.New("no instance or endpoint of the workspace has this host")}
}

// findInstance lists the Provisioned instances for one with host want.
func (c *Client) findInstance(ctx context.Context, want string) (Target, error) {
	all, err := c.w.Database.ListDatabaseInstancesAll(ctx, database.ListDatabaseInstancesRequest{})
	for _, di := range all {
		inst := instanceOf(&di)
		switch {
		case sameHost(want, inst.ReadWriteDNS):
			return Target{Instance: &inst}, nil
		case sameHost(want, inst.ReadOnlyDNS):
			return Target{Instance: &inst, ReadOnly: true}, nil
		}
	}
	return Target{}, err
}

// findEndpoint walks the Autoscaling projects, branches and endpoints for one
// with host want.
func (c *Client) findEndpoint(ctx context.Context, want string) (Target, error) {
	projects, err := c.w.Postgres.ListProjectsAll(ctx, postgres.ListProjectsRequest{})
	if err != nil {
		return Target{}, err
	}
	for _, p := range projects {
		branches, err := c.w.Postgres.ListBranchesAll(ctx, postgres.ListBranchesRequest{Parent: p.Name})
		if err != nil {
			return Target{}, err
		}
		for _, b := range branches {
			eps, err := c.w.Postgres.ListEndpointsAll(ctx, postgres.ListEndpointsRequest{Parent: b.Name})
			if err != nil {
				return Target{}, err
			}
			for _, pe := range eps {
				ep := endpointOf(&pe)
				if t, ok := endpointHas(ep, want); ok {
					return t, nil
				}
			}
		}
	}
	return Target{}, nil
}

// endpointHas reports whether one of ep's hosts is want, and which.
func endpointHas(ep Endpoint, want string) (Target, bool) {
	for _, h := range []struct {
		host             string
		readOnly, pooled bool
	}{
		{ep.Host, false, false},
		{ep.ReadOnlyHost, true, false},
		{ep.PooledHost, false, true},
		{ep.ReadOnlyPooledHost, true, true},
	} {
		if sameHost(want, h.host) {
			return Target{Endpoint: &ep, ReadOnly: h.readOnly, Pooled: h.pooled}, true
		}
	}
	return Target{}, false
}

// sameHost reports whether a and b name the same host (see FindByHost).
func sameHost(a, b string) bool {
	ah, ap := splitHost(a)
	bh, bp := splitHost(b)
	return ah != "" && ah == bh && (ap == "" || bp == "" || ap == bp)
}

// splitHost splits "host" or "host:port" into the host, lower case and
// without a trailing dot, and the port.
func splitHost(s string) (host, port string) {
	if h, p, err := net.SplitHostPort(s); err == nil {
		s, port = h, p
	}
	return strings.TrimSuffix(strings.ToLower(s), "."), port
}
