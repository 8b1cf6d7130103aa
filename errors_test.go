package lakebase

import (
	"errors"
	"strings"
	"testing"

	"github.com/lib/pq"
)

// A refused login of a minted credential says how to create the role, for
// the kind of identity its name shows, and keeps the server's error.
func TestRoleHint(t *testing.T) {
	for _, tc := range []struct{ role, call string }{
		{"5d1e7c1a-3f0b-4a8e-9c2d-6b7a8f9e0d1c", "databricks_create_role('5d1e7c1a-3f0b-4a8e-9c2d-6b7a8f9e0d1c', 'SERVICE_PRINCIPAL')"},
		{"ana@example.com", "databricks_create_role('ana@example.com', 'USER')"},
		{"analysts", "databricks_create_role('analysts', 'GROUP')"},
		{"o'brien@example.com", "databricks_create_role('o''brien@example.com', 'USER')"},
	} {
		t.Run(tc.role, func(t *testing.T) {
			server := &pq.Error{Code: "28000", Message: "role does not exist"}
			err := error(&roleHintError{err: server, role: tc.role})
			var pe *pq.Error
			if !strings.Contains(err.Error(), tc.call) || !strings.Contains(err.Error(), "role does not exist") || !errors.As(err, &pe) || pe != server {
				t.Errorf("error %q: want the server's error, found by errors.As, and %s", err, tc.call)
			}
		})
	}
}
