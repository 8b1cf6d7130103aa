package lakebasetest_test

import (
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/lakebase-go/lakebase/lakebasetest"
)

// Printing an identity, with %v or %#v (String and GoString), leaves its
// secrets out.
func ExampleUser() {
	u := lakebasetest.User{Email: "ada@example.com", Token: "dapi-secret", RefreshToken: "refresh-secret"}
	fmt.Printf("%v %#v\n", u, u)
	// Output: User(ada@example.com) User(ada@example.com)
}

func ExampleUser_String() {
	u := lakebasetest.User{Email: "ada@example.com", Token: "dapi-secret"}
	logged := fmt.Sprint(u)
	fmt.Println(logged, strings.Contains(logged, "dapi"))
	// Output: User(ada@example.com) false
}

func ExampleUser_GoString() {
	fmt.Printf("%#v\n", []lakebasetest.User{{Email: "ada@example.com", RefreshToken: "refresh-secret"}})
	// Output: []lakebasetest.User{User(ada@example.com)}
}

func ExampleServicePrincipal() {
	sp := lakebasetest.ServicePrincipal{ApplicationID: "3f1c0d5e-app", Secret: "s3cret", DisplayName: "orders app"}
	fmt.Printf("%v %#v\n", sp, sp)
	// Output: ServicePrincipal(3f1c0d5e-app) ServicePrincipal(3f1c0d5e-app)
}

func ExampleServicePrincipal_String() {
	sp := lakebasetest.ServicePrincipal{ApplicationID: "3f1c0d5e-app", Secret: "s3cret"}
	fmt.Println(fmt.Errorf("cannot log in as %v", sp))
	// Output: cannot log in as ServicePrincipal(3f1c0d5e-app)
}

func ExampleServicePrincipal_GoString() {
	apps := map[string]lakebasetest.ServicePrincipal{"orders": {ApplicationID: "3f1c0d5e-app", Secret: "s3cret"}}
	fmt.Printf("%#v\n", apps)
	// Output: map[string]lakebasetest.ServicePrincipal{"orders":ServicePrincipal(3f1c0d5e-app)}
}

// A slow, then failing, control plane: the next two mints wait a second and
// are answered 503.
func ExampleFault() {
	w := workspaceWith()
	defer w.Close()
	w.Fail("database-credential", lakebasetest.Fault{
		Status: http.StatusServiceUnavailable, Delay: time.Second, Times: 2,
	})
	for range 3 {
		start := time.Now()
		status, _ := call(w, "dapi-ada", "POST", "/api/2.0/database/credentials", instanceCredentialBody)
		fmt.Println(status, time.Since(start) >= time.Second)
	}
	// Output:
	// 503 true
	// 503 true
	// 200 false
}

func ExampleInstance() {
	w := adaWorkspace()
	defer w.Close()
	err := w.AddInstance(lakebasetest.Instance{
		Name:          "orders",
		State:         "STARTING",
		ReadWriteHost: "orders.database.example",
		ReadOnlyHost:  "orders-ro.database.example",
	})
	if err != nil {
		panic(err)
	}
	_, inst := call(w, "dapi-ada", "GET", "/api/2.0/database/instances/orders", "")
	fmt.Println(inst["state"], inst["read_only_dns"], inst["effective_enable_readable_secondaries"])
	// Output: STARTING orders-ro.database.example true
}

func ExampleEndpoint() {
	w := adaWorkspace()
	defer w.Close()
	err := w.AddEndpoint(lakebasetest.Endpoint{
		Path:                "projects/shop/branches/main/endpoints/primary",
		State:               "IDLE",
		PendingState:        "ACTIVE",
		Host:                "ep-primary.database.example",
		ReadWritePooledHost: "ep-primary-pooler.database.example",
	})
	if err != nil {
		panic(err)
	}
	status := endpointStatus(w)
	hosts := status["hosts"].(map[string]any)
	fmt.Println(status["current_state"], status["pending_state"], hosts["host"], hosts["read_write_pooled_host"])
	// Output: IDLE ACTIVE ep-primary.database.example ep-primary-pooler.database.example
}

func ExampleWorkspace_SetBrowserUser() {
	w := lakebasetest.NewWorkspace()
	defer w.Close()
	_ = w.AddUser(lakebasetest.User{Email: "ada@example.com"})
	fmt.Println(w.SetBrowserUser("ada@example.com"))
	fmt.Println(w.SetBrowserUser("nobody@example.com") != nil)
	// Output:
	// <nil>
	// true
}

func ExampleWorkspace_BrowserError() {
	w := lakebasetest.NewWorkspace()
	defer w.Close()
	// The browser cannot reach the application: nothing listens on port 1.
	_ = w.AddUser(lakebasetest.User{Email: "ada@example.com"})
	_ = w.SetBrowserUser("ada@example.com")
	_ = w.OpenBrowser(w.URL() + "/oidc/v1/authorize?response_type=code&client_id=databricks-cli" +
		"&code_challenge_method=S256&code_challenge=x&redirect_uri=http%3A%2F%2Flocalhost%3A1")
	for w.BrowserError() == nil {
		time.Sleep(10 * time.Millisecond)
	}
	fmt.Println("the visit failed")
	// Output: the visit failed
}
