package lakebase

import "os/user"

// effectiveAuth decides the auth mode when the Config leaves it automatic,
// and checks that the mode has what it needs.
func (c *Config) effectiveAuth() (AuthMode, error) {
	switch {
	case c.Auth == AuthPassword && c.TokenSource != nil:
		return "", invalidKey("auth", "password login cannot use a TokenSource")
	case c.Auth != AuthAutomatic:
		return c.Auth, nil
	case c.Password != "" && c.TokenSource == nil:
		return AuthPassword, nil
	}
	return AuthAutomatic, nil
}

// wire builds the connector's target, identity and credential source for its
// auth mode.
func (c *Connector) wire() error {
	cfg := c.cfg
	c.target = fixedHost{host: cfg.Host, port: uint16(cfg.Port)}
	if cfg.Host == "" {
		c.target = fixedHost{host: "localhost", port: uint16(cfg.Port)}
	}
	user := cfg.User
	if user == "" {
		user = osUserName()
	}
	c.identity = fixedUser(user)
	switch {
	case c.mode == AuthPassword:
		c.creds = staticPassword(cfg.Password)
	case cfg.TokenSource != nil:
		if cfg.User == "" {
			return invalidKey("user", "required with a TokenSource")
		}
		c.creds = uncachedTokens{src: cfg.TokenSource}
	default:
		return invalidKey("auth", "%q needs a TokenSource in this version", string(c.mode))
	}
	return nil
}

// osUserName is libpq's default role: the operating system user, or "" when
// it cannot be found.
func osUserName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}
