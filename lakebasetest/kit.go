package lakebasetest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/lakebase-go/lakebase/lakebasetest/pgserver"
)

// The default instance and endpoint that Start registers.
const (
	DefaultInstance = "lakebase-test"
	DefaultEndpoint = "projects/test/branches/main/endpoints/primary"
)

// The default user and native role that Start registers; Kit.User and
// Kit.NativeRole name them.
const (
	defaultUser = "person@example.com"
	defaultRole = "native_app"
)

// Options configure Start.
type Options struct {
	// Postgres says which server to use; the zero value starts a throwaway
	// cluster.
	Postgres pgserver.Options
	// CredentialLifetime is how long minted credentials live; zero means an
	// hour, as on Lakebase. Tests of rotation use seconds.
	CredentialLifetime time.Duration
	// MintLatency delays every credential mint, as a cloud round trip does.
	MintLatency time.Duration
	// StrictCredentialBinding makes the gateways accept a credential only
	// for the instance or endpoint it was minted for. By default a
	// credential is workspace-scoped, as Lakebase's guide for external apps
	// describes it: good for any target its identity may use.
	StrictCredentialBinding bool
	// PgBouncer starts the PgBouncer behind the pooled hosts with the kit,
	// rather than at the first pooled login, so that New and Shared.Kit
	// skip a test where pgbouncer is not installed (see New).
	PgBouncer bool
	// PgBouncerPoolSize is how many server connections the PgBouncer
	// behind the pooled hosts keeps per role and database; 0 means 20.
	PgBouncerPoolSize int
}

// Kit is a Lakebase on one machine: a PostgreSQL server, a fake workspace,
// and a gateway in front of the server for every host of every instance and
// endpoint. Start registers a default service principal, user, native role,
// instance and endpoint, and DSNs gives ready-made DSNs for each auth mode.
// Its methods are safe for concurrent use.
type Kit struct {
	// Postgres is the server behind every gateway.
	Postgres *pgserver.Server
	// Workspace is the fake Databricks workspace.
	Workspace *Workspace
	// ServicePrincipal, User and NativeRole/NativePassword are the default
	// identities: a machine (oauth-m2m), a person (pat, oauth-u2m) and a
	// native Postgres role (password). The native role is native_app on a
	// server of the kit's own, and a name of its own on a server given by
	// Options.Postgres.URL, so that kits sharing a server do not reset each
	// other's password.
	ServicePrincipal ServicePrincipal
	User             User
	NativeRole       string
	NativePassword   string

	store    *credentialStore
	poolSize int

	bouncerMu sync.Mutex
	bouncer   *pgserver.PgBouncer // started by the first pooled login

	mu       sync.Mutex
	gateways map[string]*Gateway   // by the host the workspace gives
	byTarget map[string][]*Gateway // in the order they started
	closed   bool
}

// Start starts a kit: the server (or the existing one opts.Postgres.URL
// names), the workspace, the default identities, and the default instance
// (with a read-only host and native login) and endpoint (with read-only and
// pooled hosts). Call Close when done.
func Start(ctx context.Context, opts Options) (*Kit, error) {
	pg, err := pgserver.Start(ctx, opts.Postgres)
	if err != nil {
		return nil, err
	}
	store := newCredentialStore(nil)
	if opts.StrictCredentialBinding {
		store.bindToTargets()
	}
	k := &Kit{
		Postgres:         pg,
		Workspace:        newWorkspace(store),
		store:            store,
		poolSize:         opts.PgBouncerPoolSize,
		gateways:         make(map[string]*Gateway),
		byTarget:         make(map[string][]*Gateway),
		ServicePrincipal: ServicePrincipal{ApplicationID: uuid.NewString(), Secret: "sp-secret-" + randomHex(16), DisplayName: "lakebase test app"},
		User:             User{Email: defaultUser, Token: "dapi" + randomHex(16), RefreshToken: "refresh-" + randomHex(16)},
		NativeRole:       nativeRoleFor(opts.Postgres),
		NativePassword:   "native-" + randomHex(12),
	}
	if opts.CredentialLifetime > 0 {
		k.Workspace.SetCredentialLifetime(opts.CredentialLifetime)
	}
	k.Workspace.SetMintLatency(opts.MintLatency)
	err = errors.Join(
		k.AddServicePrincipal(ctx, k.ServicePrincipal),
		k.AddUser(ctx, k.User),
		k.addRole(ctx, k.NativeRole, k.NativePassword),
		k.Workspace.SetBrowserUser(k.User.Email),
	)
	if err == nil {
		_, err = k.AddInstance(InstanceOptions{Name: DefaultInstance, ReadOnly: true, NativeLogin: true})
	}
	if err == nil {
		_, err = k.AddEndpoint(EndpointOptions{Path: DefaultEndpoint, ReadOnly: true, Pooled: true})
	}
	if err == nil && opts.PgBouncer {
		err = k.StartPgBouncer(ctx)
	}
	if err != nil {
		return nil, errors.Join(err, k.Close())
	}
	return k, nil
}

