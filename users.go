package lakebase

import (
	"container/list"
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	sdkconfig "github.com/databricks/databricks-sdk-go/config"
	"github.com/databricks/databricks-sdk-go/config/credentials"
	"github.com/lakebase-go/lakebase/internal/controlplane"
	"github.com/lakebase-go/lakebase/internal/lazy"
	"github.com/lakebase-go/lakebase/internal/telemetry"
	"golang.org/x/oauth2"
)

// The headers with which the Databricks Apps proxy forwards a request of a
// signed-in user when the App has user authorization: the user's OAuth
// access token and their e-mail address.
const (
	HeaderForwardedAccessToken = "X-Forwarded-Access-Token"
	HeaderForwardedEmail       = "X-Forwarded-Email"
)

// Defaults of UsersOptions.
const (
	// DefaultConnsPerUser bounds the connections of one user's pool, as
	// Databricks AppKit's per-user pools do.
	DefaultConnsPerUser = 3
	// DefaultUsersMaxConns bounds the connections of all users' pools
	// together: a Lakebase compute takes a few hundred, and the App's own
	// pool and other clients need some.
	DefaultUsersMaxConns = 100
	// DefaultUserIdleTimeout is how long a user's pool is kept without a
	// request: a person between two pages keeps their pool, and with it
	// their credential and open connections.
	DefaultUserIdleTimeout = time.Minute
)

// Errors of Users, for errors.Is.
var (
	// ErrNoUserToken: the request carries no user token (the App has no
	// user authorization, or the request did not come through the Apps
	// proxy), and no UsersOptions.FallbackToken was given.
	ErrNoUserToken = errors.New("lakebase: user: no user token")
	// ErrBadUserToken: the user token is not one: empty after trimming, too
	// long, or holding spaces or control characters. The error never quotes
	// it.
	ErrBadUserToken = errors.New("lakebase: user: malformed user token")
	// ErrUserMismatch: the identity a header claims is not the identity
	// the workspace says the token is.
	ErrUserMismatch = errors.New("lakebase: user: the forwarded identity is not the token's")
	// ErrUsersClosed: the Users was closed.
	ErrUsersClosed = errors.New("lakebase: users: closed")
)

// usersRateLimit is the requests per second that the workspace client of a
// Users may send, for every user together: the SDK's own limit is 15 per
// client, made for one identity, and would queue the first requests of 200
// users (a SCIM Me and a mint each) for half a minute. A workspace that
// throttles answers 429, which the driver obeys (ErrThrottled).
const usersRateLimit = 100

// maxUserToken bounds a user token's length: an OAuth access token is a few
// kilobytes at most.
const maxUserToken = 16 << 10

// UsersOptions bound the pools that a Users holds. The zero value gives the
// defaults.
type UsersOptions struct {
	// ConnsPerUser bounds the connections of each user's pool; zero means
	// DefaultConnsPerUser.
	ConnsPerUser int
	// MaxConns bounds the connections of all users' pools together; zero
	// means DefaultUsersMaxConns. It is kept by holding at most
	// MaxConns/ConnsPerUser users at once.
	MaxConns int
	// MaxUsers bounds how many users' pools are open at once; zero, or more
	// than MaxConns/ConnsPerUser, means MaxConns/ConnsPerUser. When it is
	// reached, a new user's request closes the pool of the user whose last
	// request ended longest ago, or waits, within its context, for a
	// request to end when every user held has one running.
	MaxUsers int
	// IdleTimeout closes a user's pool once no request of theirs has run
	// for that long; zero means DefaultUserIdleTimeout.
	IdleTimeout time.Duration
	// FallbackToken, when set, gives the user token of a request that
	// carries none, for local development outside the Apps proxy: your own
	// workspace token (an OAuth token of `databricks auth token`, or a
	// personal access token). Leave it nil in a deployed App, where a
	// request without a token must fail.
	FallbackToken func(ctx context.Context) (string, error)
}

