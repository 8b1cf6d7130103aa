// Package controlplane is everything the lakebase driver asks a Databricks
// workspace: where an instance or endpoint lives, a Postgres credential for
// it, and the user name of the calling identity. It goes through
// databricks-sdk-go and adds three things the SDK leaves to its callers:
//
//   - an explicit choice of login method whenever the driver knows it, so
//     the SDK never spends minutes probing methods that cannot work;
//   - the person's own login (oauth-u2m): the Databricks CLI's cached login,
//     or an in-process browser login whose refresh token is kept in a
//     private file;
//   - errors that name the step and the target and classify the cause
//     (not found, permission denied, stopped, not ready) without ever
//     carrying a secret.
//
// Nothing is printed: the SDK's own log lines for the driver's calls go to
// the Logger given in Settings, or nowhere.
package controlplane
