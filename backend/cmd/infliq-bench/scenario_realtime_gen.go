//go:build linux

package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/infliq/infliq/backend/platform/id"
	"github.com/infliq/infliq/compat/socketio/sioclient"
)

// One process can hold no more sockets than its file-descriptor limit: the
// hard RLIMIT_NOFILE, which a process without CAP_SYS_RESOURCE cannot
// raise (20,000 on the bench machine). Past maxWorkerSockets idle sockets
// the realtime scenario re-runs this binary as generator workers
// (-rt-worker) that hold them, and -rt-replicas spreads them over several
// realtime processes.
const (
	maxWorkerSockets = 15000
	// fdSlack is what a process keeps open besides its sockets (pools,
	// listeners, logs, pipes).
	fdSlack = 256
)

// fdLimit is the hard RLIMIT_NOFILE (init raised the soft one to it; the
// Go runtime does so in the infliq processes).
func fdLimit() int {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) != nil || l.Max > 1<<30 {
		return 1 << 30
	}
	return int(l.Max)
}

// planSockets checks that every process fits its sockets in fdLimit and
// returns how many generator workers hold the idle sockets (0: this
// process). genProcs > 0 forces that many.
func planSockets(replicas, clients, chats int, hold bool, genProcs, fdLimit int) (int, error) {
	ceil := func(a, b int) int { return (a + b - 1) / b }
	chatting := 2 * chats
	perReplica := func(r int) int {
		if hold {
			return ceil(clients, r) + ceil(chatting, r)
		}
		return max(ceil(clients, r), ceil(chatting, r))
	}
	if need := perReplica(replicas); need+fdSlack > fdLimit {
		want := replicas
		for perReplica(want)+fdSlack > fdLimit {
			want++
		}
		return 0, fmt.Errorf("%d sockets per realtime replica (-rt-clients %d over %d replicas) exceed its file-descriptor limit of %d (the hard RLIMIT_NOFILE, which cannot be raised without CAP_SYS_RESOURCE): use -rt-replicas %d or more",
			need, clients, replicas, fdLimit, want)
	}
	procs := genProcs
	if procs == 0 && clients > maxWorkerSockets {
		procs = ceil(clients, maxWorkerSockets)
	}
	if procs == 0 {
		if need := clients + chatting; hold && need+fdSlack > fdLimit {
			return 0, fmt.Errorf("%d idle and %d chatting sockets exceed this process's file-descriptor limit of %d: use -rt-gen-procs 1 or more", clients, chatting, fdLimit)
		}
		return 0, nil
	}
	if need := ceil(clients, procs); need+fdSlack > fdLimit {
		return 0, fmt.Errorf("%d sockets per generator worker (-rt-clients %d over -rt-gen-procs %d) exceed its file-descriptor limit of %d: use -rt-gen-procs %d or more",
			need, clients, procs, fdLimit, ceil(clients, fdLimit-fdSlack))
	}
	return procs, nil
}

// idleSockets are the memory phase's idle sockets, held in this process
// or in generator worker processes.
type idleSockets interface {
	// dial connects every socket and keeps reading them (answering pings).
	// The closed loop (-rt-dial-workers) fails at the first error; the open
	// loop (-rt-connect-rate) prints what the storm achieved, named what,
	// and returns how many sockets failed.
	dial(ctx context.Context, what string) (errs int, err error)
	// drop closes every socket.
	drop()
	// close drops the sockets and ends the workers.
	close()
}

// localSockets hold the idle sockets in this process.
type localSockets struct {
	env   *Env
	bases []string
	users []id.ID
	conns []*sioclient.Conn
	wg    sync.WaitGroup // the readers
}

func (l *localSockets) dial(ctx context.Context, what string) (int, error) {
	var err error
	if rt.connectRate > 0 {
		l.conns, err = connectStorm(ctx, l.bases, l.env, l.users, what)
	} else {
		l.conns, err = dialAll(ctx, l.bases, l.env, l.users)
	}
	if err != nil {
		return 0, err
	}
	errs := 0
	for _, c := range l.conns {
		if c == nil {
			errs++
		}
	}
	// Each client answers pings and drains events on its own goroutine.
	drainAll(l.conns, &l.wg)
	return errs, nil
}

func (l *localSockets) drop() {
	closeAll(l.conns)
	l.wg.Wait()
	l.conns = nil
}

func (l *localSockets) close() { l.drop() }

// workItem is one socket a generator worker dials.
type workItem struct{ base, token string }

