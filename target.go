package lakebase

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"

	"github.com/lakebase-go/lakebase/internal/controlplane"
	"github.com/lakebase-go/lakebase/internal/lazy"
	"github.com/lakebase-go/lakebase/internal/telemetry"
)

// hostPort is where to dial.
type hostPort struct {
	host string
	port uint16
}

// String is host:port, as a dialer takes it.
func (h hostPort) String() string { return net.JoinHostPort(h.host, strconv.Itoa(int(h.port))) }

// targetResolver finds the host to dial.
type targetResolver interface {
	resolve(ctx context.Context) (hostPort, error)
	// looksUp reports whether the host comes from a lookup that forget can
	// redo (a dial failure may mean the instance moved).
	looksUp() bool
	// forget drops a looked-up host so that the next resolve looks again.
	forget()
	// describe names the target in errors and logs.
	describe() string
	// mintsAhead reports whether a mint may start before the lookup
	// answers: the Config names the instance or endpoint, so the mint does
	// not need the lookup's answer, and the lookup has neither an answer
	// nor a failure remembered.
	mintsAhead() bool
}

// fixedHost is a target named by host and port alone.
type fixedHost hostPort

func (f fixedHost) resolve(context.Context) (hostPort, error) { return hostPort(f), nil }

func (fixedHost) looksUp() bool { return false }

func (fixedHost) forget() {}

func (fixedHost) mintsAhead() bool { return false }

func (f fixedHost) describe() string {
	return "host " + strconv.Quote(hostPort(f).String())
}

// mintTarget is what credentials are minted for: one instance or one endpoint.
type mintTarget struct {
	instance string
	endpoint string
}

// lookedUp is a target whose host, and perhaps whose identity as an instance
// or endpoint, the workspace tells: an instance, an endpoint, or a host that
// a Databricks App names in PGHOST.
type lookedUp struct {
	cfg    *Config
	client *lazy.Value[*controlplane.Client]
	fixed  *hostPort // a host written in the Config; it wins over the lookup

	named      mintTarget             // the instance or endpoint the Config names
	discovered lazy.Value[mintTarget] // otherwise found by the fixed host
	host       lazy.Value[hostPort]
}

func newLookedUp(cfg *Config, client *lazy.Value[*controlplane.Client], life *lazy.Lifetime) *lookedUp {
	t := &lookedUp{cfg: cfg, client: client, named: mintTarget{cfg.Instance, cfg.Endpoint}}
	if cfg.Host != "" {
		t.fixed = &hostPort{host: cfg.Host, port: uint16(cfg.Port)}
	}
	t.discovered = lazy.Value[mintTarget]{Life: life, Kind: telemetry.LookupTarget, Load: t.discover}
	t.host = lazy.Value[hostPort]{Life: life, Kind: telemetry.LookupHost, Load: t.lookUpHost}
	return t
}

func (t *lookedUp) resolve(ctx context.Context) (hostPort, error) {
	if t.fixed != nil {
		return *t.fixed, nil
	}
	return t.host.Get(ctx)
}

func (t *lookedUp) looksUp() bool { return t.fixed == nil }

func (t *lookedUp) forget() { t.host.Forget() }

func (t *lookedUp) mintsAhead() bool {
	return t.fixed == nil && t.named != (mintTarget{}) && t.host.Cold()
}

func (t *lookedUp) describe() string {
	switch {
	case t.named.instance != "":
		return "instance " + strconv.Quote(t.named.instance)
	case t.named.endpoint != "":
		return "endpoint " + strconv.Quote(t.named.endpoint)
	case t.fixed != nil:
		return fixedHost(*t.fixed).describe()
	}
	return "no target"
}

// target returns what to mint for.
func (t *lookedUp) target(ctx context.Context) (mintTarget, error) {
	if t.named != (mintTarget{}) {
		return t.named, nil
	}
	return t.discovered.Get(ctx)
}

// discover finds the instance or endpoint that serves the fixed host.
func (t *lookedUp) discover(ctx context.Context) (mintTarget, error) {
	if t.fixed == nil {
		return mintTarget{}, invalidKey("instance", "no target: name an instance, an endpoint or a host")
	}
	client, err := t.client.Get(ctx)
	if err != nil {
		return mintTarget{}, err
	}
	found, err := client.FindByHost(ctx, t.fixed.String())
	switch {
	case errors.Is(err, ErrStopped):
		// A stopped instance or a disabled endpoint takes no connection;
		// minting for it would only hide why.
		return mintTarget{}, err
	case found.Instance != nil:
		return mintTarget{instance: found.Instance.Name}, nil
	case found.Endpoint != nil:
		return mintTarget{endpoint: found.Endpoint.Path}, nil
	}
	return mintTarget{}, err
}

// lookUpHost asks the workspace for the host of the named instance or
// endpoint.
func (t *lookedUp) lookUpHost(ctx context.Context) (hostPort, error) {
	client, err := t.client.Get(ctx)
	if err != nil {
		return hostPort{}, err
	}
	var host string
	switch {
	case t.named.instance != "":
		inst, err := client.Instance(ctx, t.named.instance)
		if err != nil {
			return hostPort{}, err
		}
		host = inst.ReadWriteDNS
		if t.cfg.ReadOnly {
			host = inst.ReadOnlyDNS
			if host == "" {
				return hostPort{}, fmt.Errorf("%w: read_only=true, but the instance has no read-only host (enable readable secondaries)", ErrNotFound)
			}
		}
	case t.named.endpoint != "":
		ep, err := client.Endpoint(ctx, t.named.endpoint)
		// An idle endpoint wakes when a connection arrives: dial it.
		if err != nil && !(errors.Is(err, ErrNotReady) && ep.Wakes()) {
			return hostPort{}, err
		}
		host = endpointHost(ep, t.cfg.ReadOnly, t.cfg.Pooled)
		if host == "" {
			return hostPort{}, fmt.Errorf("%w: the endpoint has no %s", ErrNotFound, endpointHostKind(t.cfg.ReadOnly, t.cfg.Pooled))
		}
	default:
		return hostPort{}, invalidKey("instance", "no target: name an instance, an endpoint or a host")
	}
	return splitLookedUpHost(host, uint16(t.cfg.Port))
}

// endpointHost picks the endpoint's host for the read-only and pooled flags.
func endpointHost(ep controlplane.Endpoint, readOnly, pooled bool) string {
	switch {
	case readOnly && pooled:
		return ep.ReadOnlyPooledHost
	case pooled:
		return ep.PooledHost
	case readOnly:
		return ep.ReadOnlyHost
	}
	return ep.Host
}

func endpointHostKind(readOnly, pooled bool) string {
	switch {
	case readOnly && pooled:
		return "read-only pooled host"
	case pooled:
		return "pooled host"
	case readOnly:
		return "read-only host"
	}
	return "read-write host"
}

// splitLookedUpHost accepts a looked-up host with or without a port: Lakebase
// gives bare host names (port 5432); the test kit gives host:port.
func splitLookedUpHost(host string, defaultPort uint16) (hostPort, error) {
	if h, p, err := net.SplitHostPort(host); err == nil {
		port, err := strconv.ParseUint(p, 10, 16)
		if err != nil || port == 0 {
			return hostPort{}, fmt.Errorf("looked-up host %q has a bad port", host)
		}
		return hostPort{host: h, port: uint16(port)}, nil
	}
	return hostPort{host: host, port: defaultPort}, nil
}
