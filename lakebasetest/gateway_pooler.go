package lakebasetest

import (
	"context"

	"github.com/jackc/pgx/v5/pgconn"
)

// throughPooler turns cfg, the server session of a login the gateway has
// accepted, into the same session through the gateway's PgBouncer. The
// server checks a native role's password first, in a login of its own:
// PgBouncer trusts the gateway, and once it holds a server connection for
// the role it would let any password in.
func (s *session) throughPooler(ctx context.Context, user string, cfg *pgconn.Config, native bool) (*pgconn.Config, bool) {
	if native {
		check, err := pgconn.ConnectConfig(ctx, cfg)
		if err != nil {
			s.refuse(user, native, err)
			return nil, false
		}
		_ = check.Close(ctx)
	}
	b, err := s.g.opts.Pooler(ctx)
	var pooled *pgconn.Config
	if err == nil {
		pooled, err = b.ConnConfig(ctx, user, cfg.Password)
	}
	if err != nil {
		s.g.rejected.Add(1)
		s.fatal("08006", "lakebasetest gateway: pooled host: "+err.Error())
		return nil, false
	}
	pooled.Database, pooled.RuntimeParams = cfg.Database, cfg.RuntimeParams
	return pooled, true
}