// UserPools opens and closes the pools that a Users holds, one per user:
// database/sql's for NewUsers, pgx's for lakebasepgx.NewUsers, or another
// client's that logs in through Connector.Open.
type UserPools[P any] struct {
	// Open returns a pool of at most maxConns connections on c. Once it
	// succeeds the pool owns c: closing the pool closes c. When it fails,
	// the Users closes c.
	Open func(c *Connector, maxConns int) (P, error)
	// Close closes a pool that Open returned, waiting for the requests
	// that use it to end.
	Close func(pool P)
}

// Users holds a pool per signed-in user of a Databricks App with user
// authorization, so that every query runs as that user and PostgreSQL's
// grants and row-level security apply to them, not to the App's service
// principal. Make one per App with NewUsers (database/sql) or
// lakebasepgx.NewUsers (pgx), and take the pool of each request's user with
// ForRequest.
//
// The user is who the forwarded token says: the workspace's SCIM Me for that
// token, asked once per token and remembered. A user's pool is a connector of
// its own whose credentials are minted with the user's token, cached and
// refreshed before expiry as any connector's; a newer token of the same
// user serves the next mint, with no new pool. The pools are bounded
// (UsersOptions): each user's connections, the users held at once, an idle
// timeout. Close closes every pool and ends everything the Users runs.
//
// It is safe for concurrent use.
type Users[P any] struct {
	opts  UsersOptions // defaults filled in
	base  *Connector   // the App's own: finds the host and target, with the App's login
	pools UserPools[P]
	life  *lazy.Lifetime
	tel   *telemetry.Users

	client   *lazy.Value[*controlplane.Client] // asks the workspace with each user's token (userBearer)
	place    lazy.Value[userPlace]
	failures controlplane.Failures

	mu        sync.Mutex
	held      map[string]*heldUser[P] // by user name
	order     list.List               // of *heldUser[P], the most recently used first
	tokens    map[tokenKey]verifiedToken
	tokenFIFO []tokenKey // the order tokens were verified in, to bound tokens
	verifying map[tokenKey]*verification
	seq       uint64        // of the last token verified
	freed     chan struct{} // closed, and replaced, when a user held may have become free
	closed    bool
	stats     UsersStats
	closing   sync.WaitGroup // pools being closed
}

// UsersStats are a Users' counters.
type UsersStats struct {
	// Held is how many users' pools are open.
	Held int
	// PoolsOpened counts the pools opened, one per user each time they come
	// back after their pool was closed.
	PoolsOpened uint64
	// IdleClosed counts pools closed after the idle timeout, Evicted those
	// closed to make room for another user.
	IdleClosed, Evicted uint64
	// TokensVerified counts tokens whose identity the workspace was asked.
	TokensVerified uint64
	// Waits counts requests that waited for a user held to become free.
	Waits uint64
}

// tokenKey identifies a user token without keeping it: its SHA-256.
type tokenKey [sha256.Size]byte

// verifiedToken is what the workspace said a token is.
type verifiedToken struct {
	user string
	seq  uint64 // tokens verified later have higher ones
}

// verification is one SCIM Me call in flight, shared by the requests that
// bring the same token.
type verification struct {
	done chan struct{}
	v    verifiedToken
	err  error
}

// userPlace is where every user's pool connects, found once with the App's
// own login: the host, and the instance or endpoint to mint for.
type userPlace struct {
	host   hostPort
	target mintTarget
}

// heldUser is one user's pool.
type heldUser[P any] struct {
	name     string
	pool     P
	conn     *Connector                // the pool's
	token    atomic.Pointer[userToken] // the newest token seen, for the next mint
	elem     *list.Element
	pins     int       // requests running; guarded by Users.mu
	lastUsed time.Time // when the last request ended; guarded by Users.mu
}

