package main

import (
	"context"
	"database/sql/driver"
	"fmt"
	"sync"
	"time"

	"github.com/databricks/databricks-sdk-go"
	"github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/service/database"
	"github.com/google/uuid"
	"github.com/lakebase-go/lakebase/lakebasetest"
	"github.com/lib/pq"
)

// The naive strategies below are what users write by hand around lib/pq and
// the Databricks SDK when their driver knows nothing of credentials. They
// live here only, to be measured against the driver.

// naiveMinter mints credentials for the kit's default instance with the
// Databricks SDK, as a user's own code does, and notes when each mint landed.
type naiveMinter struct {
	sdk      *databricks.WorkspaceClient
	instance string

	mu    sync.Mutex
	times []time.Time
}

// newNaiveMinter returns a minter logged in as the kit's service principal.
func newNaiveMinter(kit *lakebasetest.Kit) (*naiveMinter, error) {
	w, err := databricks.NewWorkspaceClient(&databricks.Config{
		Host:         kit.Workspace.URL(),
		ClientID:     kit.ServicePrincipal.ApplicationID,
		ClientSecret: kit.ServicePrincipal.Secret,
		AuthType:     "oauth-m2m",
		Loaders:      []config.Loader{config.ConfigAttributes},
	})
	if err != nil {
		return nil, fmt.Errorf("bench: SDK client: %w", err)
	}
	return &naiveMinter{sdk: w, instance: lakebasetest.DefaultInstance}, nil
}

// mint asks the workspace for a new credential.
func (m *naiveMinter) mint(ctx context.Context) (string, error) {
	cred, err := m.sdk.Database.GenerateDatabaseCredential(ctx, database.GenerateDatabaseCredentialRequest{
		InstanceNames: []string{m.instance},
		RequestId:     uuid.NewString(),
	})
	if err != nil {
		return "", err
	}
	m.mu.Lock()
	m.times = append(m.times, time.Now())
	m.mu.Unlock()
	return cred.Token, nil
}

// mintTimes returns when each mint so far landed, and forgets them.
func (m *naiveMinter) mintTimes() []time.Time {
	m.mu.Lock()
	defer m.mu.Unlock()
	t := m.times
	m.times = nil
	return t
}

// naiveLogin is where the naive strategies log in: the host and user a user
// looked up once.
type naiveLogin struct {
	host string
	port int
	user string
	ca   string
}

// connect opens a lib/pq connection with password.
func (l naiveLogin) connect(ctx context.Context, password string) (driver.Conn, error) {
	c, err := pq.NewConnector(keyValueDSN(l.host, l.port, l.user, password, l.ca))
	if err != nil {
		return nil, err
	}
	return c.Connect(ctx)
}

// mintPerConnection mints a new credential for every connection.
type mintPerConnection struct {
	minter *naiveMinter
	login  naiveLogin
}

// Connect implements driver.Connector.
func (c *mintPerConnection) Connect(ctx context.Context) (driver.Conn, error) {
	tok, err := c.minter.mint(ctx)
	if err != nil {
		return nil, err
	}
	return c.login.connect(ctx, tok)
}

// Driver implements driver.Connector.
func (c *mintPerConnection) Driver() driver.Driver { return &pq.Driver{} }

// fixedCache keeps a credential for a fixed time (15 minutes, typically),
// whatever its expiry, and mints the next one under its lock when that time
// is up, so that callers who arrive meanwhile wait.
type fixedCache struct {
	minter *naiveMinter
	login  naiveLogin
	keep   time.Duration

	mu     sync.Mutex
	token  string
	minted time.Time
}

// Connect implements driver.Connector.
func (c *fixedCache) Connect(ctx context.Context) (driver.Conn, error) {
	c.mu.Lock()
	if c.token == "" || time.Since(c.minted) >= c.keep {
		tok, err := c.minter.mint(ctx)
		if err != nil {
			c.mu.Unlock()
			return nil, err
		}
		c.token, c.minted = tok, time.Now()
	}
	tok := c.token
	c.mu.Unlock()
	return c.login.connect(ctx, tok)
}

// Driver implements driver.Connector.
func (c *fixedCache) Driver() driver.Driver { return &pq.Driver{} }
