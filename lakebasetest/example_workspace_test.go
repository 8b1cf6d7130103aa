package lakebasetest_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	"github.com/lakebase-go/lakebase/lakebasetest"
)

// call sends a request to the workspace's API with a bearer token, as the
// Databricks SDK would, and returns the status and the JSON answer.
func call(w *lakebasetest.Workspace, token, method, path, body string) (int, map[string]any) {
	return send(w, method, path, body, func(req *http.Request) { req.Header.Set("Authorization", "Bearer "+token) })
}

// send sends a request to the workspace, with auth adding its credentials,
// and returns the status and the JSON answer.
func send(w *lakebasetest.Workspace, method, path, body string, auth func(*http.Request)) (int, map[string]any) {
	req, err := http.NewRequest(method, w.URL()+path, strings.NewReader(body))
	if err != nil {
		panic(err)
	}
	auth(req)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		panic(err)
	}
	defer resp.Body.Close()
	var answer map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&answer)
	return resp.StatusCode, answer
}

// adaWorkspace starts a workspace that knows a user, ada, with the personal
// access token dapi-ada.
func adaWorkspace() *lakebasetest.Workspace {
	w := lakebasetest.NewWorkspace()
	if err := w.AddUser(lakebasetest.User{Email: "ada@example.com", Token: "dapi-ada"}); err != nil {
		panic(err)
	}
	return w
}

// workspaceWith starts a workspace that knows ada, an instance and an
// endpoint.
func workspaceWith() *lakebasetest.Workspace {
	w := adaWorkspace()
	err := w.AddInstance(lakebasetest.Instance{Name: "orders", ReadWriteHost: "orders.database.example"})
	if err == nil {
		err = w.AddEndpoint(lakebasetest.Endpoint{Path: "projects/shop/branches/main/endpoints/primary",
			Host: "ep-primary.database.example"})
	}
	if err != nil {
		panic(err)
	}
	return w
}

// clientCredentials logs sp in to the workspace's token route, as the SDK's
// oauth-m2m does, and returns the route's answer.
func clientCredentials(w *lakebasetest.Workspace, sp lakebasetest.ServicePrincipal) map[string]any {
	_, token := send(w, "POST", "/oidc/v1/token", "grant_type=client_credentials&scope=all-apis", func(req *http.Request) {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.SetBasicAuth(sp.ApplicationID, sp.Secret)
	})
	return token
}

const instanceCredentialBody = `{"instance_names": ["orders"], "request_id": "r1"}`

// A workspace on its own serves the Databricks API to code under test,
// here the instance lookup and SCIM Me.
func ExampleNewWorkspace() {
	w := lakebasetest.NewWorkspace()
	defer w.Close()
	if err := w.AddUser(lakebasetest.User{Email: "ada@example.com", Token: "dapi-ada"}); err != nil {
		panic(err)
	}
	if err := w.AddInstance(lakebasetest.Instance{Name: "orders", ReadWriteHost: "orders.database.example"}); err != nil {
		panic(err)
	}
	_, inst := call(w, "dapi-ada", "GET", "/api/2.0/database/instances/orders", "")
	_, me := call(w, "dapi-ada", "GET", "/api/2.0/preview/scim/v2/Me", "")
	fmt.Println(inst["read_write_dns"], me["userName"])
	// Output: orders.database.example ada@example.com
}

func ExampleWorkspace_URL() {
	w := lakebasetest.NewWorkspace()
	defer w.Close()
	fmt.Println(strings.HasPrefix(w.URL(), "http://127.0.0.1:"))
	// Output: true
}

func ExampleWorkspace_Close() {
	w := lakebasetest.NewWorkspace()
	w.Close()
	_, err := http.Get(w.URL() + "/.well-known/databricks-config")
	fmt.Println(err != nil)
	// Output: true
}

func ExampleWorkspace_AddInstance() {
	w := adaWorkspace()
	defer w.Close()
	err := w.AddInstance(lakebasetest.Instance{Name: "orders", ReadWriteHost: "orders.database.example", NativeLogin: true})
	if err != nil {
		panic(err)
	}
	_, inst := call(w, "dapi-ada", "GET", "/api/2.0/database/instances/orders", "")
	fmt.Println(inst["state"], inst["read_write_dns"])
	// Output: AVAILABLE orders.database.example
}

