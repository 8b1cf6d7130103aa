package controlplane

import (
	"context"
	"errors"
	"time"
)

// request makes one request of step about target, the steps every lookup
// and mint share: a request that invalid says is wrong (a bad name, say) is refused as ErrConfig before
// anything is sent; otherwise the client logs in (see prepare) and send is
// called under the prepared context. Every failure is an *Error of step.
func request[T any](ctx context.Context, c *Client, step Step, target string, invalid error, send func(ctx context.Context) (T, error)) (T, error) {
	var zero T
	if invalid != nil {
		return zero, &Error{Step: step, Target: target, Kind: ErrConfig, Err: invalid}
	}
	ctx, err := c.prepare(ctx)
	if err != nil {
		return zero, fail(step, target, err)
	}
	answer, err := send(ctx)
	if err != nil {
		return zero, fail(step, target, err)
	}
	return answer, nil
}

// lookup looks target up with send (see request; step resolve), keeps what
// the driver needs of the answer with keep, and classifies the target's
// state: a target that is not ready comes back with its error, so that the
// caller may wait and ask again.
func lookup[A any, T interface{ check() error }](ctx context.Context, c *Client, target string, invalid error, send func(ctx context.Context) (A, error), keep func(A) T) (T, error) {
	answer, err := request(ctx, c, StepResolve, target, invalid, send)
	if err != nil {
		var zero T
		return zero, err
	}
	t := keep(answer)
	return t, t.check()
}

// mintAnswer is what a mint request returns: the token and its expiry as
// the workspace wrote it.
type mintAnswer struct {
	token, expiry string
}

// mint makes one mint request for target with send, which a 429 answer
// fails at once (see reportThrottling), and returns the token and its
// expiry: the answer's, or, when it gives none or one that does not parse,
// the time of the request plus lifetime.
func (c *Client) mint(ctx context.Context, target string, invalid error, lifetime time.Duration, send func(ctx context.Context) (mintAnswer, error)) (token string, expiry time.Time, err error) {
	var started time.Time
	answer, err := request(ctx, c, StepMint, target, invalid, func(ctx context.Context) (mintAnswer, error) {
		started = time.Now()
		ctx, throttled := reportThrottling(ctx)
		answer, err := send(ctx)
		if te := throttled(); te != nil {
			err = te
		}
		return answer, err
	})
	if err != nil {
		return "", time.Time{}, err
	}
	if answer.token == "" {
		return "", time.Time{}, &Error{Step: StepMint, Target: target, Err: errors.New("the workspace returned no token")}
	}
	return answer.token, c.expiryOr(ctx, target, answer.expiry, started, lifetime), nil
}
