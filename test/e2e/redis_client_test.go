//go:build e2e

package e2e

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// dialResolved dials host:port, resolving a name through the cluster DNS (the
// test runs in the cluster's network namespace, not behind its resolver).
// Cluster nodes announce their pods' stable names without the cluster
// domain (pod.headless.namespace.svc); it is added here.
func dialResolved(ctx context.Context, network, addr string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	if strings.HasSuffix(host, ".svc") {
		host += ".cluster.local"
	}
	ips, err := resolver().LookupHost(ctx, host)
	if err != nil {
		return nil, err
	}
	d := net.Dialer{Timeout: 3 * time.Second}
	return d.DialContext(ctx, network, net.JoinHostPort(ips[0], port))
}

// redisOptions are the go-redis options of a client of one server: no retry
// of a failed command (the tests retry where they mean to, and count what
// fails) and no CLIENT SETINFO (Redis 7.0 does not know it).
func redisOptions(addr, password string) *redis.Options {
	return &redis.Options{
		Addr: addr, Password: password, Dialer: dialResolved,
		MaxRetries: -1, DialTimeout: 3 * time.Second, ReadTimeout: 10 * time.Second, WriteTimeout: 10 * time.Second,
		DisableIdentity: true,
	}
}

// redisClient is a client of the Redis at addr (an IP or a name the cluster
// DNS resolves), authenticated when password is set, closed by t.Cleanup.
func redisClient(t *testing.T, addr, password string) *redis.Client {
	c := redis.NewClient(redisOptions(addr, password))
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// onRedis runs f with a fresh client of the Redis at addr and closes it.
func onRedis(addr, password string, f func(ctx context.Context, c *redis.Client) error) error {
	c := redis.NewClient(redisOptions(addr, password))
	defer c.Close()
	if err := f(context.Background(), c); err != nil {
		return fmt.Errorf("redis at %s: %w", addr, err)
	}
	return nil
}

// redisGet reads key from the Redis at addr on a fresh connection; a missing
// key reads as "".
func redisGet(addr, password, key string) (string, error) {
	var v string
	err := onRedis(addr, password, func(ctx context.Context, c *redis.Client) error {
		var err error
		v, err = c.Get(ctx, key).Result()
		if errors.Is(err, redis.Nil) {
			return nil
		}
		return err
	})
	return v, err
}

// sentinelClient is a client of the Redis Sentinel at addr, closed by
// t.Cleanup.
func sentinelClient(t *testing.T, addr string) *redis.SentinelClient {
	c := redis.NewSentinelClient(redisOptions(addr, ""))
	t.Cleanup(func() { _ = c.Close() })
	return c
}