// writeWork writes a worker's work file: one "BASE-URL TOKEN" line per socket.
func writeWork(w io.Writer, items []workItem) error {
	bw := bufio.NewWriter(w)
	for _, it := range items {
		if _, err := fmt.Fprintf(bw, "%s %s\n", it.base, it.token); err != nil {
			return err
		}
	}
	return bw.Flush()
}

// parseWork reads a work file written by writeWork.
func parseWork(r io.Reader) ([]workItem, error) {
	var out []workItem
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	for n := 1; sc.Scan(); n++ {
		f := strings.Fields(sc.Text())
		if len(f) != 2 || !strings.HasPrefix(f[0], "http") {
			return nil, fmt.Errorf("work line %d: want BASE-URL TOKEN, got %q", n, sc.Text())
		}
		out = append(out, workItem{base: f[0], token: f[1]})
	}
	return out, sc.Err()
}

// workerReport is a worker's answer to one command, one JSON line on its
// stdout.
type workerReport struct {
	Connected  int           `json:"connected"`
	Errors     int           `json:"errors"`
	FirstError string        `json:"first_error,omitempty"`
	Dur        time.Duration `json:"dur_ns"`  // until its last dial ended
	Late       time.Duration `json:"late_ns"` // how far the open loop fell behind its schedule
}

func parseReport(line []byte) (workerReport, error) {
	var r workerReport
	d := json.NewDecoder(strings.NewReader(string(line)))
	d.DisallowUnknownFields()
	if err := d.Decode(&r); err != nil {
		return r, fmt.Errorf("worker report %q: %w", strings.TrimSpace(string(line)), err)
	}
	if r.Connected < 0 || r.Errors < 0 {
		return r, fmt.Errorf("worker report %q: negative count", strings.TrimSpace(string(line)))
	}
	return r, nil
}

// rtWorkerMain is a generator worker (-rt-worker FILE): it dials the sockets
// of FILE on "dial", closes them on "drop", and exits on "quit" or the end
// of stdin, answering each command with one report line.
func rtWorkerMain(file string) int {
	f, err := os.Open(file)
	if err != nil {
		fmt.Fprintln(os.Stderr, "infliq-bench worker:", err)
		return 1
	}
	items, err := parseWork(f)
	f.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "infliq-bench worker:", err)
		return 1
	}
	target := func(i int) (string, string) { return items[i].base, items[i].token }
	var (
		conns []*sioclient.Conn
		wg    sync.WaitGroup
	)
	out := json.NewEncoder(os.Stdout)
	in := bufio.NewScanner(os.Stdin)
	for in.Scan() {
		var rep workerReport
		switch cmd := in.Text(); cmd {
		case "dial":
			closeAll(conns)
			wg.Wait()
			start := time.Now()
			if rt.connectRate > 0 {
				r := dialTargetsRate(context.Background(), len(items), rt.connectRate, target)
				conns = r.conns
				rep = workerReport{Connected: len(items) - r.errs, Errors: r.errs, Dur: r.dur, Late: r.lateMax}
				if r.err != nil {
					rep.FirstError = r.err.Error()
				}
			} else if conns, err = dialTargets(context.Background(), len(items), target); err != nil {
				rep = workerReport{Errors: 1, FirstError: err.Error(), Dur: time.Since(start)}
			} else {
				rep = workerReport{Connected: len(items), Dur: time.Since(start)}
			}
			drainAll(conns, &wg)
		case "drop":
			closeAll(conns)
			wg.Wait()
			conns = nil
		case "quit":
			closeAll(conns)
			return 0
		default:
			fmt.Fprintf(os.Stderr, "infliq-bench worker: unknown command %q\n", cmd)
			return 2
		}
		if err := out.Encode(rep); err != nil {
			return 1
		}
	}
	closeAll(conns)
	return 0
}

// genWorker is one running generator worker.
type genWorker struct {
	cmd *exec.Cmd
	in  io.WriteCloser
	out *bufio.Reader
	n   int // its sockets
}

// workerSockets hold the idle sockets in generator worker processes: this
// binary re-run with -rt-worker, killed with its parent (Pdeathsig).
type workerSockets struct {
	env *Env
	n   int
	ws  []*genWorker
	dir string
}

