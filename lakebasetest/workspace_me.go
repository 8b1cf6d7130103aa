package lakebasetest

import (
	"net/http"

	"github.com/databricks/databricks-sdk-go/service/iam"
	"github.com/google/uuid"
)

// serveMe answers SCIM Me: the caller's userName is their Postgres role, a
// user's e-mail or a service principal's application id.
func (w *Workspace) serveMe(rw http.ResponseWriter, _ *http.Request, identity string) {
	w.mu.Lock()
	sp, isSP := w.sps[identity]
	w.mu.Unlock()
	me := iam.User{
		Id:          wsStableID("identity:" + identity),
		UserName:    identity,
		DisplayName: identity,
		Active:      true,
		Schemas: []iam.UserSchema{
			iam.UserSchemaUrnIetfParamsScimSchemasCore20User,
			iam.UserSchemaUrnIetfParamsScimSchemasExtensionWorkspace20User,
		},
	}
	if isSP {
		if sp.DisplayName != "" {
			me.DisplayName = sp.DisplayName
		}
	} else {
		me.Emails = []iam.ComplexValue{{Value: identity, Type: "work", Primary: true}}
	}
	wsWriteJSON(rw, me)
}

// wsStableID derives a fixed UUID from a name, for the uid and id fields.
func wsStableID(name string) string {
	return uuid.NewSHA1(uuid.NameSpaceURL, []byte(name)).String()
}
