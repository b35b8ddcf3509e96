package redistest

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
)

// clusterMasters is the size of the test cluster: the smallest that
// redis-cli accepts, and enough that keys of one operation land on
// different nodes unless they share a hash tag.
const clusterMasters = 3

var (
	clusterOnce sync.Once
	clusterURL  string
	clusterErr  error
)

// ClusterURL is the REDIS_URL (redis-cluster://…) of the test binary's
// cluster, started on first use: REDIS_TEST_CLUSTER_URL when set, else
// three redis-server processes on free loopback ports with their files in
// a temporary directory. The processes die with the test binary (parent
// death signal, plus a watchdog that also removes the directory).
func ClusterURL(t testing.TB) string {
	t.Helper()
	clusterOnce.Do(func() {
		if u := os.Getenv("REDIS_TEST_CLUSTER_URL"); u != "" {
			clusterURL = u
			return
		}
		clusterURL, clusterErr = startCluster()
	})
	if clusterErr != nil {
		t.Fatalf("redistest: Redis Cluster: %v", clusterErr)
	}
	return clusterURL
}

func startCluster() (string, error) {
	server, err := exec.LookPath("redis-server")
	if err != nil {
		return "", fmt.Errorf("redis-server not found (install Redis 7): %w", err)
	}
	cli, err := exec.LookPath("redis-cli")
	if err != nil {
		return "", fmt.Errorf("redis-cli not found: %w", err)
	}
	dir, err := os.MkdirTemp("", "infliq-redis-cluster-")
	if err != nil {
		return "", err
	}
	var addrs []string
	var pids []string
	for i := range clusterMasters {
		port, bus, err := freePorts()
		if err != nil {
			return "", err
		}
		nd := filepath.Join(dir, strconv.Itoa(i))
		if err := os.Mkdir(nd, 0o700); err != nil {
			return "", err
		}
		cmd := exec.Command(server,
			"--bind", "127.0.0.1", "--port", strconv.Itoa(port), "--cluster-port", strconv.Itoa(bus),
			"--cluster-enabled", "yes", "--cluster-config-file", filepath.Join(nd, "nodes.conf"),
			"--cluster-node-timeout", "5000", "--dir", nd, "--save", "", "--appendonly", "no",
			"--logfile", filepath.Join(nd, "log"))
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		if err := cmd.Start(); err != nil {
			return "", err
		}
		go func() { _ = cmd.Wait() }()
		addrs = append(addrs, net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		pids = append(pids, strconv.Itoa(cmd.Process.Pid))
	}
	// The parent death signal follows the thread that started the process;
	// this watchdog follows the test process itself and cleans up the files.
	watchdog := exec.Command("sh", append([]string{"-c",
		`while kill -0 "$1" 2>/dev/null; do sleep 1; done; d="$2"; shift 2; kill -9 "$@" 2>/dev/null; rm -rf "$d"`,
		"watchdog", strconv.Itoa(os.Getpid()), dir}, pids...)...)
	watchdog.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := watchdog.Start(); err != nil {
		return "", err
	}
	go func() { _ = watchdog.Wait() }()

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, a := range addrs {
		if err := waitPing(ctx, a); err != nil {
			return "", err
		}
	}
	create := exec.CommandContext(ctx, cli, append(append([]string{"--cluster", "create"}, addrs...),
		"--cluster-replicas", "0", "--cluster-yes")...)
	if out, err := create.CombinedOutput(); err != nil {
		return "", fmt.Errorf("redis-cli --cluster create: %v: %s", err, out)
	}
	// Every node must see every slot served before keys go anywhere.
	for _, a := range addrs {
		if err := waitClusterOK(ctx, a); err != nil {
			return "", err
		}
	}
	return "redis-cluster://" + strings.Join(addrs, ","), nil
}

// freePorts returns a client port and a cluster bus port, both free now.
func freePorts() (int, int, error) {
	var ports [2]int
	var ls [2]net.Listener
	for i := range ports {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return 0, 0, err
		}
		ls[i] = l
		ports[i] = l.Addr().(*net.TCPAddr).Port
	}
	for _, l := range ls {
		_ = l.Close()
	}
	return ports[0], ports[1], nil
}

func waitPing(ctx context.Context, addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr, MaxRetries: -1})
	defer c.Close()
	for {
		if err := c.Ping(ctx).Err(); err == nil {
			return nil
		} else if ctx.Err() != nil {
			return fmt.Errorf("redis-server on %s did not start: %w", addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func waitClusterOK(ctx context.Context, addr string) error {
	c := redis.NewClient(&redis.Options{Addr: addr})
	defer c.Close()
	for {
		info, err := c.ClusterInfo(ctx).Result()
		if err == nil && strings.Contains(info, "cluster_state:ok") {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("cluster node %s not ready: %v %q", addr, err, info)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