func ExampleWorkspace_AddEndpoint() {
	w := workspaceWith()
	defer w.Close()
	_, ep := call(w, "dapi-ada", "GET", "/api/2.0/postgres/projects/shop/branches/main/endpoints/primary", "")
	status := ep["status"].(map[string]any)
	fmt.Println(status["current_state"], status["hosts"].(map[string]any)["host"])
	// Output: ACTIVE ep-primary.database.example
}

func ExampleWorkspace_AddServicePrincipal() {
	w := lakebasetest.NewWorkspace()
	defer w.Close()
	sp := lakebasetest.ServicePrincipal{ApplicationID: "3f1c0d5e-app", Secret: "s3cret"}
	if err := w.AddServicePrincipal(sp); err != nil {
		panic(err)
	}
	token := clientCredentials(w, sp)
	_, me := call(w, token["access_token"].(string), "GET", "/api/2.0/preview/scim/v2/Me", "")
	fmt.Println(me["userName"])
	// Output: 3f1c0d5e-app
}

func ExampleWorkspace_AddUser() {
	w := lakebasetest.NewWorkspace()
	defer w.Close()
	if err := w.AddUser(lakebasetest.User{Email: "ada@example.com", Token: "dapi-ada"}); err != nil {
		panic(err)
	}
	status, _ := call(w, "dapi-ada", "GET", "/api/2.0/preview/scim/v2/Me", "")
	fmt.Println(status)
	// Output: 200
}

func ExampleWorkspace_Fail() {
	w := workspaceWith()
	defer w.Close()
	w.Fail("database-credential", lakebasetest.Fault{Status: http.StatusTooManyRequests, RetryAfter: time.Second, Times: 1})
	first, answer := call(w, "dapi-ada", "POST", "/api/2.0/database/credentials", instanceCredentialBody)
	second, _ := call(w, "dapi-ada", "POST", "/api/2.0/database/credentials", instanceCredentialBody)
	fmt.Println(first, answer["error_code"], second)
	// Output: 429 REQUEST_LIMIT_EXCEEDED 200
}

func ExampleWorkspace_ClearFaults() {
	w := workspaceWith()
	defer w.Close()
	w.Fail("me", lakebasetest.Fault{Status: http.StatusServiceUnavailable})
	before, _ := call(w, "dapi-ada", "GET", "/api/2.0/preview/scim/v2/Me", "")
	w.ClearFaults()
	after, _ := call(w, "dapi-ada", "GET", "/api/2.0/preview/scim/v2/Me", "")
	fmt.Println(before, after)
	// Output: 503 200
}

func ExampleWorkspace_Requests() {
	w := workspaceWith()
	defer w.Close()
	call(w, "dapi-ada", "GET", "/api/2.0/database/instances/orders", "")
	call(w, "dapi-ada", "GET", "/api/2.0/database/instances/unknown", "")
	fmt.Println(w.Requests("instance"), w.Requests("instances"))
	// Output: 2 0
}

func ExampleWorkspace_Mints() {
	w := workspaceWith()
	defer w.Close()
	_, cred := call(w, "dapi-ada", "POST", "/api/2.0/database/credentials", instanceCredentialBody)
	fmt.Println(cred["token"] != "", w.Mints())
	// Output: true 1
}

func ExampleWorkspace_MintsFor() {
	w := workspaceWith()
	defer w.Close()
	call(w, "dapi-ada", "POST", "/api/2.0/database/credentials", instanceCredentialBody)
	fmt.Println(w.MintsFor("ada@example.com"), w.MintsFor("someone@example.com"))
	// Output: 1 0
}

func ExampleWorkspace_MintsForInstance() {
	w := workspaceWith()
	defer w.Close()
	call(w, "dapi-ada", "POST", "/api/2.0/database/credentials", instanceCredentialBody)
	fmt.Println(w.MintsForInstance("orders"))
	// Output: 1
}

func ExampleWorkspace_MintsForEndpoint() {
	w := workspaceWith()
	defer w.Close()
	call(w, "dapi-ada", "POST", "/api/2.0/postgres/credentials", `{"endpoint": "projects/shop/branches/main/endpoints/primary"}`)
	fmt.Println(w.MintsForEndpoint("projects/shop/branches/main/endpoints/primary"))
	// Output: 1
}