// offer makes token, verified as seq, the one the user's next mint uses
// when it is newer than theirs; a mint that failed with the older one (it
// expired, or was revoked) is then tried again at once rather than after its
// backoff.
func (h *heldUser[P]) offer(token string, seq uint64) {
	if seq <= h.token.Load().seq {
		return
	}
	h.token.Store(&userToken{value: token, seq: seq})
	if cc, ok := h.conn.creds.(cachedCredentials); ok {
		cc.cache.Retry()
	}
}

// userToken is a user's token and when it was first verified.
type userToken struct {
	value string
	seq   uint64
}

// NewUsers returns a Users whose pools are database/sql's: each user's
// *sql.DB has at most UsersOptions.ConnsPerUser connections. cfg is the App's
// own configuration (an empty one inside a Databricks App): the target, TLS
// and the other settings of every user's pool, and the login with which the
// host and target are looked up, once. cfg is copied. Nothing is looked up
// until the first request.
func NewUsers(cfg *Config, opts UsersOptions) (*Users[*sql.DB], error) {
	return NewUsersOf(cfg, opts, UserPools[*sql.DB]{
		Open: func(c *Connector, maxConns int) (*sql.DB, error) {
			db := sql.OpenDB(c)
			db.SetMaxOpenConns(maxConns)
			db.SetMaxIdleConns(maxConns)
			return db, nil
		},
		Close: func(db *sql.DB) { _ = db.Close() },
	})
}

// NewUsersOf is NewUsers for pools of another kind, which pools opens and
// closes.
func NewUsersOf[P any](cfg *Config, opts UsersOptions, pools UserPools[P]) (*Users[P], error) {
	if pools.Open == nil || pools.Close == nil {
		return nil, fmt.Errorf("%w: users: UserPools needs Open and Close", ErrInvalidDSN)
	}
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	base, err := NewConnector(cfg)
	if err != nil {
		return nil, err
	}
	lu, ok := base.target.(*lookedUp)
	if !ok {
		_ = base.Close()
		return nil, invalidKey("instance", "per-user pools mint each user's credential in the workspace: name an instance, an endpoint, or a host that the workspace serves")
	}
	u := &Users[P]{
		opts: opts, base: base, pools: pools, life: lazy.NewLifetime(),
		held: make(map[string]*heldUser[P]), tokens: make(map[tokenKey]verifiedToken),
		verifying: make(map[tokenKey]*verification), freed: make(chan struct{}),
	}
	settings := controlplane.Settings{
		Workspace: base.cfg.Workspace, Profile: base.cfg.Profile, Auth: controlplane.AuthAuto,
		SDKConfig: &sdkconfig.Config{Credentials: userBearer{}, AuthType: userBearerName, RateLimitPerSecond: usersRateLimit},
		Logger:    base.cfg.Logger, Failures: &u.failures,
	}
	if wc := base.cfg.WorkspaceClient; settings.Workspace == "" && wc != nil && wc.Config != nil {
		settings.Workspace = wc.Config.Host
	}
	u.client = newWorkspaceClient(u.life, settings)
	u.place = lazy.Value[userPlace]{Life: u.life, Kind: telemetry.LookupHost, Load: func(ctx context.Context) (userPlace, error) {
		target, err := lu.target(ctx)
		if err != nil {
			return userPlace{}, err
		}
		host, err := lu.resolve(ctx)
		return userPlace{host: host, target: target}, err
	}}
	if u.tel, err = telemetry.NewUsers(base.cfg.MeterProvider, base.cfg.GlobalTelemetry, u.heldCount); err != nil {
		_ = base.Close()
		return nil, fmt.Errorf("%w: telemetry: %w", ErrInvalidDSN, err)
	}
	u.life.Run(u.reapIdle)
	return u, nil
}