// AddServicePrincipal registers a service principal with the workspace and
// creates its Postgres role.
func (k *Kit) AddServicePrincipal(ctx context.Context, sp ServicePrincipal) error {
	if err := k.Workspace.AddServicePrincipal(sp); err != nil {
		return err
	}
	return k.addRole(ctx, sp.ApplicationID, "")
}

// AddUser registers a person with the workspace and creates their Postgres
// role.
func (k *Kit) AddUser(ctx context.Context, u User) error {
	if err := k.Workspace.AddUser(u); err != nil {
		return err
	}
	return k.addRole(ctx, u.Email, "")
}

// AddGroup creates the Postgres role of a Databricks group, as Lakebase
// does for an OAuth role made for a group, and makes members (users' e-mails
// or service principals' application ids) members of the group: each may
// log in as the group's role with a credential minted for themselves.
// Calling it again adds members.
func (k *Kit) AddGroup(ctx context.Context, name string, members ...string) error {
	if name == "" {
		return errors.New("lakebasetest: add group: empty name")
	}
	if err := k.addRole(ctx, name, ""); err != nil {
		return err
	}
	k.store.addMembers(name, members...)
	return nil
}

// nativeRoleFor names the default native role of a kit on the server that
// opts describe: a server shared with other kits gets a role per kit.
func nativeRoleFor(opts pgserver.Options) string {
	if opts.URL == "" {
		return defaultRole
	}
	return defaultRole + "_" + randomHex(6)
}

// addRole creates a Postgres role that can create tables, as Lakebase's
// roles can: a Databricks identity's without a password, which only a
// gateway lets in, or a native role's with one, where an instance or endpoint
// allows native login.
func (k *Kit) addRole(ctx context.Context, name, password string) error {
	return k.Postgres.CreateRole(ctx, name, password)
}

// InstanceOptions describe a Provisioned instance for AddInstance.
type InstanceOptions struct {
	// Name identifies the instance.
	Name string
	// State is AVAILABLE when empty (Instance.State lists the others).
	State string
	// ReadOnly gives the instance a read-only host (readable secondaries),
	// served by a gateway of its own in front of the same server.
	ReadOnly bool
	// NativeLogin lets native roles log in with their passwords.
	NativeLogin bool
}

// AddInstance starts the gateways of a Provisioned instance and registers it
// with the workspace, whose lookups then give the gateways' addresses. It
// returns the read-write gateway.
func (k *Kit) AddInstance(opts InstanceOptions) (*Gateway, error) {
	inst := Instance{Name: opts.Name, State: opts.State, NativeLogin: opts.NativeLogin}
	hosts := []targetHost{{addr: &inst.ReadWriteHost, nativeLogin: opts.NativeLogin}}
	if opts.ReadOnly {
		hosts = append(hosts, targetHost{addr: &inst.ReadOnlyHost, nativeLogin: opts.NativeLogin})
	}
	rw, err := k.startHosts(instanceTarget(opts.Name), hosts)
	if err != nil {
		return nil, err
	}
	return rw, k.Workspace.AddInstance(inst)
}

// EndpointOptions describe an Autoscaling endpoint for AddEndpoint.
type EndpointOptions struct {
	// Path is "projects/P/branches/B/endpoints/E".
	Path string
	// State is ACTIVE when empty (Endpoint.State lists the others).
	State string
	// ReadOnly gives the endpoint a read-only host.
	ReadOnly bool
	// Pooled gives it pooled hosts: a gateway that checks credentials as
	// the others do, in front of a PgBouncer in transaction mode (one per
	// kit, started by the first pooled login) in front of the server. They
	// accept minted credentials and native passwords, as Lakebase's pooler
	// does.
	Pooled bool
	// PooledNativeOnly makes the pooled hosts refuse minted credentials,
	// as Lakebase's pooler did before it took OAuth roles.
	PooledNativeOnly bool
}

