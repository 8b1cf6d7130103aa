package lakebase

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/lakebase-go/lakebase/internal/backoff"
	"github.com/lakebase-go/lakebase/internal/pqsession"
	"github.com/lakebase-go/lakebase/internal/telemetry"
	"github.com/lib/pq"
)

// Connect opens a new connection: it resolves the host, learns the identity,
// takes a valid credential from the cache and logs in through lib/pq. It
// honours ctx throughout and, when ctx ends, returns ctx.Err() itself.
func (c *Connector) Connect(ctx context.Context) (driver.Conn, error) {
	var conn driver.Conn
	err := c.open(ctx, func(ctx context.Context, host hostPort, user string, cred Token, dialed func(error)) (err error) {
		conn, err = c.login(ctx, pqsession.Login{Host: host.host, Port: host.port, User: user, Password: cred.Value, Dialed: dialed})
		return err
	})
	if err != nil {
		return nil, err
	}
	return conn, nil
}

// contextEnded returns ctx's error, also in the moment after its deadline
// passed and before ctx itself noticed (a dial that timed out at the
// deadline sees that moment).
func contextEnded(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if deadline, ok := ctx.Deadline(); ok && !time.Now().Before(deadline) {
		return context.DeadlineExceeded
	}
	return nil
}

// loginFunc makes one login attempt: at host, as user, with cred, calling
// dialed (when the client can tell) once the server is reached. Its error
// says what went wrong the way a PostgreSQL client says it: a refusal by the
// server carries the SQLSTATE (see sqlState); anything else is taken for a
// failure to reach the server.
type loginFunc func(ctx context.Context, host hostPort, user string, cred Token, dialed func(error)) error

// open frames the steps of one new connection, for Connect's logins through
// lib/pq and for Open's through the caller's client: it honours ctx and
// Close, and when ctx ends it returns ctx.Err() itself and logs the step it
// ended at.
func (c *Connector) open(ctx context.Context, login loginFunc) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.closed.Load() {
		return ErrConnectorClosed
	}
	// Close ends the connects in flight too: their lookups, their waits for
	// a credential or a starting target, and their logins.
	start := time.Now()
	ctx, span := c.tel.StartConnect(ctx)
	tied, untie := c.life.Tie(ctx)
	err := c.attempts(tied, login)
	untie()
	final := err
	if err != nil {
		if cerr := contextEnded(ctx); cerr != nil {
			c.logContextEnded(ctx, cerr, err, time.Since(start))
			final = cerr
		} else if c.closed.Load() {
			final = ErrConnectorClosed
		}
	}
	c.tel.EndConnect(ctx, span, start, final, failedStep(err))
	return final
}