// withDefaults fills what o leaves zero and checks the rest.
func (o UsersOptions) withDefaults() (UsersOptions, error) {
	switch {
	case o.ConnsPerUser < 0:
		return o, invalidKey("ConnsPerUser", "must not be negative")
	case o.MaxConns < 0:
		return o, invalidKey("MaxConns", "must not be negative")
	case o.MaxUsers < 0:
		return o, invalidKey("MaxUsers", "must not be negative")
	case o.IdleTimeout < 0:
		return o, invalidKey("IdleTimeout", "must not be negative")
	}
	if o.ConnsPerUser == 0 {
		o.ConnsPerUser = DefaultConnsPerUser
	}
	if o.MaxConns == 0 {
		o.MaxConns = DefaultUsersMaxConns
	}
	if o.MaxConns < o.ConnsPerUser {
		return o, invalidKey("MaxConns", "is less than ConnsPerUser: not one user fits")
	}
	if limit := o.MaxConns / o.ConnsPerUser; o.MaxUsers == 0 || o.MaxUsers > limit {
		o.MaxUsers = limit
	}
	if o.IdleTimeout == 0 {
		o.IdleTimeout = DefaultUserIdleTimeout
	}
	return o, nil
}

// ForRequest returns the pool of the user who sent r through the Databricks
// Apps proxy: the user of its X-Forwarded-Access-Token, checked against its
// X-Forwarded-Email when there is one. The pool is the same for every
// request of that user, and is kept at least until r's context ends, when
// its handler has returned; do not use it after that.
//
// Errors: ErrNoUserToken, ErrBadUserToken, ErrUserMismatch, ErrUsersClosed;
// a *ConnectError of step identity when the workspace refuses the token
// (ErrUnauthenticated for an expired or revoked one); or, when every user
// held has a request running and r's context ends first, an error wrapping
// the context's. No error holds the token.
func (u *Users[P]) ForRequest(r *http.Request) (P, error) {
	token := r.Header.Get(HeaderForwardedAccessToken)
	if token == "" && u.opts.FallbackToken != nil {
		var err error
		if token, err = u.opts.FallbackToken(r.Context()); err != nil {
			var zero P
			return zero, fmt.Errorf("lakebase: user: fallback token: %w", err)
		}
	}
	if token == "" {
		var zero P
		return zero, fmt.Errorf("%w: the request has no %s header: turn on user authorization for the App, "+
			"or set UsersOptions.FallbackToken for local development", ErrNoUserToken, HeaderForwardedAccessToken)
	}
	return u.get(r.Context(), token, r.Header.Get(HeaderForwardedEmail))
}

// ForToken returns the pool of the user whose OAuth access token is token,
// for servers that get it other than through an *http.Request. The pool is
// kept at least until ctx ends: give it the context of the request, never
// one that does not end (the user's pool would never close). Its errors
// are ForRequest's.
func (u *Users[P]) ForToken(ctx context.Context, token string) (P, error) {
	return u.get(ctx, token, "")
}

// get returns the pool of token's user, checking that claimed, when given,
// names that user, and holds it until ctx ends.
func (u *Users[P]) get(ctx context.Context, token, claimed string) (P, error) {
	var zero P
	if err := checkUserToken(token); err != nil {
		return zero, err
	}
	if u.isClosed() {
		return zero, ErrUsersClosed
	}
	place, err := u.place.Get(ctx)
	if err != nil {
		if cerr := contextEnded(ctx); cerr != nil {
			return zero, cerr
		}
		return zero, u.base.stepError("resolve", "", err)
	}
	v, err := u.verify(ctx, token)
	if err != nil {
		return zero, err
	}
	if claimed != "" && !strings.EqualFold(claimed, v.user) {
		return zero, fmt.Errorf("%w: %s is %q, but the token is %q's", ErrUserMismatch, HeaderForwardedEmail, claimed, v.user)
	}
	return u.acquire(ctx, place, v, token)
}

