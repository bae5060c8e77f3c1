//go:build e2e

package e2e

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"
)

// redisConn is a minimal RESP2 client: enough to check data with Redis's own
// protocol without pulling a client library into the module.
type redisConn struct {
	c net.Conn
	r *bufio.Reader
}

func dialRedisErr(addr string) (*redisConn, error) {
	c, err := net.DialTimeout("tcp", addr, 3*time.Second)
	if err != nil {
		return nil, err
	}
	return &redisConn{c: c, r: bufio.NewReader(c)}, nil
}

func dialRedis(t *testing.T, addr string) *redisConn {
	t.Helper()
	r, err := dialRedisErr(addr)
	if err != nil {
		t.Fatalf("connecting to redis at %s: %v", addr, err)
	}
	t.Cleanup(r.close)
	return r
}

func (r *redisConn) close() { r.c.Close() }

// ping opens a connection, sends PING and expects PONG.
func ping(addr string) error {
	r, err := dialRedisErr(addr)
	if err != nil {
		return err
	}
	defer r.close()
	got, err := r.command("PING")
	if err != nil {
		return err
	}
	if got != "PONG" {
		return fmt.Errorf("PING %s = %q", addr, got)
	}
	return nil
}

func (r *redisConn) do(t *testing.T, args ...string) string {
	t.Helper()
	got, err := r.command(args...)
	if err != nil {
		t.Fatalf("redis %s: %v", strings.Join(args, " "), err)
	}
	return got
}

// command sends one command and returns the reply as a string (integers in
// decimal, nil as ""); a Redis error reply is an error.
func (r *redisConn) command(args ...string) (string, error) {
	r.c.SetDeadline(time.Now().Add(10 * time.Second))
	var b strings.Builder
	fmt.Fprintf(&b, "*%d\r\n", len(args))
	for _, a := range args {
		fmt.Fprintf(&b, "$%d\r\n%s\r\n", len(a), a)
	}
	if _, err := io.WriteString(r.c, b.String()); err != nil {
		return "", err
	}
	return r.reply()
}

func (r *redisConn) reply() (string, error) {
	line, err := r.r.ReadString('\n')
	if err != nil {
		return "", err
	}
	line = strings.TrimSuffix(line, "\r\n")
	if line == "" {
		return "", fmt.Errorf("empty reply")
	}
	switch line[0] {
	case '+', ':':
		return line[1:], nil
	case '-':
		return "", fmt.Errorf("redis error: %s", line[1:])
	case '$':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", err
		}
		if n < 0 {
			return "", nil
		}
		buf := make([]byte, n+2)
		if _, err := io.ReadFull(r.r, buf); err != nil {
			return "", err
		}
		return string(buf[:n]), nil
	case '*':
		n, err := strconv.Atoi(line[1:])
		if err != nil {
			return "", err
		}
		parts := make([]string, 0, n)
		for i := 0; i < n; i++ {
			p, err := r.reply()
			if err != nil {
				return "", err
			}
			parts = append(parts, p)
		}
		return strings.Join(parts, "\n"), nil
	}
	return "", fmt.Errorf("unexpected reply %q", line)
}
