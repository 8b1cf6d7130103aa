package controlplane

// Claim asks, in a minted credential, for one Unity Catalog permission set
// on tables: the workspace checks the identity's permission on each table,
// and Postgres gives a session logged in with the credential the grants on
// their counterparts. A request carries one Claim per permission set.
type Claim struct {
	PermissionSet string   // READ_ONLY
	Tables        []string // full Unity Catalog names, catalog.schema.table
}
