package lakebasetest

import (
	"context"
	"database/sql"
	"errors"
	"strconv"
	"testing"
	"time"

	"github.com/lakebase-go/lakebase/internal/testenv"
	"github.com/lakebase-go/lakebase/lakebasetest/pgserver"
	_ "github.com/lib/pq"
)

// TestKitStartsEverything checks that Start registers the defaults and that
// the gateways it starts are reachable where the workspace says.
func TestKitStartsEverything(t *testing.T) {
	t.Parallel()
	k := New(t, Options{CredentialLifetime: time.Minute})
	ctx := context.Background()

	for _, g := range []*Gateway{k.InstanceGateway(), k.EndpointGateway()} {
		if g == nil {
			t.Fatal("a default gateway is missing")
		}
	}
	cred := k.store.issue(k.ServicePrincipal.ApplicationID, instanceTarget(DefaultInstance), time.Minute, nil)
	g := k.InstanceGateway()
	dsn := "host=" + g.Host() + " port=" + strconv.Itoa(g.Port()) + " user=" + k.ServicePrincipal.ApplicationID +
		" password=" + cred.token + " dbname=" + pgserver.DefaultDatabase + " sslmode=verify-full sslrootcert=" + k.Postgres.CAFile()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, "CREATE TABLE kit_check (id int)"); err != nil {
		t.Fatalf("the service principal cannot create a table: %v", err)
	}
	if k.DSNs().M2M == "" || k.DSNs().Password == "" {
		t.Fatal("DSNs are empty")
	}
}

// BenchmarkKitStartStop measures starting and stopping a whole kit:
// go test -run=^$ -bench=KitStartStop -count=10 ./lakebasetest
func BenchmarkKitStartStop(b *testing.B) {
	for b.Loop() {
		k, err := Start(context.Background(), Options{})
		if err != nil {
			b.Fatal(err)
		}
		if err := k.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// Kits of test processes that run at once (go test ./... runs packages in
// parallel) share an existing server: each creates and grants the same
// default roles, which PostgreSQL refuses to do for two sessions at the same
// moment ("tuple concurrently updated") unless the kits take turns.
func TestKitsShareAnExistingServer(t *testing.T) {
	t.Parallel()
	server := pgserver.New(t)
	const kits = 6
	errs := make(chan error, kits)
	for range kits {
		go func() {
			k, err := Start(context.Background(), Options{Postgres: pgserver.Options{URL: server.SuperuserDSN()}})
			if err == nil {
				err = k.Close()
			}
			errs <- err
		}()
	}
	for range kits {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

// A Shared starts its kit once, for the first test that asks, and closes
// only what it started.
func TestShared(t *testing.T) {
	t.Parallel()
	var unused Shared
	if err := unused.Close(); err != nil {
		t.Errorf("Close of a Shared no test used = %v, want nil", err)
	}
	var s Shared
	first := s.Kit(t)
	if again := s.Kit(t); again != first {
		t.Error("a second Kit call started another kit")
	}
	if err := first.Postgres.CreateRole(context.Background(), "shared_check", ""); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
}

// The test helpers use the server LAKEBASE_TEST_POSTGRES_URL names, unless
// their options ask for a throwaway one; Start takes its options as given.
// (Not parallel: it sets the environment.)
func TestHelpersUseTheServerTheEnvironmentNames(t *testing.T) {
	server := pgserver.New(t)
	t.Setenv(testenv.PostgresURLEnv, server.SuperuserDSN())
	onServer := func(k *Kit) bool { return k.Postgres.Port() == server.Port() }
	if k := New(t, Options{}); !onServer(k) {
		t.Error("New started a server of its own")
	}
	var s Shared
	t.Cleanup(func() { _ = s.Close() })
	if k := s.Kit(t); !onServer(k) {
		t.Error("Shared.Kit started a server of its own")
	}
	if p := pgserver.New(t); p.Port() != server.Port() {
		t.Error("pgserver.New started a server of its own")
	}
	if k := New(t, Options{Postgres: pgserver.Options{MaxConnections: 50}}); onServer(k) {
		t.Error("New with MaxConnections, which only a throwaway server has, used the existing one")
	}
	k, err := Start(context.Background(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer k.Close()
	if onServer(k) {
		t.Error("Start read the environment")
	}
}

// Without PostgreSQL, Start returns pgserver.ErrNotFound, and Shared.Kit
// skips or fails the test, panicking nowhere.
func TestKitWithoutPostgres(t *testing.T) {
	t.Parallel()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	opts := Options{Postgres: pgserver.Options{BinDir: t.TempDir()}}
	if _, err := Start(ctx, opts); !errors.Is(err, pgserver.ErrNotFound) {
		t.Errorf("Start: %v, want pgserver.ErrNotFound", err)
	}
	s := Shared{Options: opts}
	tb := &testenv.Recorder{TB: t}
	tb.Run(func() { s.Kit(tb) })
	if !tb.Skips && !tb.Fails {
		t.Error("Shared.Kit neither skipped nor failed without PostgreSQL")
	}
	if err := s.Close(); err != nil {
		t.Error(err)
	}
}
