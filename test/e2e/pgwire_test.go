//go:build e2e

package e2e

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// pgQuery connects to a PostgreSQL server with the frontend/backend protocol
// v3 as user (trust authentication), runs one simple query and returns the
// first column of each row. It is the smallest real client that checks data
// without a driver in the module.
func pgQuery(addr, user, query string) ([]string, error) {
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return nil, err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(15 * time.Second))
	r := bufio.NewReader(c)

	// StartupMessage: length, protocol 3.0, key/value pairs, terminator.
	var body []byte
	body = binary.BigEndian.AppendUint32(body, 3<<16)
	for _, kv := range [][2]string{{"user", user}, {"database", user}} {
		body = append(append(body, kv[0]...), 0)
		body = append(append(body, kv[1]...), 0)
	}
	body = append(body, 0)
	if _, err := c.Write(append(binary.BigEndian.AppendUint32(nil, uint32(len(body)+4)), body...)); err != nil {
		return nil, err
	}
	if err := pgUntilReady(r, nil); err != nil {
		return nil, fmt.Errorf("startup: %w", err)
	}
	q := append([]byte(query), 0)
	msg := append([]byte{'Q'}, binary.BigEndian.AppendUint32(nil, uint32(len(q)+4))...)
	if _, err := c.Write(append(msg, q...)); err != nil {
		return nil, err
	}
	var rows []string
	if err := pgUntilReady(r, &rows); err != nil {
		return nil, fmt.Errorf("query %q: %w", query, err)
	}
	c.Write([]byte{'X', 0, 0, 0, 4}) // Terminate
	return rows, nil
}

// pgUntilReady reads backend messages up to ReadyForQuery, collecting the
// first column of DataRows into rows.
func pgUntilReady(r *bufio.Reader, rows *[]string) error {
	for {
		typ, err := r.ReadByte()
		if err != nil {
			return err
		}
		var n uint32
		if err := binary.Read(r, binary.BigEndian, &n); err != nil {
			return err
		}
		if n < 4 || n > 1<<20 {
			return fmt.Errorf("bad message length %d", n)
		}
		payload := make([]byte, n-4)
		if _, err := io.ReadFull(r, payload); err != nil {
			return err
		}
		switch typ {
		case 'R': // Authentication
			if len(payload) < 4 || binary.BigEndian.Uint32(payload) != 0 {
				return fmt.Errorf("server wants authentication (%v); the test uses trust", payload)
			}
		case 'E':
			return fmt.Errorf("server error: %s", pgFields(payload))
		case 'D':
			if rows != nil && len(payload) >= 6 {
				l := int32(binary.BigEndian.Uint32(payload[2:6]))
				if l < 0 {
					*rows = append(*rows, "")
				} else if int(l) <= len(payload)-6 {
					*rows = append(*rows, string(payload[6:6+l]))
				}
			}
		case 'Z':
			return nil
		}
	}
}

func pgFields(p []byte) string {
	var parts []string
	for _, f := range strings.Split(string(p), "\x00") {
		if len(f) > 1 && (f[0] == 'M' || f[0] == 'C') {
			parts = append(parts, f[1:])
		}
	}
	return strings.Join(parts, ": ")
}
