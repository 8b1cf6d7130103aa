package lakebasepgx

import (
	"bytes"
	"encoding/binary"
	"io"
	"net"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/lakebase-go/lakebase"
	"github.com/lakebase-go/lakebase/internal/pqsession"
)

// replayConn is a session that the connector's engine has logged in (see
// session.logIn), handed to pgx's own connect as if it were a new
// connection: pgx's StartupMessage is dropped, since the server has had one,
// and pgx reads the server's answer to the real login (AuthenticationOk,
// the parameters, the backend key, ReadyForQuery) from a copy kept for it.
// After that, bytes pass through untouched.
//
// Read and Write keep state of their own each (reader, skip), so the reads
// of pgx's background reader and the writes of a query never share any.
type replayConn struct {
	net.Conn
	login lakebase.Login  // the attempt that logged in, without its credential
	look  *pqsession.Look // at the socket, before the pool hands the session out
	// reader reads what the server answered to the login, then the session.
	reader io.Reader
	// skip counts the bytes of pgx's StartupMessage still to be dropped;
	// -1 until its length has been read.
	skip    int
	lenBuf  [4]byte
	lenRead int
}

// newReplayConn keeps what the server said at hc's login for pgx to read.
func newReplayConn(hc *pgconn.HijackedConn, login lakebase.Login) (*replayConn, error) {
	buf, err := (&pgproto3.AuthenticationOk{}).Encode(nil)
	if err != nil {
		return nil, err
	}
	for name, value := range hc.ParameterStatuses {
		if buf, err = (&pgproto3.ParameterStatus{Name: name, Value: value}).Encode(buf); err != nil {
			return nil, err
		}
	}
	if buf, err = (&pgproto3.BackendKeyData{ProcessID: hc.PID, SecretKey: hc.SecretKey}).Encode(buf); err != nil {
		return nil, err
	}
	if buf, err = (&pgproto3.ReadyForQuery{TxStatus: hc.TxStatus}).Encode(buf); err != nil {
		return nil, err
	}
	login.Credential = lakebase.Token{} // kept for the host and the cancel requests' TLS only
	return &replayConn{Conn: hc.Conn, login: login, look: pqsession.NewLook(hc.Conn),
		reader: io.MultiReader(bytes.NewReader(buf), hc.Conn), skip: -1}, nil
}

// Read returns the login's answer first, then reads the session.
func (c *replayConn) Read(p []byte) (int, error) {
	return c.reader.Read(p)
}

// Write drops pgx's StartupMessage (a length, then as many bytes less
// four), then writes to the session.
func (c *replayConn) Write(p []byte) (int, error) {
	written := 0
	for c.skip != 0 && len(p) > 0 {
		if c.skip < 0 {
			n := copy(c.lenBuf[c.lenRead:], p)
			c.lenRead += n
			written += n
			p = p[n:]
			if c.lenRead == len(c.lenBuf) {
				c.skip = max(int(binary.BigEndian.Uint32(c.lenBuf[:]))-len(c.lenBuf), 0)
			}
			continue
		}
		n := min(c.skip, len(p))
		c.skip -= n
		written += n
		p = p[n:]
	}
	if len(p) == 0 {
		return written, nil
	}
	n, err := c.Conn.Write(p)
	return written + n, err
}