// attempts runs the steps of one connection. It retries once after a login
// rejected for authentication, when the cache drops the credential (it keeps
// it when new credentials are refused too: see credcache's Invalidate), once
// after a dial failure to a looked-up host (which may have moved), and,
// within the connect budget, while the target is starting or waking.
func (c *Connector) attempts(ctx context.Context, login loginFunc) error {
	retriedLogin, retriedDial := false, false
	wait := c.newWait(ctx)
	cold := c.startAhead(ctx, wait)
	defer cold.end()
	for {
		host, err := runStep(c, ctx, wait, telemetry.SpanResolve, c.target.resolve)
		if err != nil {
			if errors.Is(err, ErrNotReady) && c.pauseNotReady(ctx, wait, err) {
				c.target.forget()
				continue
			}
			return c.stepError("resolve", "", c.workspaceBudget(ctx, err))
		}
		c.tel.Resolved(ctx, host.host, int(host.port))
		user, err := takeStep(cold.identityStep(), ctx, func() (string, error) {
			return runStep(c, ctx, wait, telemetry.SpanIdentity, c.identity)
		})
		if err != nil {
			return c.stepError("identity", "", c.workspaceBudget(ctx, err))
		}
		c.tel.Identified(ctx, user)
		cred, err := takeStep(cold.mintStep(), ctx, func() (Token, error) {
			return runStep(c, ctx, wait, telemetry.SpanMint, c.creds.credential)
		})
		if err != nil {
			return c.stepError("mint", user, c.workspaceBudget(ctx, err))
		}
		spans := c.tel.StartDial(ctx)
		lctx, release := wait.bound(ctx)
		err = login(lctx, host, user, cred, spans.Hook())
		release()
		spans.End(err)
		if err == nil {
			c.creds.confirmed(cred)
			return nil
		}
		if cerr := contextEnded(ctx); cerr != nil {
			return c.stepError("dial", user, cerr) // the server had not answered
		}
		if budgetEnded(err, wait) {
			if !errors.Is(err, context.DeadlineExceeded) { // lib/pq's own deadline: say it alike
				err = fmt.Errorf("%w (%w)", context.DeadlineExceeded, err)
			}
			return c.stepError("dial", user, fmt.Errorf("no answer within the connect budget of %s (connect_timeout): %w", c.budget, err))
		}
		state := sqlState(err)
		switch {
		case isAuthFailure(state) && !retriedLogin && c.creds.rejected(cred):
			retriedLogin = true
			c.loginRetries.Add(1)
			c.tel.Retrying(ctx, "lakebase.login.retry", err)
			c.logger.LogAttrs(ctx, slog.LevelWarn, "lakebase: login rejected; retrying with a new credential",
				slog.String("target", c.target.describe()), slog.String("user", user))
			continue
		case state == "57P03" && c.pauseNotReady(ctx, wait, err):
			// cannot_connect_now: the server is starting, as a waking
			// endpoint's does.
			continue
		case state == "" && c.target.looksUp() && !retriedDial:
			retriedDial = true
			c.tel.Retrying(ctx, "lakebase.dial.retry", err)
			c.target.forget()
			continue
		}
		step := "dial"
		if state != "" {
			step = "login"
			err = c.explainLogin(ctx, user, err)
		}
		return c.stepError(step, user, err)
	}
}

// runStep runs one workspace step of a connect (resolve, identity, mint)
// under its span, bounded by the connect budget.
func runStep[T any](c *Connector, ctx context.Context, wait *connectWait, span string, load func(context.Context) (T, error)) (T, error) {
	sctx, done := c.startStep(ctx, wait, span)
	v, err := load(sctx)
	done(err)
	return v, err
}

// startStep starts a workspace step of a connect: its span, and a context
// bounded by the connect budget; done ends both.
func (c *Connector) startStep(ctx context.Context, wait *connectWait, span string) (sctx context.Context, done func(error)) {
	sctx, end := c.tel.Step(ctx, span)
	sctx, release := wait.bound(sctx)
	return sctx, func(err error) {
		release()
		end(err)
	}
}

// coldStart holds the identity and mint steps of a cold connect, which
// startAhead runs beside the lookup once the workspace login is done.
// Whichever of startAhead and the connect reaches a step first runs it,
// span and all, and the other takes its outcome.
type coldStart struct {
	identity *sharedStep[string]
	mint     *sharedStep[Token]
	ended    chan struct{} // closed when the connect's attempts end
}

// startAhead starts, on a cold connector (see mintsAhead), the identity and
// mint steps of the connect while its lookup runs, so that a cold start
// costs one round trip to the workspace after its login instead of up to
// three in a row. They start once the lookup has made the workspace client
// and the login is done (see controlplane's LoggedIn), so that a login that
// fails is asked for once, by the lookup, and not at all if the connect
// ends first. Once started they run to their end within the connect
// budget, whatever the connect's context: their loads are the connector's.
// The connect still reports its steps' errors in order: a failed lookup
// fails it first, though a credential minted meanwhile stays cached. It
// returns nil when the connector is not cold.
func (c *Connector) startAhead(ctx context.Context, wait *connectWait) *coldStart {
	if !c.target.mintsAhead() {
		return nil
	}
	cold := &coldStart{identity: &sharedStep[string]{}, mint: &sharedStep[Token]{}, ended: make(chan struct{})}
	c.life.Run(func(context.Context) {
		actx, untie := c.life.Tie(context.WithoutCancel(ctx))
		defer untie()
		actx, release := wait.bound(actx)
		defer release()
		client, ok := c.client.Await(actx)
		if !ok {
			return
		}
		select {
		case <-client.LoggedIn():
		case <-cold.ended:
			return
		case <-actx.Done():
			return
		}
		// Claimed and started in the order the connect takes them, so that
		// their spans are in that order too.
		var wg sync.WaitGroup
		runAhead(&wg, cold.identity, func() (context.Context, func(error)) { return c.startStep(actx, wait, telemetry.SpanIdentity) }, c.identity)
		runAhead(&wg, cold.mint, func() (context.Context, func(error)) { return c.startStep(actx, wait, telemetry.SpanMint) }, c.creds.credential)
		wg.Wait()
	})
	return cold
}