// checkUserToken refuses what cannot be an OAuth access token, without
// quoting it.
func checkUserToken(token string) error {
	switch {
	case token == "":
		return fmt.Errorf("%w: empty", ErrNoUserToken)
	case len(token) > maxUserToken:
		return fmt.Errorf("%w: longer than %d bytes", ErrBadUserToken, maxUserToken)
	case strings.HasPrefix(token, "Bearer "):
		return fmt.Errorf("%w: it starts with \"Bearer \": pass the token alone", ErrBadUserToken)
	}
	for i := range len(token) {
		if c := token[i]; c <= ' ' || c >= 0x7f {
			return fmt.Errorf("%w: it holds a space, a control character or a non-ASCII byte at offset %d", ErrBadUserToken, i)
		}
	}
	return nil
}

// verify returns the user of token: remembered, or asked of the workspace
// (SCIM Me with the token) with one call in flight per token.
func (u *Users[P]) verify(ctx context.Context, token string) (verifiedToken, error) {
	key := tokenKey(sha256.Sum256([]byte(token)))
	u.mu.Lock()
	if v, ok := u.tokens[key]; ok {
		u.mu.Unlock()
		return v, nil
	}
	call := u.verifying[key]
	if call == nil {
		call = &verification{done: make(chan struct{})}
		u.verifying[key] = call
		if !u.life.Run(func(lctx context.Context) { u.runVerification(lctx, key, token, call) }) {
			delete(u.verifying, key)
			u.mu.Unlock()
			return verifiedToken{}, ErrUsersClosed
		}
	}
	u.mu.Unlock()
	select {
	case <-call.done:
		return call.v, call.err
	case <-ctx.Done():
		return verifiedToken{}, ctx.Err()
	}
}

// runVerification asks the workspace who token is, under the Users'
// lifetime and the connect budget, and remembers the answer.
func (u *Users[P]) runVerification(ctx context.Context, key tokenKey, token string, call *verification) {
	ctx, cancel := context.WithTimeout(ctx, u.base.budget)
	defer cancel()
	name, err := u.userName(ctx, token)
	u.mu.Lock()
	delete(u.verifying, key)
	if err == nil {
		u.seq++
		u.stats.TokensVerified++
		call.v = verifiedToken{user: name, seq: u.seq}
		u.tokens[key] = call.v
		u.tokenFIFO = append(u.tokenFIFO, key)
		// A token is remembered while it may still be in use: a few per
		// user held.
		for len(u.tokenFIFO) > 4*u.opts.MaxUsers {
			delete(u.tokens, u.tokenFIFO[0])
			u.tokenFIFO = u.tokenFIFO[1:]
		}
	} else {
		call.err = u.base.stepError("identity", "", err)
	}
	u.mu.Unlock()
	close(call.done)
}

// userName is the user name of token's identity: SCIM Me's userName.
func (u *Users[P]) userName(ctx context.Context, token string) (string, error) {
	client, err := u.client.Get(ctx)
	if err != nil {
		return "", err
	}
	return client.UserName(withUserToken(ctx, token))
}

// acquire returns v's user's pool, opening it if need be, and holds the user
// until ctx ends; token is offered for the user's next mint.
func (u *Users[P]) acquire(ctx context.Context, place userPlace, v verifiedToken, token string) (P, error) {
	var zero P
	waited := false
	for {
		u.mu.Lock()
		if u.closed {
			u.mu.Unlock()
			return zero, ErrUsersClosed
		}
		h := u.held[v.user]
		if h == nil && (len(u.held) < u.opts.MaxUsers || u.evictLocked()) {
			var err error
			if h, err = u.openLocked(place, v, token); err != nil {
				u.mu.Unlock()
				return zero, err
			}
		}
		if h != nil {
			h.offer(token, v.seq)
			h.pins++
			u.order.MoveToFront(h.elem)
			u.mu.Unlock()
			context.AfterFunc(ctx, func() { u.release(h) })
			return h.pool, nil
		}
		freed := u.freed
		if !waited {
			waited = true
			u.stats.Waits++
		}
		u.mu.Unlock()
		select {
		case <-freed:
		case <-ctx.Done():
			return zero, fmt.Errorf("lakebase: user: all %d users held have requests running: %w", u.opts.MaxUsers, ctx.Err())
		}
	}
}

