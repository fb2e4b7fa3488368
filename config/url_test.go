package config_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/redis/go-redis/v9"

	"github.com/sophia-pbx/sophia/config"
)

func TestParseRedisURL(t *testing.T) {
	tests := []struct {
		url  string
		kind string   // client, cluster, failover
		addr []string // for client: Addr; cluster: Addrs
		db   int
		err  string
	}{
		{url: "redis://127.0.0.1:6379/2", kind: "client", addr: []string{"127.0.0.1:6379"}, db: 2},
		{url: "redis://:secret@redis.example:6380?dial_timeout=3s", kind: "client", addr: []string{"redis.example:6380"}},
		{url: "rediss://redis.example", kind: "client", addr: []string{"redis.example:6379"}},
		{url: "unix:///run/redis/redis.sock?db=1", kind: "client", addr: []string{"/run/redis/redis.sock"}, db: 1},
		{url: "redis://n1:7000,n2:7001,n3:7002", kind: "cluster", addr: []string{"n1:7000", "n2:7001", "n3:7002"}},
		{url: "redis+cluster://n1:7000", kind: "cluster", addr: []string{"n1:7000"}},
		{url: "redis://n1:7000?addr=n2:7001", kind: "cluster", addr: []string{"n1:7000", "n2:7001"}},
		{url: "redis+sentinel://:pw@s1:26379,s2/mymaster/3", kind: "failover", db: 3},
		{url: "redis+sentinel://s1/", err: "want redis+sentinel://sentinel1,sentinel2/<master name>[/db]"},
		{url: "redis+cluster://n1:7000/1", err: "a Cluster has no database number"},
		{url: "http://x", err: `unknown scheme "http"`},
		{url: "localhost:6379", err: "no scheme"},
		{url: "redis://:hunter2@h:1?bogus=1", err: "redis URL \"redis://:xxxxx@h:1?bogus=1\""},
	}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			c, err := config.ParseRedisURL(tt.url)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want one containing %q", err, tt.err)
				}
				if strings.Contains(err.Error(), "hunter2") {
					t.Errorf("error shows the password: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			switch cl := c.(type) {
			case *redis.ClusterClient:
				if tt.kind != "cluster" || !reflect.DeepEqual(cl.Options().Addrs, tt.addr) {
					t.Errorf("cluster client with %v, want %s %v", cl.Options().Addrs, tt.kind, tt.addr)
				}
			case *redis.Client:
				o := cl.Options()
				switch tt.kind {
				case "client":
					if o.Addr != tt.addr[0] || o.DB != tt.db {
						t.Errorf("client to %s db %d, want %s db %d", o.Addr, o.DB, tt.addr[0], tt.db)
					}
				case "failover":
					if o.Addr != "FailoverClient" || o.DB != tt.db || o.Password != "pw" {
						t.Errorf("client %s db %d password set %v, want a failover client to db %d", o.Addr, o.DB, o.Password != "", tt.db)
					}
				default:
					t.Errorf("plain client, want %s", tt.kind)
				}
			default:
				t.Errorf("client of type %T", c)
			}
		})
	}
}
