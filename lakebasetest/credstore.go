package lakebasetest

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"sync"
	"time"
)

// Why a credential was refused at login. The gateway turns each into a
// PostgreSQL FATAL with SQLSTATE 28P01.
var (
	errCredentialUnknown  = errors.New("credential was not minted by this workspace")
	errCredentialExpired  = errors.New("credential has expired")
	errCredentialIdentity = errors.New("credential was minted for another identity")
	errCredentialTarget   = errors.New("credential was minted for another instance or endpoint")
)

// instanceTarget and endpointTarget name what a credential is bound to.
func instanceTarget(name string) string { return "instance:" + name }
func endpointTarget(path string) string { return "endpoint:" + path }

// issuedCredential is one credential minted by the fake workspace.
type issuedCredential struct {
	token    string
	identity string // the Postgres role: a user's e-mail or a service principal's application id
	target   string // instanceTarget or endpointTarget
	expiry   time.Time
	tables   []string // the Unity Catalog tables it claims, catalog.schema.table
}

// credentialStore is what the fake workspace and the gateways share: the
// workspace records every credential it mints, a gateway checks a password
// against it. Several credentials of one identity may be valid at once.
type credentialStore struct {
	now func() time.Time

	mu      sync.Mutex
	byToken map[string]issuedCredential
	members map[string]map[string]bool // group role -> the identities in the group
	strict  bool                       // a credential logs in only to the target it was minted for; guarded by mu
}

func newCredentialStore(now func() time.Time) *credentialStore {
	if now == nil {
		now = time.Now
	}
	return &credentialStore{now: now, byToken: make(map[string]issuedCredential), members: make(map[string]map[string]bool)}
}

// issue mints a credential for identity and target that lives for ttl and
// claims tables.
func (s *credentialStore) issue(identity, target string, ttl time.Duration, tables []string) issuedCredential {
	c := issuedCredential{
		token:    newOpaqueToken(identity, target),
		identity: identity,
		target:   target,
		expiry:   s.now().Add(ttl).Round(0),
		tables:   tables,
	}
	s.mu.Lock()
	s.byToken[c.token] = c
	s.mu.Unlock()
	return c
}

// addMembers makes identities members of group, whose role they may then
// log in as with their own credentials.
func (s *credentialStore) addMembers(group string, identities ...string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.members[group] == nil {
		s.members[group] = make(map[string]bool)
	}
	for _, id := range identities {
		s.members[group][id] = true
	}
}

// check reports why token may not log in as role to target, or nil. The
// role is the credential's identity, or a group the identity is in.
func (s *credentialStore) check(token, role, target string) error {
	s.mu.Lock()
	c, ok := s.byToken[token]
	member := ok && s.members[role][c.identity]
	strict := s.strict
	s.mu.Unlock()
	switch {
	case !ok:
		return errCredentialUnknown
	case !s.now().Before(c.expiry):
		return errCredentialExpired
	case c.identity != role && !member:
		return errCredentialIdentity
	case strict && c.target != target:
		return errCredentialTarget
	}
	return nil
}

// claims returns the Unity Catalog tables that the credential token claims.
func (s *credentialStore) claims(token string) []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.byToken[token].tables
}

// bindToTargets makes credentials log in only to the instance or endpoint
// they were minted for; by default they are workspace-scoped, as Lakebase's
// guide for external apps describes them.
func (s *credentialStore) bindToTargets() {
	s.mu.Lock()
	s.strict = true
	s.mu.Unlock()
}

// revokeAll forgets every credential, as if the workspace revoked them early.
func (s *credentialStore) revokeAll() {
	s.mu.Lock()
	clear(s.byToken)
	s.mu.Unlock()
}

// newOpaqueToken returns a JWT-shaped string: a header, a claims part that
// names identity and target, and a random part standing for the signature.
func newOpaqueToken(identity, target string) string {
	enc := base64.RawURLEncoding
	header := enc.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
	claims, _ := json.Marshal(map[string]string{"sub": identity, "aud": target})
	sig := make([]byte, 32)
	_, _ = rand.Read(sig)
	return header + "." + enc.EncodeToString(claims) + "." + enc.EncodeToString(sig)
}
