package controlplane

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
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
// then the Autoscaling projects, their branches and their endpoints, and
// takes the first match. Host names compare case-insensitively; ports
// compare only when both sides carry one, so "h" matches "h:5432" and
// "h:5432" does not match "h:5433".
//
// A listing that is refused or fails does not end the search: the project
// or branch is skipped (logged at debug), since an identity may see some
// projects and not others. It returns the target with the error of its
// state, as Instance and Endpoint do. When nothing matches it gives
// ErrNotFound, or, when listings failed, the kind of the first failure; the
// error says what was searched and which variable names the target
// instead. Errors are *Error with step resolve.
func (c *Client) FindByHost(ctx context.Context, host string) (Target, error) {
	target := hostTarget(host)
	if h, _ := splitHost(host); h == "" {
		return Target{}, &Error{Step: StepResolve, Target: target, Kind: ErrConfig, Err: errors.New("no host to look for")}
	}
	ctx, err := c.prepare(ctx)
	if err != nil {
		return Target{}, fail(StepResolve, target, err)
	}
	s := &search{c: c, want: host, target: target}
	if t := s.instances(ctx); t.Instance != nil {
		return t, t.Instance.check()
	}
	if t := s.endpoints(ctx); t.Endpoint != nil {
		return t, t.Endpoint.check()
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return Target{}, fail(StepResolve, target, ctxErr)
	}
	return Target{}, s.notFound()
}

// search is one FindByHost: what it looks for and what it has seen.
type search struct {
	c      *Client
	want   string
	target string

	instancesSeen, projectsSeen, branchesSeen, endpointsSeen int
	failed                                                   []error // listings that failed, each naming what it listed
}

// skip records a failed listing of what and logs it at debug.
func (s *search) skip(ctx context.Context, what string, err error) {
	s.failed = append(s.failed, fmt.Errorf("listing %s: %w", what, err))
	s.c.debug(ctx, "lakebase: resolve: a listing failed; skipping it", slog.String("host", s.want),
		slog.String("listing", what), slog.String("error", err.Error()))
}

// listed is what list returns, or nothing when the listing fails: the
// failure is recorded (see skip) and the search goes on without it.
func listed[T any](ctx context.Context, s *search, what string, list func() ([]T, error)) []T {
	all, err := list()
	if err != nil {
		s.skip(ctx, what, err)
		return nil
	}
	return all
}

// instances lists the Provisioned instances for one with the host.
func (s *search) instances(ctx context.Context) Target {
	all := listed(ctx, s, "the instances", func() ([]database.DatabaseInstance, error) {
		return s.c.w.Database.ListDatabaseInstancesAll(ctx, database.ListDatabaseInstancesRequest{})
	})
	for _, di := range all {
		s.instancesSeen++
		inst := instanceOf(&di)
		switch {
		case sameHost(s.want, inst.ReadWriteDNS):
			return Target{Instance: &inst}
		case sameHost(s.want, inst.ReadOnlyDNS):
			return Target{Instance: &inst, ReadOnly: true}
		}
	}
	return Target{}
}

// endpoints walks the Autoscaling projects, branches and endpoints for one
// with the host, skipping those whose listing fails.
func (s *search) endpoints(ctx context.Context) Target {
	projects := listed(ctx, s, "the projects", func() ([]postgres.Project, error) {
		return s.c.w.Postgres.ListProjectsAll(ctx, postgres.ListProjectsRequest{})
	})
	for _, p := range projects {
		if ctx.Err() != nil {
			return Target{}
		}
		s.projectsSeen++
		branches := listed(ctx, s, "the branches of "+p.Name, func() ([]postgres.Branch, error) {
			return s.c.w.Postgres.ListBranchesAll(ctx, postgres.ListBranchesRequest{Parent: p.Name})
		})
		for _, b := range branches {
			s.branchesSeen++
			eps := listed(ctx, s, "the endpoints of "+b.Name, func() ([]postgres.Endpoint, error) {
				return s.c.w.Postgres.ListEndpointsAll(ctx, postgres.ListEndpointsRequest{Parent: b.Name})
			})
			for _, pe := range eps {
				s.endpointsSeen++
				if t, ok := endpointHas(endpointOf(&pe), s.want); ok {
					return t
				}
			}
		}
	}
	return Target{}
}

// notFound is the error of a search that found nothing: what was searched,
// what could not be, and how to name the target instead.
func (s *search) notFound() *Error {
	msg := fmt.Sprintf("no instance or endpoint of the workspace has this host (searched %d instances, and %d endpoints in %d branches of %d projects)",
		s.instancesSeen, s.endpointsSeen, s.branchesSeen, s.projectsSeen)
	hint := "; name the target with LAKEBASE_INSTANCE or LAKEBASE_ENDPOINT (instance= or endpoint= in the DSN)"
	if len(s.failed) == 0 {
		return &Error{Step: StepResolve, Target: s.target, Kind: ErrNotFound, Err: errors.New(msg + hint)}
	}
	var kind error // the first failure that has a kind: a 501 for a product the workspace lacks has none
	for _, err := range s.failed {
		if kind = classify(err); kind != nil {
			break
		}
	}
	return &Error{Step: StepResolve, Target: s.target, Kind: kind,
		Err: &searchError{msg: msg, failed: s.failed, hint: hint}}
}

// searchError is a search that found nothing and could not list
// everything; it unwraps to each failed listing's error.
type searchError struct {
	msg, hint string
	failed    []error
}

func (e *searchError) Error() string {
	parts := make([]string, len(e.failed))
	for i, err := range e.failed {
		parts[i] = err.Error()
	}
	return fmt.Sprintf("%s; failed: %s%s", e.msg, strings.Join(parts, "; "), e.hint)
}

func (e *searchError) Unwrap() []error { return e.failed }

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
