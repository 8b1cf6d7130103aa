package lakebasetest

import (
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/common/types/duration"
	sdktime "github.com/databricks/databricks-sdk-go/common/types/time"
	"github.com/databricks/databricks-sdk-go/service/postgres"
)

func TestWorkspacePostgresCredential(t *testing.T) {
	tests := []struct {
		name       string
		lifetime   time.Duration // 0: the default hour
		ttl        time.Duration // 0: none asked
		expireTime time.Duration // from now; 0: none asked
		want       time.Duration
	}{
		{"default lifetime", 0, 0, 0, time.Hour},
		{"ttl shortens", 0, 600 * time.Second, 0, 600 * time.Second},
		{"expire_time shortens", 0, 0, 900 * time.Second, 900 * time.Second},
		{"kit lifetime wins when shorter", 2 * time.Second, time.Hour, 0, 2 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, store := wsStart(t)
			w.SetCredentialLifetime(tt.lifetime)
			c := wsClient(t, w, wsPAT(wsUserPAT))
			req := postgres.GenerateDatabaseCredentialRequest{Endpoint: wsEndpoint}
			if tt.ttl != 0 {
				req.Ttl = duration.New(tt.ttl)
			}
			before := time.Now()
			if tt.expireTime != 0 {
				req.ExpireTime = sdktime.New(before.Add(tt.expireTime))
			}
			cred, err := c.Postgres.GenerateDatabaseCredential(t.Context(), req)
			if err != nil {
				t.Fatalf("GenerateDatabaseCredential: %v", err)
			}
			expiry := cred.ExpireTime.AsTime()
			if lo, hi := before.Add(tt.want), time.Now().Add(tt.want); expiry.Before(lo.Add(-time.Millisecond)) || expiry.After(hi) {
				t.Errorf("expiry %v not within [%v, %v]", expiry, lo, hi)
			}
			if err := store.check(cred.Token, wsUserEmail, endpointTarget(wsEndpoint)); err != nil {
				t.Errorf("store.check: %v", err)
			}
			if w.MintsForEndpoint(wsEndpoint) != 1 || w.MintsFor(wsUserEmail) != 1 || w.MintsForEndpoint(wsEndpoint2) != 0 {
				t.Errorf("mints for endpoint = %d, for user = %d", w.MintsForEndpoint(wsEndpoint), w.MintsFor(wsUserEmail))
			}
		})
	}
}

func TestWorkspacePostgresCredentialRefusals(t *testing.T) {
	tests := []struct {
		name string
		req  postgres.GenerateDatabaseCredentialRequest
		want error
	}{
		{"ttl too short", postgres.GenerateDatabaseCredentialRequest{Endpoint: wsEndpoint, Ttl: duration.New(time.Minute)}, databricks.ErrBadRequest},
		{"ttl too long", postgres.GenerateDatabaseCredentialRequest{Endpoint: wsEndpoint, Ttl: duration.New(2 * time.Hour)}, databricks.ErrBadRequest},
		{"ttl and expire_time", postgres.GenerateDatabaseCredentialRequest{Endpoint: wsEndpoint, Ttl: duration.New(time.Hour),
			ExpireTime: sdktime.New(time.Now().Add(time.Hour))}, databricks.ErrBadRequest},
		{"unknown endpoint", postgres.GenerateDatabaseCredentialRequest{Endpoint: "projects/shop/branches/main/endpoints/nope"}, databricks.ErrResourceDoesNotExist},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w, _ := wsStart(t)
			_, err := wsClient(t, w, wsM2M()).Postgres.GenerateDatabaseCredential(t.Context(), tt.req)
			if !errors.Is(err, tt.want) {
				t.Fatalf("error = %v, want %v", err, tt.want)
			}
			if w.Mints() != 0 {
				t.Errorf("mints = %d, want 0", w.Mints())
			}
		})
	}
}

