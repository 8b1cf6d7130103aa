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
	target := instanceTarget(name)
	if err := CheckInstanceName(name); err != nil {
		return Instance{}, &Error{Step: StepResolve, Target: target, Kind: ErrConfig, Err: err}
	}
	ctx, err := c.prepare(ctx)
	if err != nil {
		return Instance{}, fail(StepResolve, target, err)
	}
	di, err := c.w.Database.GetDatabaseInstance(ctx, database.GetDatabaseInstanceRequest{Name: name})
	if err != nil {
		return Instance{}, fail(StepResolve, target, err)
	}
	inst := instanceOf(di)
	return inst, inst.check()
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
// the Provisioned instance name. The expiry is the workspace's
// expiration_time, or, when it gives none or one that does not parse, the
// time of the request plus DefaultCredentialLifetime. Errors are *Error with step mint;
// a 429 answer is not retried: it fails at once with kind ErrThrottled and
// a *ThrottledError cause.
func (c *Client) MintForInstance(ctx context.Context, name string) (token string, expiry time.Time, err error) {
	target := instanceTarget(name)
	if err := CheckInstanceName(name); err != nil {
		return "", time.Time{}, &Error{Step: StepMint, Target: target, Kind: ErrConfig, Err: err}
	}
	ctx, err = c.prepare(ctx)
	if err != nil {
		return "", time.Time{}, fail(StepMint, target, err)
	}
	started := time.Now()
	cred, err := c.w.Database.GenerateDatabaseCredential(reportThrottling(ctx), database.GenerateDatabaseCredentialRequest{
		InstanceNames: []string{name},
		RequestId:     uuid.NewString(),
	})
	if err != nil {
		return "", time.Time{}, fail(StepMint, target, err)
	}
	if cred.Token == "" {
		return "", time.Time{}, &Error{Step: StepMint, Target: target, Err: errors.New("the workspace returned no token")}
	}
	return cred.Token, c.expiryOr(ctx, target, cred.ExpirationTime, started, DefaultCredentialLifetime), nil
}