// startWorkers splits users over procs workers (each socket's replica
// round-robin, as in this process) and starts them; their sockets connect
// on the first dial.
func startWorkers(ctx context.Context, env *Env, bases []string, users []id.ID, procs int) (*workerSockets, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	addrs := max(rt.sourceAddrs, 1)
	if rt.sourceBase+(procs+1)*addrs > 255 {
		return nil, fmt.Errorf("-rt-gen-procs %d × -rt-source-addrs %d: more loopback source addresses than 127.0.0.0/24 has", procs, rt.sourceAddrs)
	}
	dir, err := os.MkdirTemp("", "infliq-bench-rt-")
	if err != nil {
		return nil, err
	}
	s := &workerSockets{env: env, n: len(users), dir: dir}
	for k := range procs {
		lo, hi := k*len(users)/procs, (k+1)*len(users)/procs
		items := make([]workItem, 0, hi-lo)
		for i := lo; i < hi; i++ {
			items = append(items, workItem{base: bases[i%len(bases)], token: env.Token(users[i])})
		}
		file := filepath.Join(dir, fmt.Sprintf("work-%d", k))
		f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o600) // access tokens
		if err != nil {
			s.close()
			return nil, err
		}
		err = writeWork(f, items)
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			s.close()
			return nil, err
		}
		rate := 0
		if rt.connectRate > 0 {
			rate = max(1, rt.connectRate/procs)
		}
		// Each worker binds its own source addresses, after this process's.
		args := workerArgs(exe, file, max(1, rt.dialWorkers/procs), rate, rt.sourceBase+(k+1)*addrs)
		cmd := exec.CommandContext(ctx, args[0], args[1:]...)
		cmd.Stderr = os.Stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		in, err := cmd.StdinPipe()
		if err != nil {
			s.close()
			return nil, err
		}
		out, err := cmd.StdoutPipe()
		if err != nil {
			s.close()
			return nil, err
		}
		if err := cmd.Start(); err != nil {
			s.close()
			return nil, err
		}
		s.ws = append(s.ws, &genWorker{cmd: cmd, in: in, out: bufio.NewReader(out), n: len(items)})
	}
	return s, nil
}

// workerArgs is the command line of one generator worker: the bench binary
// re-run on its work file, at rt.genNice through nice(1) when that is set
// (it execs the worker, so every thread the worker starts inherits the
// priority; setpriority would reach one thread only). The last argument
// names the process in messageCPU ("bench-worker").
func workerArgs(exe, file string, dialWorkers, rate, sourceBase int) []string {
	args := []string{exe, "-rt-worker", file,
		"-rt-dial-workers", strconv.Itoa(dialWorkers),
		"-rt-connect-rate", strconv.Itoa(rate),
		"-rt-source-addrs", strconv.Itoa(rt.sourceAddrs),
		"-rt-source-base", strconv.Itoa(sourceBase),
		"bench-worker"}
	if rt.genNice != 0 {
		args = append([]string{"nice", "-n", strconv.Itoa(rt.genNice)}, args...)
	}
	return args
}

// do sends cmd to every worker at once and reads each one's report.
func (s *workerSockets) do(cmd string) ([]workerReport, error) {
	for k, w := range s.ws {
		if _, err := io.WriteString(w.in, cmd+"\n"); err != nil {
			return nil, fmt.Errorf("worker %d: %w", k, err)
		}
	}
	reps := make([]workerReport, len(s.ws))
	errs := make([]error, len(s.ws))
	var wg sync.WaitGroup
	for k, w := range s.ws {
		wg.Add(1)
		go func() {
			defer wg.Done()
			line, err := w.out.ReadBytes('\n')
			if err != nil {
				errs[k] = fmt.Errorf("worker %d (pid %d) gave no report: %w", k, w.cmd.Process.Pid, err)
				return
			}
			reps[k], errs[k] = parseReport(line)
		}()
	}
	wg.Wait()
	return reps, errors.Join(errs...)
}

func (s *workerSockets) dial(ctx context.Context, what string) (int, error) {
	cpu0 := messageCPU(ctx, s.env)
	start := time.Now()
	reps, err := s.do("dial")
	if err != nil {
		return 0, err
	}
	r := stormResult{dur: time.Since(start)}
	for k, rep := range reps {
		r.errs += rep.Errors
		r.lateMax = max(r.lateMax, rep.Late)
		if rep.FirstError != "" && r.err == nil {
			r.err = fmt.Errorf("worker %d: %s", k, rep.FirstError)
		}
	}
	if rt.connectRate > 0 {
		printStorm(what, s.n, r, cpuPerRequest(cpu0, messageCPU(ctx, s.env), uint64(s.n)))
		return r.errs, nil
	}
	return 0, r.err
}

func (s *workerSockets) drop() { _, _ = s.do("drop") }

func (s *workerSockets) close() {
	for _, w := range s.ws {
		_, _ = io.WriteString(w.in, "quit\n")
		_ = w.in.Close()
	}
	for _, w := range s.ws {
		waitOrKill(w.cmd, 10*time.Second)
	}
	s.ws = nil
	_ = os.RemoveAll(s.dir)
}
