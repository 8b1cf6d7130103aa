package lakebase

// applyEnvironment fills what the Config leaves open from the environment,
// as DESIGN's DSN table says. The DSN always wins; PGHOST and PGPORT never
// replace a host that an instance or endpoint lookup will give.
func (c *Config) applyEnvironment(getenv func(string) string) error {
	fill := func(field *string, names ...string) {
		for _, name := range names {
			if *field == "" {
				*field = getenv(name)
			}
		}
	}
	if c.Instance == "" && c.Endpoint == "" {
		fill(&c.Instance, "LAKEBASE_INSTANCE")
		fill(&c.Endpoint, "LAKEBASE_ENDPOINT")
	}
	fill(&c.Workspace, "DATABRICKS_HOST")
	fill(&c.Profile, "DATABRICKS_CONFIG_PROFILE")
	if c.Auth == AuthAutomatic {
		mode, err := parseAuthMode(getenv("LAKEBASE_AUTH"))
		if err != nil {
			return envError("LAKEBASE_AUTH", err)
		}
		c.Auth = mode
	}
	fill(&c.ClientID, "DATABRICKS_CLIENT_ID")
	fill(&c.ClientSecret, "DATABRICKS_CLIENT_SECRET")
	fill(&c.AccessToken, "DATABRICKS_TOKEN")
	if c.Instance == "" && c.Endpoint == "" {
		fill(&c.Host, "PGHOST")
		if c.Port == 0 {
			if v := getenv("PGPORT"); v != "" {
				p, err := parsePort(v)
				if err != nil {
					return envError("PGPORT", err)
				}
				c.Port = p
			}
		}
	}
	if c.User == "" {
		c.User = getenv("PGUSER")
		c.userFromEnv = c.User != ""
	}
	if c.Auth == AuthAutomatic || c.Auth == AuthPassword {
		fill(&c.Password, "PGPASSWORD")
	}
	fill(&c.DBName, "PGDATABASE")
	fill(&c.SSLMode, "PGSSLMODE")
	if reason := checkSSLMode(c.SSLMode); reason != "" {
		return envError("PGSSLMODE", invalidKey("sslmode", "%s", reason))
	}
	if reason := checkEndpoint(c.Endpoint); reason != "" {
		return envError("LAKEBASE_ENDPOINT", invalidKey("endpoint", "%s", reason))
	}
	if reason := checkInstance(c.Instance); reason != "" {
		return envError("LAKEBASE_INSTANCE", invalidKey("instance", "%s", reason))
	}
	if reason := checkWorkspace(c.Workspace); reason != "" {
		return envError("DATABRICKS_HOST", invalidKey("workspace", "%s", reason))
	}
	return nil
}

// applyDefaults sets what neither the DSN nor the environment named.
func (c *Config) applyDefaults() {
	if c.DBName == "" {
		c.DBName = DefaultDBName
	}
	if c.SSLMode == "" {
		c.SSLMode = DefaultSSLMode
		if c.Params["sslrootcert"] == "system" {
			// The system's roots vouch for any name they signed: only a
			// check of the host name makes them mean anything, as libpq and
			// lib/pq say.
			c.SSLMode = "verify-full"
		}
	}
	if c.Port == 0 {
		c.Port = DefaultPort
	}
}

// envError says that a value came from an environment variable.
func envError(name string, err error) error {
	if ce, ok := err.(*configError); ok {
		return &configError{key: ce.key, reason: ce.reason + " (from $" + name + ")"}
	}
	return err
}