// openLocked opens v's user's pool; u.mu must be held. Nothing is looked
// up or minted here: the pool's first connection mints.
func (u *Users[P]) openLocked(place userPlace, v verifiedToken, token string) (*heldUser[P], error) {
	h := &heldUser[P]{name: v.user}
	h.token.Store(&userToken{value: token, seq: v.seq})
	var err error
	if h.conn, err = NewConnector(u.userConfig(place, h)); err != nil {
		return nil, err
	}
	if h.pool, err = u.pools.Open(h.conn, u.opts.ConnsPerUser); err != nil {
		_ = h.conn.Close()
		return nil, err
	}
	h.elem = u.order.PushFront(h)
	u.held[h.name] = h
	u.stats.PoolsOpened++
	u.tel.Opened(context.Background())
	return h, nil
}

// userConfig is the Config of h's connector: the App's, at place, as h's
// user, with credentials minted with the user's newest token.
func (u *Users[P]) userConfig(place userPlace, h *heldUser[P]) *Config {
	cfg := u.base.cfg.clone()
	cfg.Instance, cfg.Endpoint = place.target.instance, place.target.endpoint
	cfg.Host, cfg.Port = place.host.host, int(place.host.port)
	cfg.User, cfg.userFromEnv = h.name, false
	// A person's OAuth login, whatever the App's: no setting of the App's
	// own login (nor the environment's) applies, and the connector never
	// builds a workspace client, since its host is given and its
	// credentials come from the TokenSource.
	cfg.Auth = AuthOAuthU2M
	cfg.ClientID, cfg.ClientSecret, cfg.AccessToken, cfg.Password = "", "", "", ""
	cfg.WorkspaceClient, cfg.SDKConfig = nil, nil
	// The App's claims scope the user's credentials, which the minter asks
	// for itself: a TokenSource's Config takes none.
	cfg.TokenSource = userMinter[P]{users: u, user: h, target: place.target, ttl: cfg.CredentialTTL, claims: cfg.requestedClaims()}
	cfg.Claims = nil
	return cfg
}

// evictLocked closes the pool of the least recently used user with no
// request running, and reports whether there was one; u.mu must be held.
func (u *Users[P]) evictLocked() bool {
	for e := u.order.Back(); e != nil; e = e.Prev() {
		if h := e.Value.(*heldUser[P]); h.pins == 0 {
			u.stats.Evicted++
			u.dropLocked(h, telemetry.ReasonEvicted)
			return true
		}
	}
	return false
}

// dropLocked forgets h and closes its pool in the background; u.mu must be
// held.
func (u *Users[P]) dropLocked(h *heldUser[P], reason string) {
	u.order.Remove(h.elem)
	delete(u.held, h.name)
	u.closing.Go(func() {
		u.pools.Close(h.pool)
		u.tel.Closed(context.Background(), reason)
	})
}

// release ends one request of h's user.
func (u *Users[P]) release(h *heldUser[P]) {
	u.mu.Lock()
	h.pins--
	h.lastUsed = time.Now()
	if h.pins == 0 && !u.closed { // Close closed freed for good
		close(u.freed)
		u.freed = make(chan struct{})
	}
	u.mu.Unlock()
}

// reapIdle closes the pools of users idle for the idle timeout, until ctx
// (the Users' lifetime) ends.
func (u *Users[P]) reapIdle(ctx context.Context) {
	tick := time.NewTicker(max(u.opts.IdleTimeout/4, 10*time.Millisecond))
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			u.mu.Lock()
			for e := u.order.Back(); e != nil; {
				h, prev := e.Value.(*heldUser[P]), e.Prev()
				if h.pins == 0 && now.Sub(h.lastUsed) >= u.opts.IdleTimeout {
					u.stats.IdleClosed++
					u.dropLocked(h, telemetry.ReasonIdle)
				}
				e = prev
			}
			u.mu.Unlock()
		}
	}
}