// end tells startAhead that the connect's attempts are over: if the login
// is not done yet, it starts nothing.
func (cs *coldStart) end() {
	if cs != nil {
		close(cs.ended)
	}
}

// identityStep and mintStep are the shared steps, nil without a cold start.
func (cs *coldStart) identityStep() *sharedStep[string] {
	if cs == nil {
		return nil
	}
	return cs.identity
}

func (cs *coldStart) mintStep() *sharedStep[Token] {
	if cs == nil {
		return nil
	}
	return cs.mint
}

// sharedStep is a step that either of two goroutines may run, once.
type sharedStep[T any] struct {
	mu    sync.Mutex
	done  chan struct{} // nil until the step starts; closed when it ends
	value T
	err   error
	taken bool // the connect has had the outcome; only the connect's goroutine reads and writes it
}

// run runs step unless it has started already, and returns its outcome,
// waiting for it within ctx.
func (s *sharedStep[T]) run(ctx context.Context, step func() (T, error)) (T, error) {
	if s.claim() {
		v, err := step()
		s.finish(v, err)
		return v, err
	}
	select {
	case <-s.done:
		s.mu.Lock()
		defer s.mu.Unlock()
		return s.value, s.err
	case <-ctx.Done():
		var zero T
		return zero, ctx.Err()
	}
}

// claim reports whether the caller is the one to run the step, marking it
// started if so.
func (s *sharedStep[T]) claim() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.done != nil {
		return false
	}
	s.done = make(chan struct{})
	return true
}

// finish publishes the outcome of the step its caller claimed.
func (s *sharedStep[T]) finish(v T, err error) {
	s.mu.Lock()
	s.value, s.err = v, err
	close(s.done)
	s.mu.Unlock()
}

// runAhead runs s in a goroutine of wg, unless the connect has claimed it:
// start begins its span in the caller's goroutine, load runs in the new one.
func runAhead[T any](wg *sync.WaitGroup, s *sharedStep[T], start func() (context.Context, func(error)), load func(context.Context) (T, error)) {
	if !s.claim() {
		return
	}
	sctx, done := start()
	wg.Add(1)
	go func() {
		defer wg.Done()
		v, err := load(sctx)
		done(err)
		s.finish(v, err)
	}()
}

// takeStep is the outcome of a connect's step: the shared step's, the first
// time the connect asks, and afterwards (a login retried with a fresh
// credential, a target that was not ready) step's own.
func takeStep[T any](s *sharedStep[T], ctx context.Context, step func() (T, error)) (T, error) {
	if s == nil || s.taken {
		return step()
	}
	s.taken = true
	return s.run(ctx, step)
}

