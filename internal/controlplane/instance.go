package controlplane

import (
	"context"
	"errors"
	"time"

	"github.com/databricks/databricks-sdk-go/service/database"
	"github.com/google/uuid"
)

// Instance is what the driver needs to know about a Provisioned instance.
type Instance struct {
	Name         string
	State        string // AVAILABLE, STARTING, STOPPED, UPDATING, DELETING, FAILING_OVER
	Stopped      bool   // effective_stopped: the instance is stopped whatever its state says
	ReadWriteDNS string // the host of the primary
	ReadOnlyDNS  string // the host of the readable secondaries; empty without them
}

// Instance looks up the Provisioned instance name.
//
// A stopped or deleting instance gives ErrStopped; one that is starting,
// updating or failing over gives ErrNotReady together with the instance, so
// the caller may wait and ask again. Errors are *Error with step resolve.
func (c *Client) Instance(ctx context.Context, name string) (Instance, error) {
	return lookup(ctx, c, instanceTarget(name), CheckInstanceName(name), func(ctx context.Context) (*database.DatabaseInstance, error) {
		return c.w.Database.GetDatabaseInstance(ctx, database.GetDatabaseInstanceRequest{Name: name})
	}, instanceOf)
}

// instanceOf keeps what the driver needs of the SDK's instance.
func instanceOf(di *database.DatabaseInstance) Instance {
	return Instance{
		Name:         di.Name,
		State:        string(di.State),
		Stopped:      di.EffectiveStopped,
		ReadWriteDNS: di.ReadWriteDns,
		ReadOnlyDNS:  di.ReadOnlyDns,
	}
}

// check classifies the instance's state: nil when it can take connections.
func (i Instance) check() error {
	target := instanceTarget(i.Name)
	switch {
	case i.State == string(database.DatabaseInstanceStateStopped),
		i.State == string(database.DatabaseInstanceStateDeleting):
		return &Error{Step: StepResolve, Target: target, Kind: ErrStopped, State: i.State}
	case i.Stopped:
		return &Error{Step: StepResolve, Target: target, Kind: ErrStopped, State: "STOPPED"}
	case i.State == string(database.DatabaseInstanceStateStarting),
		i.State == string(database.DatabaseInstanceStateUpdating),
		i.State == string(database.DatabaseInstanceStateFailingOver):
		return &Error{Step: StepResolve, Target: target, Kind: ErrNotReady, State: i.State}
	case i.ReadWriteDNS == "":
		return &Error{Step: StepResolve, Target: target, Kind: ErrNotReady, State: i.State,
			Err: errors.New("the workspace gave no host for it yet")}
	}
	return nil
}

// MintForInstance mints a Postgres credential of the calling identity for
// the Provisioned instance name, scoped by claims when there are any. The expiry is the workspace's
// expiration_time, or, when it gives none or one that does not parse, the
// time of the request plus DefaultCredentialLifetime. Errors are *Error with step mint;
// a 429 answer is not retried: it fails at once with kind ErrThrottled and
// a *ThrottledError cause.
func (c *Client) MintForInstance(ctx context.Context, name string, claims []Claim) (token string, expiry time.Time, err error) {
	req := database.GenerateDatabaseCredentialRequest{InstanceNames: []string{name}}
	for _, cl := range claims {
		rc := database.RequestedClaims{PermissionSet: database.RequestedClaimsPermissionSet(cl.PermissionSet)}
		for _, t := range cl.Tables {
			rc.Resources = append(rc.Resources, database.RequestedResource{TableName: t})
		}
		req.Claims = append(req.Claims, rc)
	}
	return c.mint(ctx, instanceTarget(name), CheckInstanceName(name), DefaultCredentialLifetime, func(ctx context.Context) (mintAnswer, error) {
		req.RequestId = uuid.NewString()
		cred, err := c.w.Database.GenerateDatabaseCredential(ctx, req)
		if err != nil {
			return mintAnswer{}, err
		}
		return mintAnswer{cred.Token, cred.ExpirationTime}, nil
	})
}