func TestWorkspaceEndpointLookup(t *testing.T) {
	w, _ := wsStart(t)
	c := wsClient(t, w, wsM2M())
	get := func() *postgres.Endpoint {
		t.Helper()
		ep, err := c.Postgres.GetEndpoint(t.Context(), postgres.GetEndpointRequest{Name: wsEndpoint})
		if err != nil {
			t.Fatalf("GetEndpoint: %v", err)
		}
		return ep
	}
	ep := get()
	if ep.Name != wsEndpoint || ep.Status == nil || ep.Status.Hosts == nil {
		t.Fatalf("endpoint = %+v", ep)
	}
	if s := ep.Status; s.CurrentState != postgres.EndpointStatusStateActive || s.Hosts.Host != wsRWHost ||
		s.Hosts.ReadWritePooledHost != wsPooledHost || s.Hosts.ReadOnlyHost != "" {
		t.Errorf("status = %+v, hosts = %+v", s, s.Hosts)
	}

	wsMust(t, w.UpdateEndpoint(wsEndpoint, func(ep *Endpoint) { ep.State = "IDLE" }))
	hosts := postgres.EndpointHosts{Host: "127.0.0.1:3", ReadOnlyHost: "127.0.0.1:4", ReadWritePooledHost: "127.0.0.1:5", ReadOnlyPooledHost: "127.0.0.1:6"}
	wsMust(t, w.UpdateEndpoint(wsEndpoint, func(ep *Endpoint) {
		ep.Host, ep.ReadOnlyHost, ep.ReadWritePooledHost, ep.ReadOnlyPooledHost = hosts.Host, hosts.ReadOnlyHost, hosts.ReadWritePooledHost, hosts.ReadOnlyPooledHost
	}))
	s := get().Status
	got := *s.Hosts
	same := got.Host == hosts.Host && got.ReadOnlyHost == hosts.ReadOnlyHost && got.ReadWritePooledHost == hosts.ReadWritePooledHost && got.ReadOnlyPooledHost == hosts.ReadOnlyPooledHost
	if s.CurrentState != postgres.EndpointStatusStateIdle || !same {
		t.Errorf("state = %s, hosts = %+v; want IDLE, %+v", s.CurrentState, got, hosts)
	}
}

func TestWorkspaceProjectsBranchesEndpoints(t *testing.T) {
	w, _ := wsStart(t)
	wsMust(t, w.AddEndpoint(Endpoint{Path: "projects/shop/branches/main/endpoints/replica"}))
	wsMust(t, w.AddEndpoint(Endpoint{Path: "projects/analytics/branches/main/endpoints/primary"}))
	c := wsClient(t, w, wsM2M())
	ctx := t.Context()

	projects, err := c.Postgres.ListProjectsAll(ctx, postgres.ListProjectsRequest{PageSize: 1})
	wsMust(t, err)
	branches, err := c.Postgres.ListBranchesAll(ctx, postgres.ListBranchesRequest{Parent: "projects/shop"})
	wsMust(t, err)
	endpoints, err := c.Postgres.ListEndpointsAll(ctx, postgres.ListEndpointsRequest{Parent: "projects/shop/branches/main", PageSize: 1})
	wsMust(t, err)
	project, err := c.Postgres.GetProject(ctx, postgres.GetProjectRequest{Name: "projects/shop"})
	wsMust(t, err)
	branch, err := c.Postgres.GetBranch(ctx, postgres.GetBranchRequest{Name: "projects/shop/branches/dev"})
	wsMust(t, err)

	names := func(n int, name func(int) string) string {
		var s []string
		for i := range n {
			s = append(s, name(i))
		}
		return fmt.Sprint(s)
	}
	checks := []struct{ what, got, want string }{
		{"projects", names(len(projects), func(i int) string { return projects[i].Name }), "[projects/analytics projects/shop]"},
		{"branches", names(len(branches), func(i int) string { return branches[i].Name }), "[projects/shop/branches/dev projects/shop/branches/main]"},
		{"endpoints", names(len(endpoints), func(i int) string { return endpoints[i].Name }),
			"[projects/shop/branches/main/endpoints/primary projects/shop/branches/main/endpoints/replica]"},
		{"project", project.Name + " " + project.ProjectId, "projects/shop shop"},
		{"branch", branch.Name + " " + branch.Parent, "projects/shop/branches/dev projects/shop"},
		{"endpoint parent", endpoints[0].Parent, "projects/shop/branches/main"},
	}
	for _, c := range checks {
		if c.got != c.want {
			t.Errorf("%s = %s, want %s", c.what, c.got, c.want)
		}
	}

	if _, err := c.Postgres.GetProject(ctx, postgres.GetProjectRequest{Name: "projects/nope"}); !errors.Is(err, databricks.ErrNotFound) {
		t.Errorf("GetProject error = %v, want not found", err)
	}
	if _, err := c.Postgres.GetBranch(ctx, postgres.GetBranchRequest{Name: "projects/shop/branches/nope"}); !errors.Is(err, databricks.ErrNotFound) {
		t.Errorf("GetBranch error = %v, want not found", err)
	}
	if _, err := c.Postgres.ListEndpointsAll(ctx, postgres.ListEndpointsRequest{Parent: "projects/shop/branches/nope"}); !errors.Is(err, databricks.ErrNotFound) {
		t.Errorf("ListEndpointsAll error = %v, want not found", err)
	}
}
