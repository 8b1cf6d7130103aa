package lakebase

import (
	"fmt"
	"time"
)

// failureMemory is how long before a call a workspace failure still tells
// why the call ran out of time: the lookup it waited for may have started
// earlier, for another caller, and the SDK's pauses between retries grow to
// seconds.
const failureMemory = time.Minute

// endedError is the error of a Credential, Host or User call whose context
// ended (with cerr) at step: cerr itself, or, when a request to the
// workspace failed since a little before start (the SDK retries 5xx
// answers and network errors until time runs out), a *ConnectError that wraps cerr and says
// what that failure was, since "context deadline exceeded" alone does not
// tell an unreachable workspace from a slow one.
func (c *Connector) endedError(cerr error, step, user string, start time.Time) error {
	last := c.failures.Since(start.Add(-failureMemory))
	if last == "" {
		return cerr
	}
	return &ConnectError{Step: step, Target: c.target.describe(), User: user,
		Err: fmt.Errorf("the workspace did not answer in time (last failure: %s): %w", last, cerr)}
}
