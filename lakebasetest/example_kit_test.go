package lakebasetest_test

import (
	"context"
	"database/sql"
	"fmt"
	"log"
	"os"
	"testing"
	"time"

	_ "github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/lakebasetest"
)

// The examples below that start a kit need PostgreSQL, and an example cannot
// skip where there is none, so go test compiles them without running them;
// the comment at the end of each shows what it prints. In a test, New starts
// the kit and skips without PostgreSQL.

// m2mDSN is a DSN for instance that logs in as sp, verified with the kit's CA.
func m2mDSN(kit *lakebasetest.Kit, instance string, sp lakebasetest.ServicePrincipal) string {
	return fmt.Sprintf("instance=%s workspace=%s auth=oauth-m2m client_id=%s client_secret=%s sslmode=verify-full sslrootcert=%s",
		instance, kit.Workspace.URL(), sp.ApplicationID, sp.Secret, kit.Postgres.CAFile())
}

// openDB opens dsn with driver, or ends the program.
func openDB(driver, dsn string) *sql.DB {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		log.Fatal(err)
	}
	return db
}

// endpointDSN is a DSN for the endpoint at path that logs in as the kit's
// service principal.
func endpointDSN(kit *lakebasetest.Kit, path string) string {
	sp := kit.ServicePrincipal
	return fmt.Sprintf("endpoint=%s workspace=%s auth=oauth-m2m client_id=%s client_secret=%s sslmode=verify-full sslrootcert=%s",
		path, kit.Workspace.URL(), sp.ApplicationID, sp.Secret, kit.Postgres.CAFile())
}

// currentUser opens dsn with the driver and returns current_user.
func currentUser(dsn string) (string, error) {
	db := openDB("lakebase", dsn)
	defer db.Close()
	var user string
	err := db.QueryRow("SELECT current_user").Scan(&user)
	return user, err
}

// startKit starts a kit for an example, or ends the program.
func startKit(opts lakebasetest.Options) *lakebasetest.Kit {
	kit, err := lakebasetest.Start(context.Background(), opts)
	if err != nil {
		log.Fatal(err)
	}
	return kit
}

// A test starts its own kit with New, which closes it when the test ends.
func ExampleNew() {
	testOrders := func(t *testing.T) {
		kit := lakebasetest.New(t, lakebasetest.Options{CredentialLifetime: 5 * time.Second})
		db, err := sql.Open("lakebase", kit.DSNs().M2M)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		if err := db.Ping(); err != nil {
			t.Fatal(err)
		}
	}
	_ = testOrders
}

// A program, such as a local demo, starts a kit and closes it.
func ExampleStart() {
	kit, err := lakebasetest.Start(context.Background(), lakebasetest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer kit.Close()
	user, err := currentUser(kit.DSNs().M2M)
	fmt.Println(user == kit.ServicePrincipal.ApplicationID, err)
	// true <nil>
}

// The tests of a package share one kit, started by the first test that
// asks for it and closed by TestMain.
func ExampleShared() {
	var shared lakebasetest.Shared
	testMain := func(m *testing.M) {
		code := m.Run()
		if err := shared.Close(); err != nil {
			code = 1
		}
		os.Exit(code)
	}
	testOrders := func(t *testing.T) {
		db, err := sql.Open("lakebase", shared.Kit(t).DSNs().M2M)
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
	}
	_, _ = testMain, testOrders
}

func ExampleShared_Kit() {
	shared := lakebasetest.Shared{Options: lakebasetest.Options{CredentialLifetime: 10 * time.Second}}
	testA := func(t *testing.T) { _ = shared.Kit(t).DSNs().M2M } // starts the kit
	testB := func(t *testing.T) { _ = shared.Kit(t).DSNs().PAT } // the same kit
	_, _ = testA, testB
}

func ExampleShared_Close() {
	var shared lakebasetest.Shared
	fmt.Println(shared.Close()) // no test started it
	// Output: <nil>
}

// With StrictCredentialBinding a credential minted for one instance does not
// log in to another, as a test of code that must mint per target wants.
func ExampleOptions() {
	kit := startKit(lakebasetest.Options{
		CredentialLifetime:      30 * time.Second,
		MintLatency:             50 * time.Millisecond,
		StrictCredentialBinding: true,
	})
	defer kit.Close()
	user, err := currentUser(kit.DSNs().M2M)
	fmt.Println(user == kit.ServicePrincipal.ApplicationID, err)
	// true <nil>
}

func ExampleKit() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	fmt.Println(kit.User.Email, kit.NativeRole != "", kit.Workspace.URL() != "", kit.Postgres.Port() > 0)
	// person@example.com true true true
}

func ExampleKit_DSNs() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	dsns := kit.DSNs()
	for _, login := range []struct{ dsn, role string }{
		{dsns.M2M, kit.ServicePrincipal.ApplicationID},
		{dsns.PAT, kit.User.Email},
		{dsns.Password, kit.NativeRole},
		{dsns.Endpoint, kit.ServicePrincipal.ApplicationID},
	} {
		user, err := currentUser(login.dsn)
		fmt.Println(user == login.role, err)
	}
	// true <nil>
	// true <nil>
	// true <nil>
	// true <nil>
}

func ExampleDSNs() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	db := openDB("lakebase", kit.DSNs().PAT)
	defer db.Close()
	fmt.Println(db.Ping())
	// <nil>
}

