package controlplane

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/databricks/databricks-sdk-go/apierr"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// near reports whether got is within a few seconds of want.
func near(got, want time.Time) bool {
	d := got.Sub(want)
	return d > -5*time.Second && d < 5*time.Second
}

func TestMintForInstance(t *testing.T) {
	w := startWorkspace(t)
	w.SetCredentialLifetime(90 * time.Second)
	c := newClient(t, m2m(w))
	token, expiry, err := c.MintForInstance(testContext(t), instName, nil)
	if err != nil {
		t.Fatal(err)
	}
	if token == "" || !near(expiry, time.Now().Add(90*time.Second)) || expiry.Location() != time.UTC {
		t.Errorf("MintForInstance: token set %v, expiry %v; want one expiring in 90s", token != "", expiry)
	}
	if n := w.MintsForInstance(instName); n != 1 {
		t.Errorf("%d mints, want 1", n)
	}
	if n := w.MintsFor(spID); n != 1 {
		t.Errorf("%d mints for the service principal, want 1", n)
	}
}

func TestMintForEndpoint(t *testing.T) {
	w := startWorkspace(t)
	c := newClient(t, pat(w))
	tests := []struct {
		ttl  time.Duration
		want time.Duration
	}{
		{0, time.Hour}, // the workspace's default
		{10 * time.Minute, 10 * time.Minute},
		{MinEndpointTTL, MinEndpointTTL},
		{MaxEndpointTTL, MaxEndpointTTL},
	}
	for _, tt := range tests {
		token, expiry, err := c.MintForEndpoint(testContext(t), epPath, tt.ttl, nil)
		if err != nil {
			t.Errorf("ttl %s: %v", tt.ttl, err)
			continue
		}
		if token == "" || !near(expiry, time.Now().Add(tt.want)) {
			t.Errorf("ttl %s: token set %v, expiry in %s; want in %s", tt.ttl, token != "", time.Until(expiry).Round(time.Second), tt.want)
		}
	}
	if n := w.MintsFor(userEmail); n != len(tests) {
		t.Errorf("%d mints for the user, want %d", n, len(tests))
	}
	for _, ttl := range []time.Duration{time.Second, MinEndpointTTL - time.Second, MaxEndpointTTL + time.Second, -time.Minute} {
		if _, _, err := c.MintForEndpoint(testContext(t), epPath, ttl, nil); !errors.Is(err, ErrConfig) {
			t.Errorf("ttl %s: %v, want ErrConfig", ttl, err)
		}
	}
	if n := w.MintsFor(userEmail); n != len(tests) {
		t.Errorf("out-of-range lifetimes were sent to the workspace")
	}
}

func TestMintFailures(t *testing.T) {
	w := startWorkspace(t)
	c := newClient(t, m2m(w))
	w.DenyInstance(instName, spID)
	w.DenyEndpoint(epPath, spID)
	_, _, err := c.MintForInstance(testContext(t), instName, nil)
	var apiErr *apierr.APIError
	if !errors.Is(err, ErrPermissionDenied) || !errors.As(err, &apiErr) || apiErr.StatusCode != http.StatusForbidden {
		t.Errorf("MintForInstance denied: %v, want ErrPermissionDenied", err)
	} else if want := `lakebase: mint: instance "orders-db": permission denied: `; !strings.HasPrefix(err.Error(), want) {
		t.Errorf("error %q, want it to start %q", err, want)
	}
	if _, _, err := c.MintForEndpoint(testContext(t), epPath, 0, nil); !errors.Is(err, ErrPermissionDenied) {
		t.Errorf("MintForEndpoint denied: %v, want ErrPermissionDenied", err)
	}
	if _, _, err := c.MintForInstance(testContext(t), "nope", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("MintForInstance of an unknown instance: %v, want ErrNotFound", err)
	}
	w.Fail("database-credential", lakebasetest.Fault{Status: http.StatusInternalServerError, Times: 1})
	_, _, err = c.MintForInstance(testContext(t), instName, nil)
	var e *Error
	if err == nil || !errors.As(err, &e) || e.Step != StepMint || e.Kind != nil {
		t.Errorf("MintForInstance on a server error: %v, want an unclassified mint error", err)
	}
}