// isClosed reports whether Close has been called.
func (u *Users[P]) isClosed() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.closed
}

// heldCount is the number of users held, for the metrics.
func (u *Users[P]) heldCount() int64 {
	u.mu.Lock()
	defer u.mu.Unlock()
	return int64(len(u.held))
}

// Stats returns the Users' counters.
func (u *Users[P]) Stats() UsersStats {
	u.mu.Lock()
	defer u.mu.Unlock()
	s := u.stats
	s.Held = len(u.held)
	return s
}

// Close closes every user's pool, waiting for the requests that use them to
// end, then the App's own connector, and ends everything the Users runs:
// verifications in flight, the idle timer, the workspace client. Requests
// waiting for a user held to become free fail with ErrUsersClosed, and so
// do ForRequest and ForToken afterwards. Close is idempotent.
func (u *Users[P]) Close() error {
	u.mu.Lock()
	if u.closed {
		u.mu.Unlock()
		return nil
	}
	u.closed = true
	for _, h := range u.held {
		u.dropLocked(h, telemetry.ReasonClosed)
	}
	close(u.freed)
	u.mu.Unlock()
	u.closing.Wait()
	u.life.End()
	if client, ok := u.client.Loaded(); ok {
		client.Close()
	}
	u.tel.Close()
	return u.base.Close()
}

// userMinter mints a user's credentials with their newest token.
type userMinter[P any] struct {
	users  *Users[P]
	user   *heldUser[P]
	target mintTarget
	ttl    time.Duration
	claims []controlplane.Claim // the App's Config's, nil without
}

// Token mints a credential for the target with the user's newest token.
func (m userMinter[P]) Token(ctx context.Context) (Token, error) {
	client, err := m.users.client.Get(ctx)
	if err != nil {
		return Token{}, backoffCause(err)
	}
	ctx = withUserToken(ctx, m.user.token.Load().value)
	var tok Token
	if m.target.instance != "" {
		tok.Value, tok.Expiry, err = client.MintForInstance(ctx, m.target.instance, m.claims)
	} else {
		tok.Value, tok.Expiry, err = client.MintForEndpoint(ctx, m.target.endpoint, m.ttl, m.claims)
	}
	return tok, err
}

// userTokenKey is the context key of the user token that a workspace
// request of a Users presents.
type userTokenKey struct{}

// withUserToken returns ctx carrying token for the workspace requests made
// under it.
func withUserToken(ctx context.Context, token string) context.Context {
	return context.WithValue(ctx, userTokenKey{}, token)
}

// userBearerName is the SDK auth type of a Users' workspace client.
const userBearerName = "lakebase-user-token"

// errNoRequestToken fails a workspace request of a Users made without a
// user token in its context: a bug, never a user's mistake.
var errNoRequestToken = errors.New("lakebase: user: workspace request without a user token")

// userBearer is the SDK credentials strategy of a Users' workspace client:
// one client for every user, each request presenting the token that its
// context carries (withUserToken) as its bearer token. Nothing is cached, so
// a user's newer token serves their next request.
type userBearer struct{}

// Name is the SDK's auth type.
func (userBearer) Name() string { return userBearerName }

// Configure returns the provider; it needs no request.
func (userBearer) Configure(context.Context, *sdkconfig.Config) (credentials.CredentialsProvider, error) {
	return userBearer{}, nil
}

// SetHeaders sets the bearer token of r's context.
func (b userBearer) SetHeaders(r *http.Request) error {
	tok, err := b.Token(r.Context())
	if err != nil {
		return err
	}
	tok.SetAuthHeader(r)
	return nil
}

// Token returns the token of ctx.
func (userBearer) Token(ctx context.Context) (*oauth2.Token, error) {
	token, _ := ctx.Value(userTokenKey{}).(string)
	if token == "" {
		return nil, errNoRequestToken
	}
	return &oauth2.Token{AccessToken: token, TokenType: "Bearer"}, nil
}