// login logs in with l for a Connect with context ctx: it takes a spare or
// waits for a login left by another Connect, else starts a login of its own
// in the background and waits for it under ctx. When ctx ends first it
// returns ctx.Err() and leaves the login to the next Connect.
func (c *Connector) login(ctx context.Context, l pqsession.Login) (driver.Conn, error) {
	key := loginKey{host: l.Host, port: l.Port, user: l.User, password: l.Password}
	if conn, err, ok := c.handoff.adopt(ctx, key); ok {
		return conn, err
	}
	// The login's own deadline: ctx's, or, once ctx has left it, the
	// connect budget from now (connect_timeout, else two minutes), within
	// which lib/pq's own login would have ended too.
	deadline := time.Now().Add(c.budget)
	if d, ok := ctx.Deadline(); ok && d.After(deadline) {
		deadline = d
	}
	bl := &backgroundLogin{key: key, done: make(chan struct{}), waited: true}
	if !c.life.Run(func(lctx context.Context) {
		lctx, cancel := context.WithDeadline(lctx, deadline)
		defer cancel()
		conn, err := c.opener.Open(lctx, l)
		c.handoff.finish(bl, conn, err)
	}) {
		return nil, ErrConnectorClosed
	}
	conn, err, _ := c.handoff.wait(ctx, bl)
	return conn, err
}

// workspaceBudget says so when err, a workspace step's failure, is the end
// of the connect budget that connect_timeout (or the default) set, rather
// than of ctx; a throttled workspace says so itself, and a failure handed
// out during its backoff is an earlier one.
func (c *Connector) workspaceBudget(ctx context.Context, err error) error {
	var be *backoff.Error
	if !errors.Is(err, context.DeadlineExceeded) || errors.Is(err, ErrThrottled) || errors.As(err, &be) || contextEnded(ctx) != nil {
		return err
	}
	return fmt.Errorf("no answer from the workspace within the connect budget of %s (connect_timeout): %w", c.budget, err)
}

// budgetEnded reports whether err says that the connect budget, not ctx,
// ran out during the login: the deadline login set (context's), or lib/pq's
// own connect_timeout deadline on the socket (an i/o timeout once the budget
// has passed).
func budgetEnded(err error, wait *connectWait) bool {
	return errors.Is(err, context.DeadlineExceeded) ||
		(errors.Is(err, os.ErrDeadlineExceeded) && !time.Now().Before(wait.deadline))
}

// defaultConnectBudget is how long Connect waits for a starting or waking
// target when neither the context's deadline nor connect_timeout says.
const defaultConnectBudget = 2 * time.Minute

// Pauses between attempts on a starting target grow from the first to the
// last.
const (
	firstPause = 100 * time.Millisecond
	lastPause  = 2 * time.Second
)

// connectWait spaces the attempts of one Connect on a target that is not
// ready, and ends them when the next pause would overrun the budget.
type connectWait struct {
	deadline time.Time
	next     time.Duration
}

// connectBudget is the budget of a Connect whose context has no deadline:
// connect_timeout, else defaultConnectBudget.
func connectBudget(base pq.Config) time.Duration {
	if base.ConnectTimeout > 0 {
		return base.ConnectTimeout
	}
	return defaultConnectBudget
}

// newWait starts the budget of one Connect: the context's deadline, else
// the connector's budget.
func (c *Connector) newWait(ctx context.Context) *connectWait {
	deadline, ok := ctx.Deadline()
	if !ok {
		deadline = time.Now().Add(c.budget)
	}
	return &connectWait{deadline: deadline, next: firstPause}
}

// pause sleeps before the next attempt and reports true, or reports false at
// once when the budget cannot hold the pause or ctx ends.
func (w *connectWait) pause(ctx context.Context) bool {
	d := w.next
	if time.Until(w.deadline) < d {
		return false
	}
	w.next = min(2*w.next, lastPause)
	return backoff.Sleep(ctx, d, nil)
}

// bound returns ctx with the budget's deadline when it has no deadline of
// its own, so that a step of such a Connect (a wait for a throttled
// workspace, a server that accepts and never answers) ends within the
// budget; and the function that releases it.
func (w *connectWait) bound(ctx context.Context) (context.Context, context.CancelFunc) {
	if _, ok := ctx.Deadline(); ok {
		return ctx, func() {}
	}
	return context.WithDeadline(ctx, w.deadline)
}