// AddEndpoint starts the gateways of an Autoscaling endpoint and registers it
// with the workspace. It returns the read-write gateway.
func (k *Kit) AddEndpoint(opts EndpointOptions) (*Gateway, error) {
	ep := Endpoint{Path: opts.Path, State: opts.State}
	hosts := []targetHost{{addr: &ep.Host, nativeLogin: true}}
	if opts.ReadOnly {
		hosts = append(hosts, targetHost{addr: &ep.ReadOnlyHost, nativeLogin: true})
	}
	if opts.Pooled {
		pooled := targetHost{nativeLogin: true, nativeOnly: opts.PooledNativeOnly, pooled: true}
		pooled.addr = &ep.ReadWritePooledHost
		hosts = append(hosts, pooled)
		if opts.ReadOnly {
			pooled.addr = &ep.ReadOnlyPooledHost
			hosts = append(hosts, pooled)
		}
	}
	rw, err := k.startHosts(endpointTarget(opts.Path), hosts)
	if err != nil {
		return nil, err
	}
	return rw, k.Workspace.AddEndpoint(ep)
}

// targetHost is a host of an instance or endpoint that gets a gateway of its
// own: startHosts writes the gateway's address to addr.
type targetHost struct {
	addr                            *string
	nativeLogin, nativeOnly, pooled bool
}

// startHosts starts a gateway for each of target's hosts and returns the
// first, the read-write one.
func (k *Kit) startHosts(target string, hosts []targetHost) (*Gateway, error) {
	var first *Gateway
	for _, h := range hosts {
		opts := gatewayOptions{Target: target, NativeLogin: h.nativeLogin, NativeOnly: h.nativeOnly}
		if h.pooled {
			opts.Pooler = k.pgBouncer
		}
		g, err := k.startGatewayWith(opts)
		if err != nil {
			return nil, err
		}
		*h.addr = g.Addr()
		if first == nil {
			first = g
		}
	}
	return first, nil
}

// Gateway returns the gateway behind a host that the workspace gives (as
// "host:port"), or nil.
func (k *Kit) Gateway(host string) *Gateway {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.gateways[host]
}

// InstanceGateway returns the read-write gateway of the default instance.
func (k *Kit) InstanceGateway() *Gateway { return k.gatewayOf(instanceTarget(DefaultInstance)) }

// EndpointGateway returns the read-write gateway of the default endpoint.
func (k *Kit) EndpointGateway() *Gateway { return k.gatewayOf(endpointTarget(DefaultEndpoint)) }

// gatewayOf returns the first gateway started for target.
func (k *Kit) gatewayOf(target string) *Gateway {
	k.mu.Lock()
	defer k.mu.Unlock()
	if gs := k.byTarget[target]; len(gs) > 0 {
		return gs[0]
	}
	return nil
}

// StartFailoverGateway starts one more gateway for the registered instance
// name, with its native login setting, as the target of a failover or a
// host added later: point the workspace at its Addr with UpdateInstance.
func (k *Kit) StartFailoverGateway(instance string) (*Gateway, error) {
	inst, ok := wsFind(k.Workspace, k.Workspace.instances, instance)
	if !ok {
		return nil, fmt.Errorf("lakebasetest: start failover gateway: no instance %q", instance)
	}
	return k.startGatewayWith(gatewayOptions{Target: instanceTarget(instance), NativeLogin: inst.NativeLogin})
}

// startGatewayWith starts a gateway in front of the kit's server and
// credential store.
func (k *Kit) startGatewayWith(opts gatewayOptions) (*Gateway, error) {
	opts.Store, opts.Server = k.store, k.Postgres
	g, err := newGateway(opts)
	if err != nil {
		return nil, err
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.closed {
		return nil, errors.Join(errors.New("lakebasetest: kit is closed"), g.Close())
	}
	k.gateways[g.Addr()] = g
	k.byTarget[opts.Target] = append(k.byTarget[opts.Target], g)
	return g, nil
}

// RevokeCredentials makes every credential minted so far invalid, as if
// revoked early: gateways refuse them at the next login.
func (k *Kit) RevokeCredentials() { k.store.revokeAll() }

// Close stops every gateway, the workspace and the server.
func (k *Kit) Close() error {
	k.mu.Lock()
	k.closed = true
	gateways := k.gateways
	k.gateways = map[string]*Gateway{}
	k.mu.Unlock()
	var errs []error
	for _, g := range gateways {
		errs = append(errs, g.Close())
	}
	k.Workspace.Close()
	k.bouncerMu.Lock()
	if k.bouncer != nil {
		errs = append(errs, k.bouncer.Stop())
		k.bouncer = nil
	}
	k.bouncerMu.Unlock()
	errs = append(errs, k.Postgres.Stop())
	return errors.Join(errs...)
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}
