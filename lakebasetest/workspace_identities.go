package lakebasetest

import (
	"errors"
	"fmt"
	"net/http"
)

// User is a person of the workspace. Their Postgres role is Email.
//
// String and GoString leave the secrets out.
type User struct {
	// Email is the user name: SCIM Me's userName and the Postgres role.
	Email string
	// Token, if set, is a personal access token that logs the user in.
	Token string
	// RefreshToken, if set, logs the user in through the OAuth refresh
	// token grant, as a cached login of the Databricks CLI or the SDK's u2m
	// flow does.
	RefreshToken string
}

// String names the user without their tokens.
func (u User) String() string { return fmt.Sprintf("User(%s)", u.Email) }

// GoString is String, so that %#v leaves the tokens out too.
func (u User) GoString() string { return u.String() }

// ServicePrincipal is a machine identity that logs in with OAuth client
// credentials. Its Postgres role is ApplicationID.
//
// String and GoString leave the secret out.
type ServicePrincipal struct {
	// ApplicationID is the OAuth client id, SCIM Me's userName and the
	// Postgres role.
	ApplicationID string
	// Secret is the OAuth client secret.
	Secret string
	// DisplayName is SCIM Me's displayName; empty uses ApplicationID.
	DisplayName string
}

// String names the service principal without its secret.
func (sp ServicePrincipal) String() string {
	return fmt.Sprintf("ServicePrincipal(%s)", sp.ApplicationID)
}

// GoString is String, so that %#v leaves the secret out too.
func (sp ServicePrincipal) GoString() string { return sp.String() }

// AddUser registers u, replacing a user with the same e-mail (and the tokens
// it had).
func (w *Workspace) AddUser(u User) error {
	if u.Email == "" {
		return errors.New("lakebasetest: add user: empty e-mail")
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if old, ok := w.users[u.Email]; ok {
		delete(w.pats, old.Token)
		delete(w.refreshTokens, old.RefreshToken)
	}
	w.users[u.Email] = u
	if u.Token != "" {
		w.pats[u.Token] = u.Email
	}
	if u.RefreshToken != "" {
		w.refreshTokens[u.RefreshToken] = u.Email
	}
	return nil
}

// AddServicePrincipal registers sp, replacing one with the same application
// id.
func (w *Workspace) AddServicePrincipal(sp ServicePrincipal) error {
	if sp.ApplicationID == "" || sp.Secret == "" {
		return errors.New("lakebasetest: add service principal: application id and secret are required")
	}
	w.mu.Lock()
	w.sps[sp.ApplicationID] = sp
	w.mu.Unlock()
	return nil
}

// SetBrowserUser names the registered user who is signed in to the
// workspace in the browser: the authorize route grants authorization codes
// to them. Until it is called, the authorize route denies access.
func (w *Workspace) SetBrowserUser(email string) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if _, ok := w.users[email]; !ok {
		return fmt.Errorf("lakebasetest: set browser user: no user %q", email)
	}
	w.browserUser = email
	return nil
}

// DenyInstance makes credential requests of identity (an e-mail or an
// application id) for instance name fail with 403 PERMISSION_DENIED. The
// instance can still be looked up.
func (w *Workspace) DenyInstance(name, identity string) {
	w.mu.Lock()
	w.denied[wsGrant{identity, instanceTarget(name)}] = true
	w.mu.Unlock()
}

// DenyEndpoint makes credential requests of identity for the endpoint at
// path fail with 403 PERMISSION_DENIED. The endpoint can still be looked up.
func (w *Workspace) DenyEndpoint(path, identity string) {
	w.mu.Lock()
	w.denied[wsGrant{identity, endpointTarget(path)}] = true
	w.mu.Unlock()
}

// DenyProjectListing makes identity's requests to list the branches of
// project, and the endpoints of its branches, fail with 403
// PERMISSION_DENIED, as for a project the identity may not see into. The
// project itself is still listed.
func (w *Workspace) DenyProjectListing(project, identity string) {
	w.mu.Lock()
	w.denied[wsGrant{identity, projectListing(project)}] = true
	w.mu.Unlock()
}

// projectListing is the grant key of listing inside project.
func projectListing(project string) string { return "listing of projects/" + project }

// listingDenied answers 403 and reports true when identity may not list
// inside project.
func (w *Workspace) listingDenied(rw http.ResponseWriter, project, identity string) bool {
	w.mu.Lock()
	denied := w.denied[wsGrant{identity, projectListing(project)}]
	w.mu.Unlock()
	if denied {
		wsWriteError(rw, http.StatusForbidden, "PERMISSION_DENIED", fmt.Sprintf("User does not have permission to list inside project 'projects/%s'.", project))
	}
	return denied
}