func ExampleWorkspace_DenyInstance() {
	w := workspaceWith()
	defer w.Close()
	w.DenyInstance("orders", "ada@example.com")
	lookup, _ := call(w, "dapi-ada", "GET", "/api/2.0/database/instances/orders", "")
	mint, answer := call(w, "dapi-ada", "POST", "/api/2.0/database/credentials", instanceCredentialBody)
	fmt.Println(lookup, mint, answer["error_code"])
	// Output: 200 403 PERMISSION_DENIED
}

func ExampleWorkspace_DenyEndpoint() {
	w := workspaceWith()
	defer w.Close()
	w.DenyEndpoint("projects/shop/branches/main/endpoints/primary", "ada@example.com")
	status, _ := call(w, "dapi-ada", "POST", "/api/2.0/postgres/credentials", `{"endpoint": "projects/shop/branches/main/endpoints/primary"}`)
	fmt.Println(status)
	// Output: 403
}

func ExampleWorkspace_DenyProjectListing() {
	w := workspaceWith()
	defer w.Close()
	w.DenyProjectListing("shop", "ada@example.com")
	projects, _ := call(w, "dapi-ada", "GET", "/api/2.0/postgres/projects", "")
	branches, _ := call(w, "dapi-ada", "GET", "/api/2.0/postgres/projects/shop/branches", "")
	fmt.Println(projects, branches)
	// Output: 200 403
}

// A failover, then a stop; a state the API does not have is refused.
func ExampleWorkspace_UpdateInstance() {
	w := workspaceWith()
	defer w.Close()
	for _, state := range []string{"FAILING_OVER", "STOPPED"} {
		if err := w.UpdateInstance("orders", func(i *lakebasetest.Instance) { i.State = state }); err != nil {
			panic(err)
		}
		_, inst := call(w, "dapi-ada", "GET", "/api/2.0/database/instances/orders", "")
		fmt.Println(inst["state"], inst["effective_stopped"])
	}
	fmt.Println(w.UpdateInstance("orders", func(i *lakebasetest.Instance) { i.State = "RUNNING" }))
	_ = w.UpdateInstance("orders", func(i *lakebasetest.Instance) { i.ReadWriteHost = "orders-2.database.example" })
	_, inst := call(w, "dapi-ada", "GET", "/api/2.0/database/instances/orders", "")
	fmt.Println(inst["read_write_dns"])
	// Output:
	// FAILING_OVER <nil>
	// STOPPED true
	// lakebasetest: change instance "orders": unknown state "RUNNING"
	// orders-2.database.example
}

// endpointStatus is the status of the example's endpoint, as looked up.
func endpointStatus(w *lakebasetest.Workspace) map[string]any {
	_, ep := call(w, "dapi-ada", "GET", "/api/2.0/postgres/projects/shop/branches/main/endpoints/primary", "")
	return ep["status"].(map[string]any)
}

// An endpoint scales to zero, then wakes; its owner disables it; it moves
// to other hosts.
func ExampleWorkspace_UpdateEndpoint() {
	w := workspaceWith()
	defer w.Close()
	path := "projects/shop/branches/main/endpoints/primary"
	for _, state := range []string{"IDLE", "INIT", "ACTIVE"} {
		if err := w.UpdateEndpoint(path, func(ep *lakebasetest.Endpoint) { ep.State = state }); err != nil {
			panic(err)
		}
		fmt.Println(endpointStatus(w)["current_state"])
	}
	_ = w.UpdateEndpoint(path, func(ep *lakebasetest.Endpoint) { ep.State, ep.PendingState = "IDLE", "ACTIVE" })
	status := endpointStatus(w)
	fmt.Println(status["current_state"], status["pending_state"])
	_ = w.UpdateEndpoint(path, func(ep *lakebasetest.Endpoint) { ep.Disabled = true })
	fmt.Println(endpointStatus(w)["disabled"])
	_ = w.UpdateEndpoint(path, func(ep *lakebasetest.Endpoint) {
		ep.Host, ep.ReadOnlyHost = "ep-2.database.example", "ep-2-ro.database.example"
	})
	hosts := endpointStatus(w)["hosts"].(map[string]any)
	fmt.Println(hosts["host"], hosts["read_only_host"])
	// Output:
	// IDLE
	// INIT
	// ACTIVE
	// IDLE ACTIVE
	// true
	// ep-2.database.example ep-2-ro.database.example
}

