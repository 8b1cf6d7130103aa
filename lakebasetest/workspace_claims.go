package lakebasetest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
)

// claimedTables are the Unity Catalog tables that a credential request
// claims, one entry per claim: its permission set and its tables.
type claimedTables struct {
	permissionSet string
	tables        []string
}

// requestClaims reads the claims of a credential request from either API's
// type: both write the same JSON.
func requestClaims(sdkClaims any) []claimedTables {
	b, err := json.Marshal(sdkClaims)
	var raw []struct {
		PermissionSet string `json:"permission_set"`
		Resources     []struct {
			TableName string `json:"table_name"`
		} `json:"resources"`
	}
	if err != nil || json.Unmarshal(b, &raw) != nil {
		return nil
	}
	claims := make([]claimedTables, len(raw))
	for i, c := range raw {
		claims[i].permissionSet = c.PermissionSet
		for _, r := range c.Resources {
			claims[i].tables = append(claims[i].tables, r.TableName)
		}
	}
	return claims
}

// GrantTable gives identity (an e-mail or an application id) SELECT on the
// Unity Catalog table, named catalog.schema.table, so that the credentials
// it mints may claim the table READ_ONLY (the driver's DSN key claims). A
// session logged in with such a credential may read the table's Postgres
// counterpart, the table schema.table of the database it logs in to, for
// as long as it lasts; a credential that claims a table the identity was
// not granted is refused at the mint, as Unity Catalog refuses it.
func (w *Workspace) GrantTable(identity, table string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.tableGrants[identity] == nil {
		w.tableGrants[identity] = make(map[string]bool)
	}
	w.tableGrants[identity][table] = true
}

// checkClaims answers a credential request whose claims the workspace
// refuses (a permission set other than READ_ONLY, a resource without a
// table, a table the identity holds no permission on) and reports false;
// otherwise it returns the tables claimed, in order.
func (w *Workspace) checkClaims(rw http.ResponseWriter, identity string, claims []claimedTables) ([]string, bool) {
	var tables []string
	for _, c := range claims {
		if c.permissionSet != "READ_ONLY" {
			wsWriteError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", fmt.Sprintf("unknown permission_set %q", c.permissionSet))
			return nil, false
		}
		for _, t := range c.tables {
			w.mu.Lock()
			granted := w.tableGrants[identity][t]
			w.mu.Unlock()
			switch {
			case len(strings.Split(t, ".")) != 3:
				wsWriteError(rw, http.StatusBadRequest, "INVALID_PARAMETER_VALUE", fmt.Sprintf("table_name %q is not catalog.schema.table", t))
				return nil, false
			case !granted:
				wsWriteError(rw, http.StatusForbidden, "PERMISSION_DENIED", fmt.Sprintf("User does not have SELECT on table '%s'", t))
				return nil, false
			}
			tables = append(tables, t)
		}
	}
	return tables, true
}
