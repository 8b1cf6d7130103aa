package controlplane

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"sync"
	"testing"
)

// A mint with claims carries them as the credential APIs read them, one
// claim per permission set with its tables in order; a mint without claims
// carries no claims field at all.
func TestMintClaims(t *testing.T) {
	w := startWorkspace(t)
	w.GrantTable(spID, "main.sales.orders")
	w.GrantTable(spID, "main.sales.items")
	proxy, bodies := recordingProxy(t, w.URL())
	claims := []Claim{{PermissionSet: "READ_ONLY", Tables: []string{"main.sales.orders", "main.sales.items"}}}
	const want = `[{"permission_set":"READ_ONLY","resources":[{"table_name":"main.sales.orders"},{"table_name":"main.sales.items"}]}]`
	for _, tc := range []struct {
		name, path string
		mint       func(c *Client, claims []Claim) error
	}{
		{"instance", "/api/2.0/database/credentials", func(c *Client, claims []Claim) error {
			_, _, err := c.MintForInstance(testContext(t), instName, claims)
			return err
		}},
		{"endpoint", "/api/2.0/postgres/credentials", func(c *Client, claims []Claim) error {
			_, _, err := c.MintForEndpoint(testContext(t), epPath, 0, claims)
			return err
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := m2m(w)
			s.Workspace = proxy
			c := newClient(t, s)
			for _, cl := range [][]Claim{claims, nil} {
				if err := tc.mint(c, cl); err != nil {
					t.Fatalf("mint with claims %v: %v", cl, err)
				}
			}
			got := bodies(tc.path)
			if len(got) != 2 {
				t.Fatalf("%d requests to %s, want 2", len(got), tc.path)
			}
			var scoped, unscoped map[string]json.RawMessage
			if err := json.Unmarshal(got[0], &scoped); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(got[1], &unscoped); err != nil {
				t.Fatal(err)
			}
			if string(scoped["claims"]) != want {
				t.Errorf("claims sent: %s\nwant: %s", scoped["claims"], want)
			}
			if _, ok := unscoped["claims"]; ok {
				t.Errorf("a mint without claims sent %s", got[1])
			}
		})
	}
}

// recordingProxy serves the workspace at target through a proxy that
// keeps each request's body, by path; bodies returns those of a path.
func recordingProxy(t *testing.T, target string) (proxyURL string, bodies func(path string) [][]byte) {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string][][]byte{}
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		mu.Lock()
		seen[r.URL.Path] = append(seen[r.URL.Path], body)
		mu.Unlock()
		rp.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, func(path string) [][]byte {
		mu.Lock()
		defer mu.Unlock()
		return seen[path]
	}
}