// pauseNotReady waits before trying a target that is not ready again, and
// says so in the log, since such waits can make Connect slow for minutes.
// It reports false when the connect budget or ctx does not allow the pause.
func (c *Connector) pauseNotReady(ctx context.Context, wait *connectWait, err error) bool {
	if !wait.pause(ctx) {
		return false
	}
	c.tel.Retrying(ctx, "lakebase.target.not_ready", err)
	c.logger.LogAttrs(ctx, slog.LevelInfo, "lakebase: target not ready; trying again",
		slog.String("target", c.target.describe()), slog.String("reason", err.Error()))
	return true
}

// logContextEnded says at which step (found in err) a Connect was when its
// context ended (with ended), since the caller gets ctx.Err() alone: an
// unreachable workspace or server shows only as a deadline otherwise. A
// deadline is a warning; a cancellation, which the caller chose, is
// information.
func (c *Connector) logContextEnded(ctx context.Context, ended, err error, waited time.Duration) {
	level := slog.LevelWarn
	if ended == context.Canceled {
		level = slog.LevelInfo
	}
	attrs := []slog.Attr{slog.String("target", c.target.describe()), slog.Duration("waited", waited)}
	var ce *ConnectError
	if errors.As(err, &ce) {
		attrs = append(attrs, slog.String("step", ce.Step))
		if ce.User != "" {
			attrs = append(attrs, slog.String("user", ce.User))
		}
	}
	if last := c.failures.Since(time.Now().Add(-waited - failureMemory)); last != "" {
		attrs = append(attrs, slog.String("workspace_failure", last))
	}
	c.logger.LogAttrs(context.WithoutCancel(ctx), level, "lakebase: connect ended by its context", attrs...)
}

// stepError wraps err as the ConnectError of step.
func (c *Connector) stepError(step, user string, err error) error {
	var ce *ConnectError
	if errors.As(err, &ce) {
		return err
	}
	return &ConnectError{Step: step, Target: c.target.describe(), User: user, Err: err}
}

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

// explainLogin adds to err, a login that the server refused, the likely
// cause when the driver can tell it: a role from PGUSER that is not the
// identity's, a pooler that takes native roles only, or an OAuth identity
// without a Postgres role. Anything else returns err as it is.
func (c *Connector) explainLogin(ctx context.Context, user string, err error) error {
	if !isAuthFailure(sqlState(err)) || c.mode == AuthPassword {
		return err
	}
	if e := c.explainUser(ctx, user, err); e != err {
		return e
	}
	if e := c.explainPooler(err); e != err {
		return e
	}
	return &roleHintError{err: err, role: user}
}

// explainUser adds to err, a login refused for its credentials, that the
// role came from PGUSER and is not the identity's user name, when that is
// so and the credential is the workspace identity's: an app or a shell that
// sets PGUSER for another role is a common cause, and the server's own
// message names neither. Anything else returns err as it is.
func (c *Connector) explainUser(ctx context.Context, user string, err error) error {
	if !isAuthFailure(sqlState(err)) || !c.cfg.userFromEnv || c.mode == AuthPassword || c.cfg.TokenSource != nil || c.identityName == nil {
		return err
	}
	name, nerr := c.identityName.Get(ctx)
	if nerr != nil || name == user {
		return err
	}
	return &userFromEnvError{err: err, user: user, identity: name}
}

// explainPooler adds to err, a login refused for its credentials, that a
// pooled host refused a minted OAuth credential, when that is so: a pooler
// that takes native roles only answers like a wrong password. Anything else
// returns err as it is.
func (c *Connector) explainPooler(err error) error {
	if !c.cfg.Pooled || c.mode == AuthPassword || !isAuthFailure(sqlState(err)) {
		return err
	}
	return &poolerRefusalError{err: err}
}

// sqlState returns the SQLSTATE of the server's answer in err, or "" when
// the server did not answer (a network or TLS failure). lib/pq's *pq.Error
// and pgconn's *PgError both tell it.
func sqlState(err error) string {
	var se interface{ SQLState() string }
	if errors.As(err, &se) {
		return se.SQLState()
	}
	return ""
}

// isAuthFailure reports whether the server refused the login for its
// credentials: SQLSTATE 28P01 (invalid_password) or 28000
// (invalid_authorization_specification).
func isAuthFailure(state string) bool { return state == "28P01" || state == "28000" }