func ExampleWorkspace_SetCredentialLifetime() {
	w := workspaceWith()
	defer w.Close()
	w.SetCredentialLifetime(5 * time.Second)
	_, cred := call(w, "dapi-ada", "POST", "/api/2.0/database/credentials", instanceCredentialBody)
	expiry, _ := time.Parse(time.RFC3339, cred["expiration_time"].(string))
	fmt.Println(time.Until(expiry) <= 5*time.Second)
	// Output: true
}

func ExampleWorkspace_SetMintLatency() {
	w := workspaceWith()
	defer w.Close()
	w.SetMintLatency(200 * time.Millisecond)
	start := time.Now()
	call(w, "dapi-ada", "POST", "/api/2.0/database/credentials", instanceCredentialBody)
	fmt.Println(time.Since(start) >= 200*time.Millisecond)
	// Output: true
}

func ExampleWorkspace_SetExpiryFormat() {
	w := workspaceWith()
	defer w.Close()
	w.SetExpiryFormat(func(time.Time) string { return "tomorrow" })
	_, cred := call(w, "dapi-ada", "POST", "/api/2.0/database/credentials", instanceCredentialBody)
	fmt.Println(cred["expiration_time"])
	// Output: tomorrow
}

func ExampleWorkspace_SetOAuthTokenLifetime() {
	w := lakebasetest.NewWorkspace()
	defer w.Close()
	w.SetOAuthTokenLifetime(90 * time.Second)
	sp := lakebasetest.ServicePrincipal{ApplicationID: "app", Secret: "s3cret"}
	_ = w.AddServicePrincipal(sp)
	fmt.Println(clientCredentials(w, sp)["expires_in"])
	// Output: 90
}

func ExampleWorkspace_SetCloud() {
	w := lakebasetest.NewWorkspace()
	defer w.Close()
	if err := w.SetCloud("Azure"); err != nil {
		panic(err)
	}
	_, metadata := call(w, "", "GET", "/.well-known/databricks-config", "")
	fmt.Println(metadata["cloud"])
	fmt.Println(w.SetCloud("OnPrem"))
	// Output:
	// Azure
	// lakebasetest: set cloud: want AWS, Azure or GCP, got "OnPrem"
}

// The workspace plays the browser of a signed-in user for the SDK's u2m
// login: pass OpenBrowser to u2m.WithBrowser. Here the browser visits an
// authorize URL whose callback, http://localhost:PORT as the Databricks CLI
// registers it, is the example's own server.
func ExampleWorkspace_OpenBrowser() {
	w := lakebasetest.NewWorkspace()
	defer w.Close()
	_ = w.AddUser(lakebasetest.User{Email: "ada@example.com"})
	if err := w.SetBrowserUser("ada@example.com"); err != nil {
		panic(err)
	}
	codes := make(chan string, 1)
	app := httptest.NewServer(http.HandlerFunc(func(_ http.ResponseWriter, r *http.Request) {
		codes <- r.URL.Query().Get("code")
	}))
	defer app.Close()
	redirect := "http://localhost:" + app.URL[strings.LastIndex(app.URL, ":")+1:]
	authorize := w.URL() + "/oidc/v1/authorize?response_type=code&client_id=databricks-cli&state=s" +
		"&code_challenge_method=S256&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM" +
		"&redirect_uri=" + url.QueryEscape(redirect)
	if err := w.OpenBrowser(authorize); err != nil {
		panic(err)
	}
	fmt.Println(<-codes != "", w.BrowserError())
	// Output: true <nil>
}

// Code under test talks to the workspace as to Databricks: here it lists
// the workspace's instances.
func ExampleWorkspace() {
	w := workspaceWith()
	defer w.Close()
	_, list := call(w, "dapi-ada", "GET", "/api/2.0/database/instances", "")
	for _, inst := range list["database_instances"].([]any) {
		fmt.Println(inst.(map[string]any)["name"])
	}
	// Output: orders
}