func ExampleKit_AddServicePrincipal() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	sp := lakebasetest.ServicePrincipal{ApplicationID: "6a1f3c2e-orders-app", Secret: "orders-secret"}
	if err := kit.AddServicePrincipal(context.Background(), sp); err != nil {
		log.Fatal(err)
	}
	fmt.Println(currentUser(m2mDSN(kit, lakebasetest.DefaultInstance, sp)))
	// 6a1f3c2e-orders-app <nil>
}

func ExampleKit_AddUser() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	u := lakebasetest.User{Email: "grace@example.com", Token: "dapi-grace"}
	if err := kit.AddUser(context.Background(), u); err != nil {
		log.Fatal(err)
	}
	fmt.Println(currentUser(fmt.Sprintf("instance=%s workspace=%s auth=pat token=%s sslmode=verify-full sslrootcert=%s",
		lakebasetest.DefaultInstance, kit.Workspace.URL(), u.Token, kit.Postgres.CAFile())))
	// grace@example.com <nil>
}

// A member of a group logs in as the group's role with a credential minted
// for themselves.
func ExampleKit_AddGroup() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	if err := kit.AddGroup(context.Background(), "analysts", kit.ServicePrincipal.ApplicationID); err != nil {
		log.Fatal(err)
	}
	fmt.Println(currentUser(m2mDSN(kit, lakebasetest.DefaultInstance, kit.ServicePrincipal) + " user=analysts"))
	// analysts <nil>
}

func ExampleKit_AddInstance() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	gw, err := kit.AddInstance(lakebasetest.InstanceOptions{Name: "orders", ReadOnly: true})
	if err != nil {
		log.Fatal(err)
	}
	_, err = currentUser(m2mDSN(kit, "orders", kit.ServicePrincipal))
	fmt.Println(gw.Stats().Accepted, err)
	// 1 <nil>
}

func ExampleInstanceOptions() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	_, err := kit.AddInstance(lakebasetest.InstanceOptions{Name: "archive", State: "STOPPED"})
	if err != nil {
		log.Fatal(err)
	}
	_, err = currentUser(m2mDSN(kit, "archive", kit.ServicePrincipal))
	fmt.Println(err != nil) // the driver does not wait for a stopped instance
	// true
}

func ExampleKit_AddEndpoint() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	path := "projects/shop/branches/dev/endpoints/primary"
	gw, err := kit.AddEndpoint(lakebasetest.EndpointOptions{Path: path})
	if err != nil {
		log.Fatal(err)
	}
	_, err = currentUser(endpointDSN(kit, path))
	fmt.Println(gw.Stats().Accepted, err)
	// 1 <nil>
}

// An endpoint that was scaled to zero: the driver wakes it and waits.
func ExampleEndpointOptions() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	path := "projects/shop/branches/dev/endpoints/primary"
	if _, err := kit.AddEndpoint(lakebasetest.EndpointOptions{Path: path, State: "IDLE", ReadOnly: true}); err != nil {
		log.Fatal(err)
	}
	time.AfterFunc(time.Second, func() {
		_ = kit.Workspace.UpdateEndpoint(path, func(ep *lakebasetest.Endpoint) { ep.State = "ACTIVE" })
	})
	_, err := currentUser(endpointDSN(kit, path))
	fmt.Println(err)
	// <nil>
}

// A failover: the instance's host moves to a new gateway.
func ExampleKit_StartFailoverGateway() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	old, err := kit.AddInstance(lakebasetest.InstanceOptions{Name: "orders"})
	if err != nil {
		log.Fatal(err)
	}
	next, err := kit.StartFailoverGateway("orders")
	if err != nil {
		log.Fatal(err)
	}
	_ = old.SetOutage(true)
	if err := kit.Workspace.UpdateInstance("orders", func(i *lakebasetest.Instance) { i.ReadWriteHost, i.ReadOnlyHost = next.Addr(), "" }); err != nil {
		log.Fatal(err)
	}
	_, err = currentUser(m2mDSN(kit, "orders", kit.ServicePrincipal))
	fmt.Println(next.Stats().Accepted, err)
	// 1 <nil>
}

func ExampleKit_Gateway() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	gw, err := kit.AddInstance(lakebasetest.InstanceOptions{Name: "orders"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(kit.Gateway(gw.Addr()) == gw, kit.Gateway("127.0.0.1:1") == nil)
	// true true
}

func ExampleKit_InstanceGateway() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	_, err := currentUser(kit.DSNs().M2M)
	fmt.Println(kit.InstanceGateway().Stats().Accepted, err)
	// 1 <nil>
}

func ExampleKit_EndpointGateway() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	_, err := currentUser(kit.DSNs().Endpoint)
	fmt.Println(kit.EndpointGateway().Stats().Accepted, err)
	// 1 <nil>
}

// Credentials revoked early: the gateways refuse the cached one, and the
// driver mints another.
func ExampleKit_RevokeCredentials() {
	kit := startKit(lakebasetest.Options{})
	defer kit.Close()
	db := openDB("lakebase", kit.DSNs().M2M)
	defer db.Close()
	db.SetMaxIdleConns(0) // every query logs in
	_ = db.Ping()
	kit.RevokeCredentials()
	err := db.Ping()
	fmt.Println(kit.InstanceGateway().Stats().Rejected, kit.Workspace.Mints(), err)
	// 1 2 <nil>
}

func ExampleKit_Close() {
	kit := startKit(lakebasetest.Options{})
	fmt.Println(kit.Close())
	// <nil>
}
